package rules

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// appExposition serves what an unhealthy app exposes after n scrapes: 10% of
// requests fail, 80% take over 0.5s, MongoDB is down for it, and its RSS is
// at 95% of the container limit the agent reports.
func appExposition(n int) string {
	return fmt.Sprintf(`# TYPE http_requests_total counter
http_requests_total{method="GET",route="/api/projects",status="200"} %[1]d
http_requests_total{method="GET",route="/api/projects",status="500"} %[2]d
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{method="GET",route="/api/projects",le="0.5"} %[3]d
http_request_duration_seconds_bucket{method="GET",route="/api/projects",le="2.5"} %[4]d
http_request_duration_seconds_bucket{method="GET",route="/api/projects",le="5"} %[5]d
http_request_duration_seconds_bucket{method="GET",route="/api/projects",le="+Inf"} %[5]d
http_request_duration_seconds_sum{method="GET",route="/api/projects"} %[6]d
http_request_duration_seconds_count{method="GET",route="/api/projects"} %[5]d
app_dependency_up{dependency="mongodb"} 0
app_dependency_up{dependency="redis"} 1
process_resident_memory_bytes 950
`, 9*n, n, 2*n, 4*n, 10*n, 30*n)
}

// agentExposition serves what an agent watching a sick world exposes on
// /metrics after n scrapes, in the shapes of docs/metrics.md: every target's
// series with its own job and instance (scraped with honor_labels), the
// self-metrics without (the scrape sets job="agent").
func agentExposition(n int) string {
	readonly := 0
	if n > 3 {
		readonly = 1 // remounted read-only after I/O errors
	}
	return fmt.Sprintf(`redis_up{job="redis",instance="cache-1:6379",env="prod"} 0
redis_memory_used_bytes{job="redis",instance="cache-1:6379",env="prod"} 950
redis_memory_max_bytes{job="redis",instance="cache-1:6379",env="prod"} 1000
redis_rejected_connections_total{job="redis",instance="cache-1:6379",env="prod"} %[1]d
redis_evicted_keys_total{job="redis",instance="cache-1:6379",env="prod"} %[1]d
mongodb_up{job="mongodb",instance="db-1:27017"} 0
mongodb_ss_connections{job="mongodb",instance="db-1:27017",conn_type="current"} 850
mongodb_ss_connections{job="mongodb",instance="db-1:27017",conn_type="available"} 150
mongodb_mongod_replset_member_health{job="mongodb",instance="db-1:27017",set="rs0",name="db-2:27017",state="(not reachable/healthy)",self="0"} 0
mongodb_mongod_replset_member_replication_lag{job="mongodb",instance="db-1:27017",set="rs0",name="db-2:27017",state="SECONDARY",self="0"} 45
probe_success{job="blackbox",instance="https://web.example.com/health"} 0
probe_ssl_earliest_cert_expiry{job="blackbox",instance="https://web.example.com/health"} %[2]d
container_memory_working_set_bytes{job="node",instance="node-1"} 950
container_spec_memory_limit_bytes{job="node",instance="node-1"} 1000
node_memory_MemAvailable_bytes{job="node",instance="node-1"} 50
node_memory_MemTotal_bytes{job="node",instance="node-1"} 1000
node_filesystem_avail_bytes{job="node",instance="node-1",device="/dev/sda1",fstype="ext4",mountpoint="/"} 50
node_filesystem_size_bytes{job="node",instance="node-1",device="/dev/sda1",fstype="ext4",mountpoint="/"} 1000
node_filesystem_files_free{job="node",instance="node-1",device="/dev/sda1",fstype="ext4",mountpoint="/"} 50
node_filesystem_files{job="node",instance="node-1",device="/dev/sda1",fstype="ext4",mountpoint="/"} 1000
node_filesystem_readonly{job="node",instance="node-1",device="/dev/sda1",fstype="ext4",mountpoint="/"} 0
node_filesystem_avail_bytes{job="node",instance="node-1",device="/dev/sdb1",fstype="xfs",mountpoint="/data"} %[3]d
node_filesystem_size_bytes{job="node",instance="node-1",device="/dev/sdb1",fstype="xfs",mountpoint="/data"} 100000
node_filesystem_readonly{job="node",instance="node-1",device="/dev/sdb1",fstype="xfs",mountpoint="/data"} 0
node_filesystem_readonly{job="node",instance="node-1",device="/dev/sdc1",fstype="xfs",mountpoint="/logs"} %[4]d
vigil_target_up{target="host",kind="host"} 0
vigil_probes_total{target="web",kind="http"} %[5]d
vigil_probe_failures_total{target="web",kind="http",reason="timeout"} %[1]d
vigil_config_last_reload_successful 0
vigil_notifications_sent_total{alertmanager="http://am:9093"} %[6]d
vigil_notifications_errors_total{alertmanager="http://am:9093"} %[1]d
vigil_notifications_dropped_total{alertmanager="http://am:9093"} %[1]d
prometheus_rule_evaluation_failures_total{rule_group="/etc/vigil/rules/app.yml;app"} %[1]d
`, n, time.Now().Add(7*24*time.Hour).Unix(), max(0, 39000-100*n), readonly, 2*n, 10*n)
}

