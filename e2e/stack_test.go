package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// stackOptions shorten what production runs at minutes to what a test can wait for.
type stackOptions struct {
	replicas   int           // app replicas, each with its sidecar agent
	interval   time.Duration // probe, scrape and evaluation interval
	ruleFor    time.Duration // every rule's `for`, scaled down
	prometheus bool          // also run the central Prometheus
}

type instance struct {
	name string
	port string
	url  string
	proc *proc
}

type stack struct {
	t       *testing.T
	redis   *testserver.RedisServer
	mongo   *testserver.MongoServer
	am      *testserver.AlertmanagerServer
	hook    *webhook
	apps    []*instance
	agents  []*instance
	prom    *testserver.PrometheusServer
	rules   string // directory of the test's copy of rules/files
	secrets map[string]string
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	appBin, agentBin := binaries(t)
	s := &stack{t: t, hook: newWebhook(t)}
	s.secrets = map[string]string{
		"redis":   "e2e-redis-pw-" + strings.Repeat("r", 8),
		"jwt":     "e2e-jwt-secret-" + strings.Repeat("j", 32),
		"refresh": "e2e-refresh-secret-" + strings.Repeat("f", 32),
	}
	s.redis = testserver.Redis(t, testserver.WithPassword(s.secrets["redis"]))
	s.mongo = testserver.Mongo(t)
	s.am = testserver.Alertmanager(t, s.alertmanagerConfig(o))
	s.rules = s.ruleCopies(o.ruleFor)
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "redis_password", []byte(s.secrets["redis"]))

	for i := 1; i <= o.replicas; i++ {
		app := &instance{name: fmt.Sprintf("app%d", i), port: port(t)}
		app.url = "http://127.0.0.1:" + app.port
		app.proc = startProc(t, app.name, appBin, nil, []string{
			"PORT=" + app.port,
			"APP_ENV=production",
			"MONGODB_URI=" + s.mongo.URI + "vigil",
			"REDIS_URL=redis://:" + s.secrets["redis"] + "@" + s.redis.Addr + "/0",
			"JWT_SECRET=" + s.secrets["jwt"],
			"JWT_REFRESH_SECRET=" + s.secrets["refresh"],
			"LOG_LEVEL=debug",
			"RATE_LIMIT_API=100000",
			"RATE_LIMIT_AUTH=100000",
		})
		s.apps = append(s.apps, app)

		agent := &instance{name: fmt.Sprintf("agent%d", i), port: port(t)}
		agent.url = "http://127.0.0.1:" + agent.port
		storage := filepath.Join(dir, agent.name+"-data")
		cfg := s.agentConfig(o, app, pwFile, storage)
		cfgPath := writeFile(t, dir, agent.name+".yml", []byte(cfg))
		agent.proc = startProc(t, agent.name, agentBin, []string{
			"--config.file=" + cfgPath,
			"--config.expand-env", // as compose and Kubernetes run it
			"--web.listen-address=127.0.0.1:" + agent.port,
			"--storage.path=" + storage,
			"--log.level=debug",
			// Restore a pending alert's `for` even when it is shorter than
			// Prometheus's default grace period, as the test's `for`s are.
			"--rules.alert.for-grace-period=1s",
		}, nil)
		s.agents = append(s.agents, agent)
	}
	for _, in := range append(append([]*instance{}, s.apps...), s.agents...) {
		health := in.url + "/api/health"
		if strings.HasPrefix(in.name, "agent") {
			health = in.url + "/-/ready"
		}
		waitFor(t, in.name+" ready", 60*time.Second, func() error {
			code, body, err := httpGet(t.Context(), health)
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("status %d: %s", code, body)
			}
			return nil
		})
	}
	if o.prometheus {
		s.prom = testserver.Prometheus(t, s.prometheusConfig(o), nil)
	}
	return s
}

