package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// webhookAlert is one alert of an Alertmanager webhook payload.
type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// webhook is the receiver Alertmanager posts notifications to.
type webhook struct {
	URL string
	mu  sync.Mutex
	got []webhookAlert
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []webhookAlert `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			t.Errorf("webhook: decoding notification: %v", err)
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.got = append(w.got, msg.Alerts...)
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL
	return w
}

// wait returns the first received alert matching ok, failing after timeout.
func (w *webhook) wait(t *testing.T, timeout time.Duration, what string, ok func(webhookAlert) bool) webhookAlert {
	t.Helper()
	var found webhookAlert
	eventually(t, timeout, what, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, a := range w.got {
			if ok(a) {
				found = a
				return true
			}
		}
		return false
	})
	return found
}

// amConfig routes every alert to the webhook at once and reports resolves.
func amConfig(webhookURL string) string {
	return fmt.Sprintf(`route:
  receiver: hook
  group_by: ['...']
  group_wait: 50ms
  group_interval: 100ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: true
`, webhookURL)
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// app is an httptest exposition endpoint whose body the test changes.
type app struct {
	*httptest.Server
	body atomic.Pointer[string]
}

func newApp(t *testing.T, body string) *app {
	t.Helper()
	a := &app{}
	a.set(body)
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, *a.body.Load())
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *app) set(body string) { a.body.Store(&body) }

func (a *app) metricsURL() string { return a.URL + "/api/metrics" }

func (a *app) host() string { return strings.TrimPrefix(a.URL, "http://") }

// writeRules writes a rule file into dir and returns its path.
func writeRules(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", p, err)
	}
	return p
}

// testConfig is a fast configuration: 100ms scrapes and evaluations.
func testConfig(ruleFiles []string, scrapeURLs []string, amURLs ...string) *config.Config {
	cfg := &config.Config{
		RuleFiles:           ruleFiles,
		DisableDefaultRules: true,
	}
	cfg.Global.Interval = config.Duration(100 * time.Millisecond)
	cfg.Global.Timeout = config.Duration(100 * time.Millisecond)
	cfg.Global.EvaluationInterval = config.Duration(100 * time.Millisecond)
	cfg.Global.ExternalLabels = map[string]string{"cluster": "test"}
	cfg.Global.ExternalURL = "http://agent.example:9100"
	cfg.Alerting.ResendDelay = config.Duration(200 * time.Millisecond)
	if len(scrapeURLs) > 0 {
		sc, err := config.StaticScrapeConfig("app", scrapeURLs, map[string]string{"env": "test"})
		if err != nil {
			panic(err) // the tests' own URLs
		}
		cfg.ScrapeConfigs = []config.ScrapeConfig{sc}
	}
	for _, u := range amURLs {
		cfg.Alerting.Alertmanagers = append(cfg.Alerting.Alertmanagers, config.AlertmanagerConfig{URL: u, Timeout: config.Duration(time.Second)})
	}
	return cfg
}

// running is an Engine started by startEngine.
type running struct {
	*Engine
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

// startEngine builds, configures and runs an Engine on storage dir; it is
// closed at the end of the test unless the test stops it first.
func startEngine(t *testing.T, dir string, cfg *config.Config, tweak func(*Options)) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := Options{Registerer: reg, Gatherer: reg, SelfInstance: "agent-test:9100", StoragePath: dir, ForGracePeriod: time.Second,
		ScrapeReloadInterval: 100 * time.Millisecond}
	if tweak != nil {
		tweak(&o)
	}
	e, err := New(t.Context(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := e.ApplyConfig(cfg); err != nil {
		_ = e.Close()
		t.Fatalf("ApplyConfig: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Engine: e, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends Run and closes the engine; it is idempotent.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// metricValue sums the samples of a counter or gauge family matching the
// given label values.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, match map[string]string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range match {
				if have[k] != v {
					continue metrics
				}
			}
			sum += metricOf(f.GetType(), m)
		}
	}
	return sum
}

func metricOf(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

func cfgDuration(d time.Duration) config.Duration { return config.Duration(d) }

// newHangingServer answers no request until release is called or the test
// ends; then it answers 200 with an empty body.
func newHangingServer(t *testing.T) (srv *httptest.Server, release func()) {
	t.Helper()
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ch:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(release)
	return srv, release
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
