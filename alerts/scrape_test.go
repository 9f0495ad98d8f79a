package alerts

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/scrape"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// withScrapeYAML is a fast test configuration whose scrape_configs are
// parsed from YAML by the agent's loader, as a file would be: upstream's
// parser, defaults and validation.
func withScrapeYAML(t *testing.T, scrapeConfigs string) *config.Config {
	t.Helper()
	parsed, err := config.Parse([]byte("global: {interval: 100ms, timeout: 80ms}\nscrape_configs:\n" + scrapeConfigs))
	if err != nil {
		t.Fatalf("parsing scrape configs: %v", err)
	}
	cfg := testConfig(nil, nil)
	cfg.ScrapeConfigs = parsed.ScrapeConfigs
	return cfg
}

func upOf(t *testing.T, e *running, job, instance string) (float64, bool) {
	t.Helper()
	_, v, ok := lastSample(t, e, eq("__name__", "up"), eq("job", job), eq("instance", instance))
	return v, ok
}

// TestScrapeWritesUpAndStalenessMarkers checks the series Prometheus writes
// per scrape, and that a dying target leaves up=0 and stale series, and a
// removed target stale report series too.
func TestScrapeWritesUpAndStalenessMarkers(t *testing.T) {
	target := newApp(t, "# TYPE app_items gauge\napp_items{job=\"inner\"} 3\n")
	cfg := testConfig(nil, []string{target.metricsURL()})
	e := startEngine(t, t.TempDir(), cfg, nil)
	inst := target.host()

	eventually(t, 10*time.Second, "up{job=app} == 1", func() bool {
		v, ok := upOf(t, e, "app", inst)
		return ok && v == 1
	})
	checks := []struct {
		name string
		sel  []*labels.Matcher
		ok   func(float64) bool
	}{
		{"scraped sample keeps the target's job, the exposed one as exported_job", []*labels.Matcher{eq("__name__", "app_items"), eq("job", "app"), eq("exported_job", "inner"), eq("env", "test")}, func(v float64) bool { return v == 3 }},
		{"scrape_duration_seconds", []*labels.Matcher{eq("__name__", "scrape_duration_seconds"), eq("job", "app")}, func(v float64) bool { return v > 0 && v < 1 }},
		{"scrape_samples_scraped", []*labels.Matcher{eq("__name__", "scrape_samples_scraped"), eq("job", "app")}, func(v float64) bool { return v == 1 }},
		{"scrape_samples_post_metric_relabeling", []*labels.Matcher{eq("__name__", "scrape_samples_post_metric_relabeling"), eq("job", "app")}, func(v float64) bool { return v == 1 }},
		{"scrape_series_added, 0 once the series exist", []*labels.Matcher{eq("__name__", "scrape_series_added"), eq("job", "app")}, func(v float64) bool { return v == 0 }},
		{"self-scrape as job=agent", []*labels.Matcher{eq("__name__", "vigil_alertmanagers_discovered"), eq("job", "agent"), eq("instance", "agent-test:9100")}, func(v float64) bool { return v == 0 }},
		{"self-scrape up", []*labels.Matcher{eq("__name__", "up"), eq("job", "agent")}, func(v float64) bool { return v == 1 }},
		{"the scrape manager's own metrics reach the self-scrape", []*labels.Matcher{eq("__name__", "prometheus_target_scrape_pools_total"), eq("job", "agent")}, func(v float64) bool { return v >= 1 }},
	}
	for _, c := range checks {
		eventually(t, 10*time.Second, c.name, func() bool {
			_, v, ok := lastSample(t, e, c.sel...)
			return ok && c.ok(v)
		})
	}

	target.Close() // the target dies: up 0, its series stale
	eventually(t, 10*time.Second, "up{job=app} == 0", func() bool {
		v, ok := upOf(t, e, "app", inst)
		return ok && v == 0
	})
	_, v, _ := lastSample(t, e, eq("__name__", "app_items"))
	if !value.IsStaleNaN(v) {
		t.Errorf("app_items after the target died = %v, want a staleness marker", v)
	}

	// Removing the target from its job marks even its report series stale
	// (Prometheus waits two intervals first, in case the target comes back).
	// As in Prometheus, removing a whole job writes no markers: its series
	// end after the lookback.
	other := newApp(t, "app_items 4\n")
	if err := e.ApplyConfig(testConfig(nil, []string{other.metricsURL()})); err != nil {
		t.Fatalf("ApplyConfig with another target: %v", err)
	}
	for _, name := range reportNames {
		eventually(t, 10*time.Second, name+" stale after the target was removed", func() bool {
			_, v, _ := lastSample(t, e, eq("__name__", name), eq("job", "app"), eq("instance", inst))
			return value.IsStaleNaN(v)
		})
	}
}

