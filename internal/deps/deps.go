package deps

import (
	_ "github.com/FerretDB/FerretDB/ferretdb"
	_ "github.com/compose-spec/compose-go/v2/loader"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "github.com/prometheus/alertmanager/api/v2/client"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/exporter-toolkit/web"
	_ "github.com/prometheus/prometheus/model/rulefmt"
	_ "github.com/prometheus/prometheus/promql"
	_ "github.com/prometheus/prometheus/rules"
	_ "github.com/prometheus/prometheus/tsdb"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/shirou/gopsutil/v4/mem"
	_ "go.mongodb.org/mongo-driver/v2/mongo"
	_ "golang.org/x/crypto/bcrypt"
	_ "gopkg.in/yaml.v3"
	_ "k8s.io/api/apps/v1"
)
