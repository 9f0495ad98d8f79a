package alerts

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-sh/vigil/internal/testserver"
)

const queueRules = `groups:
  - name: queue
    rules:
      - alert: QueueDeep
        expr: app_queue_depth > 3
        for: 500ms
        labels:
          severity: page
        annotations:
          summary: 'depth {{ $value }} on {{ $labels.instance }}'
`

// TestAlertFiresAndResolvesThroughAlertmanager drives the whole path:
// scrape → TSDB → rule → Alertmanager → webhook, then the resolve.
func TestAlertFiresAndResolvesThroughAlertmanager(t *testing.T) {
	hook := newWebhook(t)
	am := testserver.Alertmanager(t, amConfig(hook.URL))
	target := newApp(t, "app_queue_depth 5\n")
	rulesPath := writeRules(t, t.TempDir(), "queue.yml", queueRules)
	e := startEngine(t, t.TempDir(), testConfig([]string{rulesPath}, []string{target.metricsURL()}, am.URL), nil)

	firing := hook.wait(t, 20*time.Second, "firing QueueDeep", func(a webhookAlert) bool {
		return a.Labels["alertname"] == "QueueDeep" && a.Status == "firing"
	})
	wantLabels := map[string]string{
		"alertname": "QueueDeep", "severity": "page", "job": "app", "env": "test",
		"instance": target.host(), "cluster": "test",
	}
	for k, v := range wantLabels {
		if firing.Labels[k] != v {
			t.Errorf("firing alert label %s = %q, want %q (labels %v)", k, firing.Labels[k], v, firing.Labels)
		}
	}
	if got, want := firing.Annotations["summary"], "depth 5 on "+target.host(); got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if want := "http://agent.example:9100/graph?g0.expr="; !strings.HasPrefix(firing.GeneratorURL, want) {
		t.Errorf("generatorURL = %q, want prefix %q", firing.GeneratorURL, want)
	}
	if got := e.Alerts(); len(got) != 1 || got[0].State != "firing" || got[0].Value != 5 {
		t.Errorf("Alerts() = %+v, want one firing QueueDeep with value 5", got)
	}

	target.set("app_queue_depth 1\n")
	resolved := hook.wait(t, 20*time.Second, "resolved QueueDeep", func(a webhookAlert) bool {
		return a.Labels["alertname"] == "QueueDeep" && a.Status == "resolved"
	})
	if !resolved.EndsAt.After(firing.StartsAt) {
		t.Errorf("resolved endsAt %v not after startsAt %v", resolved.EndsAt, firing.StartsAt)
	}
	if n := metricValue(t, e.reg, "vigil_notifications_sent_total", map[string]string{"alertmanager": strings.TrimPrefix(am.URL, "http://")}); n < 2 {
		t.Errorf("vigil_notifications_sent_total = %v, want ≥ 2 (firing and resolved)", n)
	}
}

// TestAlertDeliveredAfterAlertmanagerOutage stops Alertmanager while the
// alert fires; the queue retries until it is back.
func TestAlertDeliveredAfterAlertmanagerOutage(t *testing.T) {
	hook := newWebhook(t)
	am := testserver.Alertmanager(t, amConfig(hook.URL))
	am.Stop()
	target := newApp(t, "app_queue_depth 9\n")
	rulesPath := writeRules(t, t.TempDir(), "queue.yml", queueRules)
	cfg := testConfig([]string{rulesPath}, []string{target.metricsURL()}, am.URL)
	// Resends alone would also deliver it: make them rare so that only the
	// retry of the queued batch can.
	cfg.Alerting.ResendDelay = cfgDuration(time.Hour)
	e := startEngine(t, t.TempDir(), cfg, nil)

	name := strings.TrimPrefix(am.URL, "http://")
	eventually(t, 20*time.Second, "failed deliveries while Alertmanager is down", func() bool {
		return metricValue(t, e.reg, "vigil_notifications_errors_total", map[string]string{"alertmanager": name}) > 0
	})
	am.Start()
	hook.wait(t, 30*time.Second, "QueueDeep after the outage", func(a webhookAlert) bool {
		return a.Labels["alertname"] == "QueueDeep" && a.Status == "firing"
	})
}