func exposition(render func(int) string) *httptest.Server {
	var scrapes atomic.Int64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, render(int(scrapes.Add(1))))
	}))
}

// TestRulesInPrometheus loads the generated files into a real Prometheus
// scraping an app and an agent in trouble: every rule must evaluate without
// error, every alert must become pending or firing, and no annotation may
// render a missing label or a template error.
func TestRulesInPrometheus(t *testing.T) {
	t.Parallel()
	app, agent := exposition(appExposition), exposition(agentExposition)
	t.Cleanup(app.Close)
	t.Cleanup(agent.Close)
	dead := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t)) // nothing listens: up == 0
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 500ms
  evaluation_interval: 1s
rule_files: [rules/*.yml]
scrape_configs:
  - job_name: app
    static_configs: [{targets: [%q, %q]}]
  - job_name: agent
    honor_labels: true
    static_configs: [{targets: [%q, %q]}]
`, host(app), dead, host(agent), dead)
	files := map[string]string{}
	names, err := fs.Glob(Files, "files/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(Files, n)
		if err != nil {
			t.Fatal(err)
		}
		files["rules/"+path.Base(n)] = string(b)
	}
	prom := testserver.Prometheus(t, cfg, files)
	api := prom.API()
	ctx := t.Context()

	want := alertNames()
	var missing []string
	var active []promv1.Alert
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := api.Alerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		active = res.Alerts
		seen := map[string]bool{}
		for _, a := range active {
			seen[string(a.Labels["alertname"])] = true
		}
		missing = slices.DeleteFunc(slices.Clone(want), func(n string) bool { return seen[n] })
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("alerts never active in Prometheus: %v", missing)
	}
	for _, a := range active {
		for k, v := range a.Annotations {
			if s := string(v); strings.Contains(s, "<no value>") || strings.Contains(s, "error expanding template") || strings.Contains(s, "error executing template") || strings.Contains(s, "  ") {
				t.Errorf("alert %s: annotation %s renders badly: %q", a.Labels["alertname"], k, s)
			}
		}
	}

	rules, err := api.Rules(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	evaluated := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			switch r := r.(type) {
			case promv1.AlertingRule:
				evaluated++
				if r.Health != promv1.RuleHealthGood {
					t.Errorf("alert %s: health %s: %s", r.Name, r.Health, r.LastError)
				}
			case promv1.RecordingRule:
				evaluated++
				if r.Health != promv1.RuleHealthGood {
					t.Errorf("record %s: health %s: %s", r.Name, r.Health, r.LastError)
				}
			}
		}
	}
	total := 0
	for _, g := range Groups().Groups {
		total += len(g.Rules)
	}
	if evaluated != total {
		t.Errorf("Prometheus loaded %d rules, the files hold %d", evaluated, total)
	}
}