// TestScrapeSlowTargetDoesNotDelayOthers scrapes a target that hangs past
// its timeout beside a healthy one.
func TestScrapeSlowTargetDoesNotDelayOthers(t *testing.T) {
	fast := newApp(t, "app_items 1\n")
	slowSrv, _ := newHangingServer(t)
	cfg := testConfig(nil, []string{fast.metricsURL(), slowSrv.URL + "/api/metrics"})
	e := startEngine(t, t.TempDir(), cfg, nil)

	eventually(t, 10*time.Second, "slow target up == 0 after its timeout", func() bool {
		v, ok := upOf(t, e, "app", strings.TrimPrefix(slowSrv.URL, "http://"))
		return ok && v == 0
	})
	// The fast target keeps its 100ms schedule meanwhile.
	t0, _, _ := lastSample(t, e, eq("__name__", "up"), eq("instance", fast.host()))
	time.Sleep(600 * time.Millisecond)
	t1, v, _ := lastSample(t, e, eq("__name__", "up"), eq("instance", fast.host()))
	if v != 1 || t1-t0 < 300 {
		t.Errorf("fast target: up=%v, advanced %dms in 600ms, want up=1 and ≥300ms of new samples", v, t1-t0)
	}
}

// TestScrapeAuthorization scrapes an endpoint that requires a bearer token,
// set with Prometheus's authorization block.
func TestScrapeAuthorization(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, "app_items 1")
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	cases := []struct {
		auth   string
		wantUp float64
	}{{"authorization: {credentials: t0ken}", 1}, {"", 0}, {"authorization: {credentials: wrong}", 0}}
	for _, c := range cases {
		t.Run(c.auth, func(t *testing.T) {
			cfg := withScrapeYAML(t, fmt.Sprintf("- job_name: app\n  %s\n  static_configs: [{targets: [%q]}]\n", c.auth, host))
			e := startEngine(t, t.TempDir(), cfg, nil)
			eventually(t, 10*time.Second, "a scrape", func() bool {
				_, ok := upOf(t, e, "app", host)
				return ok
			})
			if v, _ := upOf(t, e, "app", host); v != c.wantUp {
				t.Errorf("up = %v, want %v", v, c.wantUp)
			}
		})
	}
}

// TestScrapeOpenMetrics scrapes a target answering in OpenMetrics, which
// Prometheus's default scrape_protocols prefer over the text format.
func TestScrapeOpenMetrics(t *testing.T) {
	var accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Get("Accept")
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		fmt.Fprint(w, "# TYPE jobs counter\n# HELP jobs Jobs done.\njobs_total{kind=\"a\"} 7 # {trace_id=\"abc\"} 1.0\n# TYPE temp_celsius gauge\n# UNIT temp_celsius celsius\ntemp_celsius 21.5\n# EOF\n")
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := withScrapeYAML(t, fmt.Sprintf("- job_name: om\n  static_configs: [{targets: [%q]}]\n", host))
	e := startEngine(t, t.TempDir(), cfg, nil)
	eventually(t, 10*time.Second, "jobs_total and temp_celsius scraped", func() bool {
		_, c, okc := lastSample(t, e, eq("__name__", "jobs_total"), eq("kind", "a"), eq("job", "om"))
		_, g, okg := lastSample(t, e, eq("__name__", "temp_celsius"), eq("job", "om"))
		return okc && okg && c == 7 && g == 21.5
	})
	if v, _ := upOf(t, e, "om", host); v != 1 {
		t.Errorf("up = %v, want 1", v)
	}
	if !strings.Contains(accept, "application/openmetrics-text") {
		t.Errorf("Accept = %q, want OpenMetrics offered", accept)
	}
}