// TestHungAlertmanagerFillsQueueWithoutBlockingEvaluation points the engine
// at an Alertmanager that never answers while 300 alerts are re-sent at
// every evaluation: the queue fills to its capacity, the overflow is counted
// as dropped, and evaluation keeps its interval.
func TestHungAlertmanagerFillsQueueWithoutBlockingEvaluation(t *testing.T) {
	const n = 300
	hung, release := newHangingServer(t)
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, "app_queue_depth{queue=\"q%d\"} 10\n", i)
	}
	target := newApp(t, body.String())
	// No annotations: templating 1000s of alerts under the race detector
	// would make evaluation itself slower than its interval.
	rulesPath := writeRules(t, t.TempDir(), "many.yml", `groups:
  - name: many
    rules:
      - alert: QueueDeep
        expr: app_queue_depth > 3
`)
	cfg := testConfig([]string{rulesPath}, []string{target.metricsURL()}, hung.URL)
	cfg.Alerting.Alertmanagers[0].Timeout = cfgDuration(time.Minute)
	cfg.Alerting.ResendDelay = cfgDuration(time.Millisecond) // every evaluation re-sends all of them
	e := startEngine(t, t.TempDir(), cfg, nil)
	t.Cleanup(release) // before the engine stops, so its drain is answered

	name := strings.TrimPrefix(hung.URL, "http://")
	eventually(t, 30*time.Second, "alerts dropped from a full queue", func() bool {
		return metricValue(t, e.reg, "vigil_notifications_dropped_total", map[string]string{"alertmanager": name}) > 0
	})
	if q := metricValue(t, e.reg, "vigil_notifications_queue_length", map[string]string{"alertmanager": name}); q != defaultQueueCapacity {
		t.Errorf("queue length = %v with a hung Alertmanager, want the capacity %d", q, defaultQueueCapacity)
	}
	iterations := func() float64 {
		return metricValue(t, e.reg, "prometheus_rule_group_iterations_total", nil)
	}
	before := iterations()
	time.Sleep(time.Second)
	if after := iterations(); after-before < 5 {
		t.Errorf("rule group ran %v times in 1s with a full queue, want ≥ 5 (interval 100ms)", after-before)
	}
	if s := metricValue(t, e.reg, "vigil_notifications_sent_total", map[string]string{"alertmanager": name}); s != 0 {
		t.Errorf("sent = %v to a hung Alertmanager, want 0", s)
	}
}

// TestPendingAlertSurvivesRestart closes the engine while an alert is
// pending and opens a new one on the same storage: ALERTS_FOR_STATE restores
// the pending time, so it fires `for` after it first went pending plus the
// outage (upstream semantics), not `for` after the restart.
func TestPendingAlertSurvivesRestart(t *testing.T) {
	const hold = 8 * time.Second
	rules := strings.Replace(queueRules, "for: 500ms", "for: 8s", 1)
	target := newApp(t, "app_queue_depth 5\n")
	rulesPath := writeRules(t, t.TempDir(), "queue.yml", rules)
	dir := t.TempDir()
	cfg := testConfig([]string{rulesPath}, []string{target.metricsURL()})

	first := startEngine(t, dir, cfg, nil)
	var activeAt time.Time
	eventually(t, 10*time.Second, "QueueDeep pending", func() bool {
		as := first.Alerts()
		if len(as) == 1 && as[0].State == "pending" {
			activeAt = as[0].ActiveAt
			return true
		}
		return false
	})
	// Let ALERTS_FOR_STATE be written a few times before the restart.
	time.Sleep(4 * time.Second)
	first.stop(t)
	restartAt := time.Now()

	// Same registry too: Close must have unregistered every metric the
	// TSDB, query engine and rules manager registered.
	second := startEngine(t, dir, cfg, func(o *Options) { o.Registerer, o.Gatherer = first.reg, first.reg })
	var firedAt time.Time
	eventually(t, 2*hold, "QueueDeep firing after restart", func() bool {
		as := second.Alerts()
		if len(as) == 1 && as[0].State == "firing" {
			firedAt = time.Now()
			return true
		}
		return false
	})
	// Restored: activeAt (second precision in ALERTS_FOR_STATE) shifted by
	// the short outage; not restored: activeAt would be after restartAt.
	as := second.Alerts()
	if !as[0].ActiveAt.Before(restartAt) {
		t.Errorf("activeAt after restart = %v, want before the restart at %v (original %v): for state not restored", as[0].ActiveAt, restartAt, activeAt)
	}
	if latest := restartAt.Add(hold - 2*time.Second); firedAt.After(latest) {
		t.Errorf("fired at %v, want before %v: the pending time was not kept", firedAt, latest)
	}
}