// ruleCopies writes the shipped rule files with every `for` scaled down to
// d; expressions, labels and annotations stay as shipped.
func (s *stack) ruleCopies(d time.Duration) string {
	dir := s.t.TempDir()
	files, _ := filepath.Glob(filepath.Join(repoRoot, "rules/files/*.yml"))
	if len(files) == 0 {
		s.t.Fatal("no rule files under rules/files")
	}
	forLine := regexp.MustCompile(`(?m)^(\s+for:\s*)\S+\s*$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			s.t.Fatal(err)
		}
		b = forLine.ReplaceAll(b, []byte("${1}"+model.Duration(d).String()))
		writeFile(s.t, dir, filepath.Base(f), b)
	}
	return dir
}

func (s *stack) agentConfig(o stackOptions, app *instance, pwFile, storage string) string {
	src := string(readRepo(s.t, "deploy/agent/agent.yml"))
	iv := model.Duration(o.interval).String()
	cfg := replaceAll(src,
		"http://localhost:8080", app.url,
		"targets: [localhost:8080]", "targets: [127.0.0.1:"+app.port+"]", // the app's scrape
		"mongodb://mongo:27017/?replicaSet=rs0", s.mongo.URI,
		"redis:6379", s.redis.Addr,
		"/run/secrets/redis_password", pwFile,
		"http://alertmanager:9093", s.am.URL,
		"/var/lib/vigil", storage,
		"interval: 15s", "interval: "+iv,
		"timeout: 5s", "timeout: "+model.Duration(o.interval*8/10).String(),
	)
	if cfg == src {
		s.t.Fatal("deploy/agent/agent.yml changed shape: the e2e rewrite matched nothing")
	}
	return cfg + fmt.Sprintf("\ndisable_default_rules: true\nrule_files:\n  - %s/*.yml\n", s.rules)
}

func (s *stack) prometheusConfig(o stackOptions) string {
	var apps, agents []string
	for i := range s.apps {
		apps = append(apps, fmt.Sprintf("%q", "127.0.0.1:"+s.apps[i].port))
		agents = append(agents, fmt.Sprintf("%q", "127.0.0.1:"+s.agents[i].port))
	}
	src := string(readRepo(s.t, "deploy/prometheus/prometheus.yml"))
	iv := model.Duration(o.interval).String()
	return replaceAll(src,
		`["app1:8080", "app2:8080"]`, "["+strings.Join(apps, ", ")+"]",
		`["app1:9465", "app2:9465"]`, "["+strings.Join(agents, ", ")+"]",
		"/etc/prometheus/rules/*.yml", s.rules+"/*.yml",
		`"alertmanager:9093"`, fmt.Sprintf("%q", strings.TrimPrefix(s.am.URL, "http://")),
		"scrape_interval: 15s", "scrape_interval: "+iv,
		"evaluation_interval: 15s", "evaluation_interval: "+iv,
	)
}

// alertmanagerConfig is deploy/alertmanager.yml with every receiver's
// webhook pointed at the test and the grouping waits shortened.
func (s *stack) alertmanagerConfig(o stackOptions) string {
	src := string(readRepo(s.t, "deploy/alertmanager.yml"))
	url := regexp.MustCompile(`(?m)^(\s*-?\s*url:\s*)['"]?http://[^\s'"]+['"]?\s*$`)
	cfg := url.ReplaceAllString(src, "${1}'"+s.hook.URL+"'")
	cfg = regexp.MustCompile(`(?m)^(\s*group_wait:\s*)\S+`).ReplaceAllString(cfg, "${1}1s")
	cfg = regexp.MustCompile(`(?m)^(\s*group_interval:\s*)\S+`).ReplaceAllString(cfg, "${1}1s")
	cfg = regexp.MustCompile(`(?m)^(\s*repeat_interval:\s*)\S+`).ReplaceAllString(cfg, "${1}1h")
	return cfg
}

// query runs an instant query against the central Prometheus.
func (s *stack) query(ctx context.Context, expr string) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.prom.Query(ctx, expr)
}

// amAlerts lists the alerts Alertmanager holds with the given name.
func (s *stack) amAlerts(ctx context.Context, name string) ([]map[string]any, error) {
	code, body, err := httpGet(ctx, s.am.URL+"/api/v2/alerts?filter=alertname%3D%22"+name+"%22")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("alertmanager: status %d: %s", code, body)
	}
	var alerts []map[string]any
	return alerts, json.Unmarshal(body, &alerts)
}

// webhook is the on-call end of the pipeline: Alertmanager posts here.
type webhook struct {
	URL string
	mu  sync.Mutex
	got []webhookMessage
}

type webhookMessage struct {
	Received time.Time
	Status   string `json:"status"`
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
	} `json:"alerts"`
}

func newWebhook(t testing.TB) *webhook {
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m webhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		m.Received = time.Now()
		w.mu.Lock()
		w.got = append(w.got, m)
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL + "/"
	return w
}

// find returns when an alert with the name, status and matching labels first arrived.
func (w *webhook) find(name, status string, labels map[string]string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.got {
	alerts:
		for _, a := range m.Alerts {
			if a.Labels["alertname"] != name || a.Status != status {
				continue
			}
			for k, v := range labels {
				if a.Labels[k] != v {
					continue alerts
				}
			}
			return m.Received, true
		}
	}
	return time.Time{}, false
}

func (w *webhook) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, m := range w.got {
		for _, a := range m.Alerts {
			fmt.Fprintf(&b, "%s %s %v\n", a.Status, a.Labels["alertname"], a.Labels)
		}
	}
	return b.String()
}
