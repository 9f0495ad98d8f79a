package dashboards_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/alerts"
	"github.com/vigil-sh/vigil/dashboards"
	"github.com/vigil-sh/vigil/internal/agent"
	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/app/api"
	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/cache"
	"github.com/vigil-sh/vigil/internal/app/health"
	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/app/store"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// noDataOnFerretDB lists the panels that stay empty against the embedded
// FerretDB the tests use, and why. Against MongoDB they have data. The
// test fails when one of them does get data, so the list stays honest.
var noDataOnFerretDB = map[string]string{
	"vigil-mongodb/Connections used vs available": "FerretDB's serverStatus has no connections section",
	"vigil-mongodb/Connection usage":              "FerretDB's serverStatus has no connections section",
	"vigil-mongodb/Operations by type":            "FerretDB's serverStatus has no opcounters",
	"vigil-mongodb/Replication lag":               "FerretDB has no replica sets",
	"vigil-mongodb/Resident memory":               "FerretDB's serverStatus has no mem section",
}

// faultShows lists panels that must show the test's traffic and induced
// faults, not merely have data: query refId and a check of the lowest and
// highest value over the run.
var faultShows = []struct {
	panel, refID, want string
	ok                 func(lo, hi float64) bool
}{
	{"vigil-redis/Redis up", "A", "drops to 0 while Redis is stopped", func(lo, _ float64) bool { return lo == 0 }},
	{"vigil-redis/App's Redis", "A", "drops to 0 while Redis is stopped", func(lo, _ float64) bool { return lo == 0 }},
	{"vigil-mongodb/MongoDB up", "A", "drops to 0 while MongoDB is stopped", func(lo, _ float64) bool { return lo == 0 }},
	{"vigil-mongodb/App's MongoDB", "A", "drops to 0 while MongoDB is stopped", func(lo, _ float64) bool { return lo == 0 }},
	{"vigil-service/Error Rate", "A", "rises above 0 during the MongoDB outage", func(_, hi float64) bool { return hi > 0 }},
	{"vigil-service/Request Rate", "A", "counts the traffic", func(_, hi float64) bool { return hi > 1 }},
	{"vigil-redis/Hit ratio", "B", "shows cache hits", func(_, hi float64) bool { return hi > 0 }},
	{"vigil-alerts/Firing alerts", "A", "counts the always-firing Watchdog", func(_, hi float64) bool { return hi >= 1 }},
	{"vigil-alerts/Notifications sent", "A", "shows the agent's delivery of the Redis outage alert", func(_, hi float64) bool { return hi > 0 }},
}