func TestNotificationMetricsLint(t *testing.T) {
	e := startEngine(t, t.TempDir(), testConfig(nil, nil, "http://127.0.0.1:1"), nil)
	m := e.notifiers.metrics
	for name, c := range map[string]prometheus.Collector{
		"sent": m.sent, "errors": m.errors, "dropped": m.dropped, "latency": m.latency,
		"queue_length": m.queueLen, "queue_capacity": m.queueCap, "discovered": m.discovered,
	} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range problems {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
	if got := testutil.ToFloat64(m.queueCap); got != defaultQueueCapacity {
		t.Errorf("queue capacity = %v, want %d", got, defaultQueueCapacity)
	}
	if got := testutil.ToFloat64(m.discovered); got != 1 {
		t.Errorf("alertmanagers discovered = %v, want 1", got)
	}
}

// TestEveryAlertmanagerReceivesEveryAlert configures two Alertmanagers.
func TestEveryAlertmanagerReceivesEveryAlert(t *testing.T) {
	hookA, hookB := newWebhook(t), newWebhook(t)
	amA := testserver.Alertmanager(t, amConfig(hookA.URL))
	amB := testserver.Alertmanager(t, amConfig(hookB.URL))
	target := newApp(t, "app_queue_depth 5\n")
	rulesPath := writeRules(t, t.TempDir(), "queue.yml", queueRules)
	startEngine(t, t.TempDir(), testConfig([]string{rulesPath}, []string{target.metricsURL()}, amA.URL, amB.URL), nil)
	for name, h := range map[string]*webhook{"A": hookA, "B": hookB} {
		h.wait(t, 20*time.Second, "QueueDeep at Alertmanager "+name, func(a webhookAlert) bool {
			return a.Labels["alertname"] == "QueueDeep" && a.Status == "firing"
		})
	}
}

// TestKeepFiringFor clears the condition of two alerts: the one with
// keep_firing_for stays firing that long, the other resolves at once.
func TestKeepFiringFor(t *testing.T) {
	rules := `groups:
  - name: sticky
    rules:
      - alert: Plain
        expr: app_queue_depth > 3
      - alert: Sticky
        expr: app_queue_depth > 3
        keep_firing_for: 1500ms
`
	target := newApp(t, "app_queue_depth 5\n")
	rulesPath := writeRules(t, t.TempDir(), "sticky.yml", rules)
	e := startEngine(t, t.TempDir(), testConfig([]string{rulesPath}, []string{target.metricsURL()}), nil)
	active := func() map[string]string {
		out := map[string]string{}
		for _, a := range e.Alerts() {
			out[a.Name] = a.State
		}
		return out
	}
	eventually(t, 10*time.Second, "both firing", func() bool {
		a := active()
		return a["Plain"] == "firing" && a["Sticky"] == "firing"
	})
	target.set("app_queue_depth 1\n")
	cleared := time.Now()
	eventually(t, 5*time.Second, "Plain resolved", func() bool { _, ok := active()["Plain"]; return !ok })
	if a := active(); a["Sticky"] != "firing" {
		t.Fatalf("Sticky = %q right after the condition cleared, want firing for keep_firing_for", a["Sticky"])
	}
	var d struct {
		Alerts []alertJSON `json:"alerts"`
	}
	apiGet(t, e, "/api/v1/alerts", &d)
	found := false
	for _, a := range d.Alerts {
		if a.Labels["alertname"] == "Sticky" && a.State == "firing" && a.KeepFiring != nil && !a.KeepFiring.Before(cleared.Add(-time.Second)) {
			found = true
		}
	}
	if !found {
		t.Errorf("/api/v1/alerts has no firing Sticky with keepFiringSince while it keeps firing: %+v", d.Alerts)
	}
	eventually(t, 10*time.Second, "Sticky resolved", func() bool { _, ok := active()["Sticky"]; return !ok })
	if held := time.Since(cleared); held < 1400*time.Millisecond {
		t.Errorf("Sticky resolved %v after the condition cleared, want ≥ keep_firing_for 1.5s", held)
	}
}

// TestReloadAddsAlertmanager adds an Alertmanager to a running engine whose
// alert already fires: the next resend reaches it.
func TestReloadAddsAlertmanager(t *testing.T) {
	hook := newWebhook(t)
	am := testserver.Alertmanager(t, amConfig(hook.URL))
	target := newApp(t, "app_queue_depth 5\n")
	rulesPath := writeRules(t, t.TempDir(), "queue.yml", queueRules)
	e := startEngine(t, t.TempDir(), testConfig([]string{rulesPath}, []string{target.metricsURL()}), nil)
	eventually(t, 10*time.Second, "QueueDeep firing", func() bool {
		as := e.Alerts()
		return len(as) == 1 && as[0].State == "firing"
	})
	if err := e.ApplyConfig(testConfig([]string{rulesPath}, []string{target.metricsURL()}, am.URL)); err != nil {
		t.Fatalf("ApplyConfig adding an Alertmanager: %v", err)
	}
	hook.wait(t, 20*time.Second, "QueueDeep at the added Alertmanager", func(a webhookAlert) bool {
		return a.Labels["alertname"] == "QueueDeep" && a.Status == "firing"
	})
}

func TestExternalURLPrecedence(t *testing.T) {
	cases := []struct {
		name      string
		cfgURL    string
		optURL    string
		want      string
		wantError bool
	}{
		{name: "config wins", cfgURL: "https://vigil.example/agent/", optURL: "http://opt:1", want: "https://vigil.example/agent"},
		{name: "option when config is empty", optURL: "http://opt:1", want: "http://opt:1"},
		{name: "self instance otherwise", want: "http://agent-test:9100"},
		{name: "relative rejected", cfgURL: "/agent", wantError: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(t.Context(), Options{SelfInstance: "agent-test:9100", ExternalURL: c.optURL})
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(nil, nil)
			cfg.Global.ExternalURL = c.cfgURL
			v, err := e.validate(cfg)
			if c.wantError {
				if err == nil || !strings.Contains(err.Error(), "global.external_url") {
					t.Fatalf("validate = %v, want a global.external_url error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.extURL != c.want {
				t.Errorf("external URL = %q, want %q", v.extURL, c.want)
			}
		})
	}
}

// TestAlertmanagerBehindAuthenticatingProxy reaches a real Alertmanager
// through a reverse proxy that requires basic auth under a path prefix, as
// in front of a shared Alertmanager.
func TestAlertmanagerBehindAuthenticatingProxy(t *testing.T) {
	hook := newWebhook(t)
	am := testserver.Alertmanager(t, amConfig(hook.URL))
	amURL, err := url.Parse(am.URL)
	if err != nil {
		t.Fatal(err)
	}
	var rejected atomic.Int32
	proxy := httptest.NewServer(http.StripPrefix("/am", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "vigil" || p != "s3cret" {
			rejected.Add(1)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		httputil.NewSingleHostReverseProxy(amURL).ServeHTTP(w, r)
	})))
	t.Cleanup(proxy.Close)

	target := newApp(t, "app_queue_depth 5\n")
	rulesPath := writeRules(t, t.TempDir(), "queue.yml", queueRules)
	cases := []struct {
		name, password string
		delivered      bool
	}{
		{"wrong password", "nope", false},
		{"right password", "s3cret", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig([]string{rulesPath}, []string{target.metricsURL()}, proxy.URL+"/am/")
			cfg.Alerting.Alertmanagers[0].Username = "vigil"
			cfg.Alerting.Alertmanagers[0].Password = c.password
			before := rejected.Load()
			e := startEngine(t, t.TempDir(), cfg, nil)
			name := strings.TrimPrefix(proxy.URL, "http://")
			if !c.delivered {
				eventually(t, 20*time.Second, "a rejected delivery", func() bool {
					return rejected.Load() > before && metricValue(t, e.reg, "vigil_notifications_errors_total", map[string]string{"alertmanager": name}) > 0
				})
				if s := metricValue(t, e.reg, "vigil_notifications_sent_total", map[string]string{"alertmanager": name}); s != 0 {
					t.Errorf("sent = %v with a wrong password", s)
				}
				e.stop(t)
				return
			}
			hook.wait(t, 20*time.Second, "QueueDeep through the proxy", func(a webhookAlert) bool {
				return a.Labels["alertname"] == "QueueDeep" && a.Status == "firing"
			})
		})
	}
}