// TestScrapeFileSD adds and removes targets at run time through a file_sd
// file: the new target is scraped, the removed one's series end.
func TestScrapeFileSD(t *testing.T) {
	a := newApp(t, "app_items 1\n")
	b := newApp(t, "app_items 2\n")
	dir := t.TempDir()
	sdFile := filepath.Join(dir, "targets.json")
	writeSD := func(hosts ...string) {
		t.Helper()
		quoted := make([]string, len(hosts))
		for i, h := range hosts {
			quoted[i] = fmt.Sprintf("%q", h)
		}
		body := fmt.Sprintf(`[{"targets": [%s], "labels": {"team": "core"}}]`, strings.Join(quoted, ","))
		// Written aside and renamed, as a generator should, so the watcher
		// never reads half a file.
		tmp := sdFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, sdFile); err != nil {
			t.Fatal(err)
		}
	}
	writeSD(a.host())
	cfg := withScrapeYAML(t, fmt.Sprintf("- job_name: sd\n  metrics_path: /api/metrics\n  file_sd_configs: [{files: [%q]}]\n", filepath.Join(dir, "*.json")))
	e := startEngine(t, t.TempDir(), cfg, nil)

	eventually(t, 10*time.Second, "the file's target scraped with its labels", func() bool {
		_, v, ok := lastSample(t, e, eq("__name__", "app_items"), eq("job", "sd"), eq("instance", a.host()), eq("team", "core"))
		return ok && v == 1
	})
	writeSD(b.host()) // b added, a removed
	eventually(t, 10*time.Second, "the added target scraped", func() bool {
		v, ok := upOf(t, e, "sd", b.host())
		return ok && v == 1
	})
	eventually(t, 10*time.Second, "the removed target's series stale", func() bool {
		_, v, _ := lastSample(t, e, eq("__name__", "app_items"), eq("instance", a.host()))
		return value.IsStaleNaN(v)
	})
	active := e.ScrapeTargets().TargetsActive()["sd"]
	if len(active) != 1 || active[0].URL().Host != b.host() {
		t.Errorf("active targets of job sd = %v, want only %s", active, b.host())
	}
}

// TestScrapeRelabelling: relabel_configs shape the target, metric_relabel_configs
// the samples, honor_labels keeps what the target exposes.
func TestScrapeRelabelling(t *testing.T) {
	a := newApp(t, "# TYPE kept gauge\nkept{job=\"exposed\",instance=\"inner\"} 1\n# TYPE dropped gauge\ndropped 2\n")
	cfg := withScrapeYAML(t, fmt.Sprintf(`- job_name: relabel
  metrics_path: /api/metrics
  honor_labels: true
  static_configs: [{targets: [%q], labels: {tier: "1"}}]
  relabel_configs:
  - source_labels: [tier]
    target_label: tier
    replacement: gold-$1
  - target_label: zone
    replacement: eu
  metric_relabel_configs:
  - source_labels: [__name__]
    regex: dropped
    action: drop
`, a.host()))
	e := startEngine(t, t.TempDir(), cfg, nil)
	eventually(t, 10*time.Second, "kept with the exposed job and instance and the relabelled labels", func() bool {
		_, v, ok := lastSample(t, e, eq("__name__", "kept"), eq("job", "exposed"), eq("instance", "inner"), eq("tier", "gold-1"), eq("zone", "eu"))
		return ok && v == 1
	})
	if _, _, ok := lastSample(t, e, eq("__name__", "dropped")); ok {
		t.Error("metric_relabel_configs' drop rule kept the sample")
	}
	eventually(t, 10*time.Second, "samples post relabelling counted", func() bool {
		_, v, ok := lastSample(t, e, eq("__name__", "scrape_samples_post_metric_relabeling"), eq("job", "relabel"))
		return ok && v == 1
	})
}

// TestScrapeSampleLimit: a scrape over sample_limit fails whole, as in
// Prometheus: up 0, no sample stored, the scraped count still reported.
func TestScrapeSampleLimit(t *testing.T) {
	a := newApp(t, "a 1\nb 2\nc 3\n")
	cfg := withScrapeYAML(t, fmt.Sprintf("- job_name: limited\n  metrics_path: /api/metrics\n  sample_limit: 2\n  static_configs: [{targets: [%q]}]\n", a.host()))
	e := startEngine(t, t.TempDir(), cfg, nil)
	eventually(t, 10*time.Second, "up 0 and 3 samples scraped", func() bool {
		v, ok := upOf(t, e, "limited", a.host())
		_, n, okn := lastSample(t, e, eq("__name__", "scrape_samples_scraped"), eq("job", "limited"))
		return ok && v == 0 && okn && n == 3
	})
	if _, _, ok := lastSample(t, e, eq("__name__", "a"), eq("job", "limited")); ok {
		t.Error("a sample of the scrape over the limit was stored")
	}
	targets := e.ScrapeTargets().TargetsActive()["limited"]
	if len(targets) != 1 || targets[0].Health() != scrape.HealthBad || targets[0].LastError() == nil ||
		!strings.Contains(targets[0].LastError().Error(), "sample limit") {
		t.Errorf("target = %v, want down with a sample limit error", targets)
	}
}