// TestLiveDashboards runs every query of every panel against a real
// Prometheus scraping a running app (job app) and agent (job agent), after
// traffic and induced faults (MongoDB and Redis outages), and fails naming
// each panel that shows no data. The variables are resolved as Grafana
// does: their own label_values queries, all values selected.
func TestLiveDashboards(t *testing.T) {
	logs := &testserver.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
	// The driver monitors log slow commands to the default logger.
	prev := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(prev) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- app and agent errors ---\n%s", logs.Tail(12000))
		}
	})

	redisSrv := testserver.Redis(t)
	mongoSrv := testserver.Mongo(t)
	rdb := redis.NewClient(&redis.Options{Addr: redisSrv.Addr, Password: redisSrv.Password, DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	// Production sets maxmemory; the memory-ratio panels need it.
	if err := rdb.ConfigSet(t.Context(), "maxmemory", "64mb").Err(); err != nil {
		t.Fatalf("CONFIG SET maxmemory on %s: %v", redisSrv.Addr, err)
	}

	app := startApp(t, logger, mongoSrv, rdb)
	amURL := startAlertmanager(t)
	tlsSite := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "vigil live test endpoint\n")
	}))
	t.Cleanup(tlsSite.Close)
	agentURL := startAgent(t, logger, fmt.Sprintf(`
global:
  interval: 1s
  timeout: 900ms
  evaluation_interval: 1s
targets:
  - name: redis
    kind: redis
    redis: {address: %q}
  - name: mongodb
    kind: mongodb
    mongodb: {uri: %q}
  - name: host
    kind: host
    host: {cgroup_path: %q}
  - name: app
    kind: http
    http:
      url: %q
      fail_if_body_not_matches_regexp: ['"status"']
  - name: tls-site
    kind: http
    http:
      url: %q
      tls: {insecure_skip_verify: true}
scrape_configs:
  - job_name: app
    metrics_path: /api/metrics
    static_configs: [{targets: [%q]}]
rule_files: [%q]
alerting:
  alertmanagers:
    - url: %q
`, redisSrv.Addr, mongoSrv.URI, containerCgroup(t), app.URL+"/api/health", tlsSite.URL, strings.TrimPrefix(app.URL, "http://"), faultRule(t), amURL))

	// Prometheus loads the rules the stack loads (SLO recording rules,
	// alerts for ALERTS), scraping as docker-compose's does, every second:
	// the agent with honor_labels, so every target's series keep their own
	// job and instance (redis, mongodb, node, blackbox).
	ruleFiles := map[string]string{}
	ymls, err := filepath.Glob("../rules/files/*.yml")
	if err != nil || len(ymls) == 0 {
		t.Fatalf("no rule files under rules/files (%v)", err)
	}
	for _, f := range ymls {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ruleFiles["rules/"+filepath.Base(f)] = string(raw)
	}
	prom := testserver.Prometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: [rules/*.yml]
scrape_configs:
  - job_name: app
    metrics_path: /api/metrics
    static_configs: [{targets: [%q]}]
  - job_name: agent
    honor_labels: true
    static_configs: [{targets: [%q]}]
`, hostPort(t, app.URL), hostPort(t, agentURL)), ruleFiles)

	start := time.Now()
	waitForQuery(t, prom, `up{job="app"} == 1 and on () up{job="agent"} == 1`, 30*time.Second)

	// Traffic, then the faults: MongoDB down (5xx, failed commands), Redis
	// down (redis_up 0, cache errors), each brought back.
	tr := newTraffic(t, app.URL)
	tr.run(t, 6*time.Second)
	mongoSrv.Stop()
	tr.run(t, 3*time.Second)
	mongoSrv.Start()
	redisSrv.Stop()
	tr.run(t, 3*time.Second)
	redisSrv.Start()
	tr.run(t, 5*time.Second)
	if tr.status[5] == 0 || tr.status[2] == 0 || tr.status[4] == 0 {
		t.Fatalf("traffic answered by status class %v; want 2xx, 4xx and 5xx", tr.status)
	}
	// Let Prometheus scrape the last of it and evaluate the rules.
	time.Sleep(3 * time.Second)
	end := time.Now()

	type extremes struct{ lo, hi float64 }
	seen := map[string]extremes{} // panel/refId → lowest and highest value
	for _, d := range dashboards.LoadCommitted(t) {
		vars := resolveVariables(t, prom, d, start, end)
		for _, p := range dashboards.PanelsOf(d) {
			key := d.UID + "/" + p.Title
			var empty []string
			for _, q := range p.Targets {
				expr := dashboards.Expand(q.Expr, vars)
				m, err := queryRange(t.Context(), prom, expr, start, end)
				if err != nil {
					t.Errorf("%s: query %s: %v", key, q.RefID, err)
					continue
				}
				lo, hi, n := math.Inf(1), math.Inf(-1), 0
				for _, series := range m {
					for _, v := range series.Values {
						n++
						if f := float64(v.Value); !math.IsNaN(f) {
							lo, hi = min(lo, f), max(hi, f)
						}
					}
				}
				if n == 0 {
					empty = append(empty, expr)
				}
				seen[key+"/"+q.RefID] = extremes{lo, hi}
			}
			reason, excepted := noDataOnFerretDB[key]
			switch {
			case excepted && len(empty) < len(p.Targets):
				t.Errorf("%s has data although it is listed as empty on FerretDB (%s): remove it from noDataOnFerretDB", key, reason)
			case excepted:
				t.Logf("%s: no data, as expected (%s)", key, reason)
			case len(empty) > 0:
				t.Errorf("panel %q of %s shows no data; empty queries:\n  %s", p.Title, d.UID, strings.Join(empty, "\n  "))
			}
		}
	}
	for _, f := range faultShows {
		e, ok := seen[f.panel+"/"+f.refID]
		if !ok {
			t.Errorf("%s has no query %s; update faultShows", f.panel, f.refID)
			continue
		}
		if !f.ok(e.lo, e.hi) {
			t.Errorf("%s (query %s) ranged over [%g, %g]; want it to show that it %s", f.panel, f.refID, e.lo, e.hi, f.want)
		}
	}
}

// resolveVariables evaluates the dashboard's $job and $instance queries in
// order, as Grafana does, and selects "All": the variable's allValue when it
// has one, else the alternation of its values.
func resolveVariables(t *testing.T, prom *testserver.PrometheusServer, d dashboards.Committed, start, end time.Time) map[string]string {
	t.Helper()
	vars := map[string]string{"__rate_interval": "4s"} // 4 × the 1s scrape interval, as Grafana computes it
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Fatalf("%s: variable $%s has query %v; want label_values(selector, label)", d.UID, v.Name, v.Query)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		values, _, _, err := prom.API().LabelValues(ctx, m[2], []string{dashboards.Expand(m[1], vars)}, start, end)
		cancel()
		if err != nil {
			t.Fatalf("%s: variable $%s: %v", d.UID, v.Name, err)
		}
		if len(values) == 0 {
			t.Fatalf("%s: variable $%s (%s) has no values", d.UID, v.Name, dashboards.Expand(q, vars))
		}
		if v.AllValue != nil {
			vars[v.Name] = *v.AllValue
			continue
		}
		var alts []string
		for _, val := range values {
			// Escaped for the regex, then for the PromQL string it sits in.
			alts = append(alts, strings.ReplaceAll(regexp.QuoteMeta(string(val)), `\`, `\\`))
		}
		// Grafana's regex format of a multi-value selection.
		vars[v.Name] = "(" + strings.Join(alts, "|") + ")"
	}
	return vars
}

// queryRange runs a range query over the test's window, one step a second.
func queryRange(ctx context.Context, prom *testserver.PrometheusServer, expr string, start, end time.Time) (model.Matrix, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, _, _, err := prom.API().QueryRange(ctx, expr, promv1.Range{Start: start, End: end, Step: time.Second})
	if err != nil {
		return nil, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("got a %s, want a matrix", v.Type())
	}
	return m, nil
}

func waitForQuery(t *testing.T, prom *testserver.PrometheusServer, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		vec, err := prom.Query(t.Context(), expr)
		if err == nil && len(vec) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no result within %s (last error: %v)", expr, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func hostPort(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// startApp serves the app's API as cmd/app wires it: FerretDB store with the
// driver monitors, Redis cache, health checks feeding app_dependency_up.
func startApp(t *testing.T, logger *slog.Logger, mongoSrv *testserver.MongoServer, rdb *redis.Client) *httptest.Server {
	t.Helper()
	// A low slow-operation threshold, so the slow-operations panel has data.
	metrics := httpmetrics.New(2 * time.Millisecond)
	cm, pm := metrics.MongoMonitors()
	st, err := store.Open(store.Options{
		URI: mongoSrv.URI, Database: "vigil", MaxPoolSize: 10,
		Timeout: 2 * time.Second, ServerSelectionTimeout: 500 * time.Millisecond,
		CommandMonitor: cm, PoolMonitor: pm,
	})
	if err != nil {
		t.Fatalf("opening the store on %s: %v", mongoSrv.Addr, err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatalf("creating indexes: %v", err)
	}
	hasher, err := auth.NewHasher(4)
	if err != nil {
		t.Fatal(err)
	}
	c := cache.NewRedis(rdb, metrics)
	checker := &health.Checker{
		Version: "live-test", Started: time.Now(), Up: metrics.DependencyUp, Deadline: 800 * time.Millisecond, Logger: logger,
		Checks: []health.Check{
			{Name: "mongodb", Probe: st.Ping, Critical: true},
			{Name: "redis", Probe: c.Ping},
		},
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { defer close(watched); checker.Watch(watchCtx, time.Second) }()
	t.Cleanup(func() { stopWatch(); <-watched })
	srv := httptest.NewServer(api.NewServer(api.Deps{
		Store:   st,
		Tokens:  auth.NewTokens(strings.Repeat("a", 32), strings.Repeat("r", 32), 15*time.Minute, time.Hour),
		Hasher:  hasher,
		Metrics: metrics,
		Logger:  logger,
		Health:  checker,
		Cache:   c,
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startAgent runs the agent as cmd/agent wires it (probes, alerting engine
// with its TSDB, rules and Alertmanager queue) and serves its endpoints.
func startAgent(t *testing.T, logger *slog.Logger, cfgYAML string) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.yml")
	if err := os.WriteFile(file, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	ctx, cancel := context.WithCancel(context.Background())
	reg := agent.NewRegistry()
	engine, err := alerts.New(ctx, alerts.Options{
		Logger: logger.With("component", "alerts"), Registerer: reg, Gatherer: reg,
		SelfInstance: srv.Listener.Addr().String(), StoragePath: filepath.Join(dir, "data"),
	})
	if err != nil {
		cancel()
		t.Fatalf("creating the alerting engine: %v", err)
	}
	a, err := agent.New(ctx, agent.Options{
		Logger: logger, Registry: reg, ConfigFile: file, StoragePath: filepath.Join(dir, "data"),
		CheckConfig: alerts.CheckConfig, Rules: ruleEngine{engine}, Writer: engine,
	})
	if err != nil {
		cancel()
		t.Fatalf("creating the agent: %v", err)
	}
	cfg, err := a.LoadConfig()
	if err != nil {
		cancel()
		t.Fatalf("agent configuration: %v", err)
	}
	if err := a.ApplyConfig(ctx, cfg); err != nil {
		cancel()
		t.Fatalf("applying the agent configuration: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("alerting engine: %v", err)
		}
		_ = a.Close()
		_ = engine.Close()
	})
	return srv.URL
}

// ruleEngine adapts *alerts.Engine to agent.RuleEngine, as cmd/agent does.
type ruleEngine struct{ e *alerts.Engine }

func (r ruleEngine) ApplyConfig(cfg *config.Config) error { return r.e.ApplyConfig(cfg) }
func (r ruleEngine) Register(mux *http.ServeMux)          { r.e.Register(mux) }
func (r ruleEngine) Alerts() []agent.Alert {
	var out []agent.Alert
	for _, a := range r.e.Alerts() {
		out = append(out, agent.Alert{Name: a.Name, State: a.State, Value: a.Value, Labels: a.Labels, ActiveAt: a.ActiveAt})
	}
	return out
}

// faultRule writes a rule file alerting at once on the induced Redis
// outage: the shipped RedisDown waits a minute, and the notification panels
// need a delivery while Prometheus watches (the always-firing Watchdog is
// sent before the first scrape and then only every resend delay).
func faultRule(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "live.rules.yml")
	rules := `groups:
  - name: live-test
    rules:
      - alert: LiveTestRedisDown
        expr: redis_up == 0
        labels: {severity: warning}
        annotations: {summary: Redis is down during the live dashboard test}
`
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// containerCgroup writes a cgroup v2 directory with a memory limit for the
// host probe's container metrics: test machines run on cgroup v1 or without
// a limit, and the container panels need one. The files are the kernel's.
func containerCgroup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"cgroup.controllers": "cpuset cpu io memory pids\n",
		"memory.max":         "268435456\n",
		"memory.current":     "120000000\n",
		"memory.stat":        "anon 90000000\nfile 30000000\ninactive_file 10000000\nactive_file 20000000\n",
		"memory.events":      "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startAlertmanager runs Debian's prometheus-alertmanager on loopback with a
// receiver that drops everything: the agent's queue needs a real peer.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		t.Fatalf("prometheus-alertmanager not found (apt-get install prometheus-alertmanager): %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route: {receiver: drop}\nreceivers: [{name: drop}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(t)))
	out := &testserver.LogBuffer{}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	u := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("alertmanager exited:\n%s", out.Tail(4000))
		default:
		}
		if code, err := get(t.Context(), u+"/-/ready"); err == nil && code == http.StatusOK {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager on %s not ready within 20s:\n%s", addr, out.Tail(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(ctx context.Context, u string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// traffic drives the app's API like a user: sign up, create projects and
// tasks, read them (cache misses, then hits), and stray into unknown paths.
type traffic struct {
	base   string
	client *http.Client
	token  string
	ids    []string
	status [6]int // answers by status class
	n      int
}

func newTraffic(t *testing.T, base string) *traffic {
	t.Helper()
	tr := &traffic{base: base, client: &http.Client{Timeout: 5 * time.Second}}
	code, body := tr.do(t, http.MethodPost, "/api/auth/register", map[string]string{
		"organization": "Live", "name": "Live Admin", "email": "admin@live.test", "password": "correct horse battery",
	})
	if code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, body)
	}
	var s struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(body, &s); err != nil || s.AccessToken == "" {
		t.Fatalf("register answered %s: no access token (%v)", body, err)
	}
	tr.token = s.AccessToken
	return tr
}

func (tr *traffic) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, tr.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tr.token != "" {
		req.Header.Set("Authorization", "Bearer "+tr.token)
	}
	resp, err := tr.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if c := resp.StatusCode / 100; c < len(tr.status) {
		tr.status[c]++
	}
	return resp.StatusCode, b
}

// run sends a round of requests every 100ms for d.
func (tr *traffic) run(t *testing.T, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		tr.n++
		if code, body := tr.do(t, http.MethodPost, "/api/projects", map[string]string{"name": "project " + strconv.Itoa(tr.n)}); code == http.StatusCreated {
			var p struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(body, &p) == nil && p.ID != "" {
				tr.ids = append(tr.ids, p.ID)
				tr.do(t, http.MethodPost, "/api/projects/"+p.ID+"/tasks", map[string]string{"title": "task " + strconv.Itoa(tr.n)})
			}
		}
		if len(tr.ids) > 0 {
			id := tr.ids[tr.n%len(tr.ids)]
			tr.do(t, http.MethodGet, "/api/projects/"+id, nil)
			tr.do(t, http.MethodGet, "/api/projects/"+id, nil)
		}
		tr.do(t, http.MethodGet, "/api/projects", nil)
		tr.do(t, http.MethodGet, "/api/no-such-route", nil)
		tr.do(t, http.MethodGet, "/api/projects/000000000000000000000000", nil)
	}
}