// TestScrapeTargetsRetriever: the manager's targets are there while Run
// runs, with Prometheus's health; nil before, after, and on a nil Engine.
func TestScrapeTargetsRetriever(t *testing.T) {
	var nilEngine *Engine
	if nilEngine.ScrapeTargets() != nil {
		t.Error("nil Engine: ScrapeTargets not nil")
	}
	a := newApp(t, "x 1\n")
	reg := testConfig(nil, []string{a.metricsURL()})
	e, err := New(t.Context(), Options{StoragePath: t.TempDir(), ScrapeReloadInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if err := e.ApplyConfig(reg); err != nil {
		t.Fatal(err)
	}
	if e.ScrapeTargets() != nil {
		t.Error("before Run: ScrapeTargets not nil")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	eventually(t, 10*time.Second, "target app up in the retriever", func() bool {
		ts := e.ScrapeTargets()
		if ts == nil {
			return false
		}
		act := ts.TargetsActive()["app"]
		return len(act) == 1 && act[0].Health() == scrape.HealthGood && !act[0].LastScrape().IsZero()
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if e.ScrapeTargets() != nil {
		t.Error("after Run: ScrapeTargets not nil")
	}
}

// TestScrapeBadReloadKeepsLastGoodConfig: a scrape config that cannot be
// applied (a CA file that does not exist) is refused whole, and the
// targets of the previous one go on being scraped.
func TestScrapeBadReloadKeepsLastGoodConfig(t *testing.T) {
	a := newApp(t, "x 1\n")
	good := testConfig(nil, []string{a.metricsURL()})
	e := startEngine(t, t.TempDir(), good, nil)
	eventually(t, 10*time.Second, "up 1", func() bool {
		v, ok := upOf(t, e, "app", a.host())
		return ok && v == 1
	})
	bad := withScrapeYAML(t, "- job_name: other\n  scheme: https\n  tls_config: {ca_file: /nonexistent/ca.pem}\n  static_configs: [{targets: [\"127.0.0.1:1\"]}]\n")
	err := e.ApplyConfig(bad)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Fatalf("ApplyConfig with a missing CA file = %v, want an error naming it", err)
	}
	t0, _, _ := lastSample(t, e, eq("__name__", "up"), eq("instance", a.host()))
	eventually(t, 10*time.Second, "the old target still scraped", func() bool {
		t1, v, _ := lastSample(t, e, eq("__name__", "up"), eq("instance", a.host()))
		return t1 > t0 && v == 1
	})
	if _, ok := e.ScrapeTargets().TargetsActive()["other"]; ok {
		t.Error("the refused job's pool exists")
	}
}

// TestScrapeProtocolsNegotiated: scrape_protocols decides what the scrape
// offers, and body_size_limit (64MiB unless set) fails an oversized body.
func TestScrapeProtocolsNegotiated(t *testing.T) {
	var accept atomicString
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/text" {
			accept.set(r.Header.Get("Accept"))
		}
		fmt.Fprintln(w, "# TYPE big gauge")
		for i := range 50 {
			fmt.Fprintf(w, "big{i=\"%d\"} 1\n", i)
		}
	}))
	t.Cleanup(a.Close)
	host := strings.TrimPrefix(a.URL, "http://")
	cfg := withScrapeYAML(t, fmt.Sprintf(`- job_name: text
  metrics_path: /text
  scrape_protocols: [PrometheusText0.0.4]
  static_configs: [{targets: [%q]}]
- job_name: small
  body_size_limit: 100B
  static_configs: [{targets: [%q]}]
`, host, host))
	if got := cfg.ScrapeConfigs[0].BodySizeLimit; got != config.DefaultScrapeBodySizeLimit {
		t.Errorf("default body_size_limit = %d, want %d", got, config.DefaultScrapeBodySizeLimit)
	}
	e := startEngine(t, t.TempDir(), cfg, nil)
	eventually(t, 10*time.Second, "job text up, job small down for its body size", func() bool {
		up, ok := upOf(t, e, "text", host)
		small, oks := upOf(t, e, "small", host)
		return ok && up == 1 && oks && small == 0
	})
	for _, h := range strings.Split(accept.get(), ",") {
		if strings.Contains(h, "openmetrics") || strings.Contains(h, "protobuf") {
			t.Errorf("Accept %q offers %q; scrape_protocols allows the text format only", accept.get(), h)
		}
	}
}

type atomicString struct{ v atomic.Pointer[string] }

func (a *atomicString) set(s string) { a.v.Store(&s) }
func (a *atomicString) get() string {
	if p := a.v.Load(); p != nil {
		return *p
	}
	return ""
}
