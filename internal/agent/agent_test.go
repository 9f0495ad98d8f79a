package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-sh/vigil/collectors"
	"github.com/vigil-sh/vigil/internal/agent/config"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func httpTargets(targets ...[3]string) string { // name, url, interval/timeout
	var b strings.Builder
	b.WriteString("targets:\n")
	for _, t := range targets {
		iv, to, _ := strings.Cut(t[2], "/")
		fmt.Fprintf(&b, "- name: %s\n  kind: http\n  interval: %s\n  timeout: %s\n  http: {url: %q}\n", t[0], iv, to, t[1])
	}
	return b.String()
}

func TestReloadBadFileKeepsOldConfig(t *testing.T) {
	srv := okServer(t)
	a := newTestAgent(t, httpTargets([3]string{"web", srv.URL, "50ms/40ms"}), nil)
	h := a.Handler()
	if v, _ := metricValue(t, a.Agent, "vigil_config_last_reload_successful", nil); v != 1 {
		t.Fatalf("vigil_config_last_reload_successful = %v after a good load, want 1", v)
	}
	firstTS, _ := metricValue(t, a.Agent, "vigil_config_last_reload_success_timestamp_seconds", nil)
	waitFor(t, 5*time.Second, "web probed", func() bool { return a.target(t, "web").Probes >= 1 })

	writeFile(t, a.file, "targets:\n- name: web\n  kind: http\n  http: {url: 'ht!tp://'}\n")
	code, body := get(t, h, http.MethodPost, "/-/reload")
	if code != http.StatusInternalServerError || !strings.Contains(body, "targets[0].http.url (line 4)") {
		t.Errorf("POST /-/reload with a bad file = %d %q, want 500 naming targets[0].http.url (line 4)", code, body)
	}
	if v, _ := metricValue(t, a.Agent, "vigil_config_last_reload_successful", nil); v != 0 {
		t.Errorf("vigil_config_last_reload_successful = %v after a bad reload, want 0", v)
	}
	if !strings.Contains(a.logs.String(), "reloading configuration failed") {
		t.Errorf("bad reload not logged:\n%s", a.logs)
	}
	// The old target keeps running.
	before := a.target(t, "web").Probes
	waitFor(t, 5*time.Second, "web still probed after the bad reload", func() bool { return a.target(t, "web").Probes > before })
	if got := a.Config().Targets[0].HTTP.URL; got != srv.URL {
		t.Errorf("config in force has url %q, want the old %q", got, srv.URL)
	}

	// JSON error for JSON clients.
	req := httptest.NewRequest(http.MethodPost, "/-/reload", nil)
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var jerr struct{ Status, Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &jerr); err != nil || jerr.Status != "error" || !strings.Contains(jerr.Error, "line 4") {
		t.Errorf("JSON reload error = %q (%v)", rec.Body.String(), err)
	}

	time.Sleep(10 * time.Millisecond) // the timestamp must visibly move
	writeFile(t, a.file, httpTargets([3]string{"web", srv.URL, "50ms/40ms"}, [3]string{"web2", srv.URL + "/2", "50ms/40ms"}))
	if code, body := get(t, h, http.MethodPost, "/-/reload"); code != http.StatusOK {
		t.Fatalf("POST /-/reload with a good file = %d %q", code, body)
	}
	if v, _ := metricValue(t, a.Agent, "vigil_config_last_reload_successful", nil); v != 1 {
		t.Errorf("vigil_config_last_reload_successful = %v after a good reload, want 1", v)
	}
	if ts, _ := metricValue(t, a.Agent, "vigil_config_last_reload_success_timestamp_seconds", nil); ts <= firstTS {
		t.Errorf("reload timestamp %v did not advance past %v", ts, firstTS)
	}
	waitFor(t, 5*time.Second, "web2 probed", func() bool { return a.target(t, "web2").Probes >= 1 })
}

func TestReloadMethodNotAllowed(t *testing.T) {
	a := newTestAgent(t, "targets: []\n", nil)
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(m, "/-/reload", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
			t.Errorf("%s /-/reload = %d (Allow %q), want 405 Allow POST", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

// countingProbers wraps collectors.New and counts probers built per target.
type countingProbers struct {
	mu    sync.Mutex
	built map[string]int
}

func (c *countingProbers) new(t config.Target, l *slog.Logger) (collectors.Prober, error) {
	c.mu.Lock()
	c.built[t.Name]++
	c.mu.Unlock()
	return collectors.New(t, l)
}

func (c *countingProbers) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.built[name]
}

func TestReloadKeepsUnchangedTargets(t *testing.T) {
	srv := okServer(t)
	cp := &countingProbers{built: map[string]int{}}
	a := newTestAgent(t, httpTargets(
		[3]string{"keep", srv.URL + "/keep", "30ms/20ms"},
		[3]string{"change", srv.URL + "/change", "30ms/20ms"},
		[3]string{"drop", srv.URL + "/drop", "30ms/20ms"},
	), func(o *Options) { o.NewProber = cp.new })
	waitFor(t, 5*time.Second, "every target probed twice", func() bool {
		for _, ts := range a.Targets() {
			if ts.Probes < 2 {
				return false
			}
		}
		return true
	})
	keepRunner := a.runners["keep"]
	changeRunner := a.runners["change"]
	keepBefore := a.target(t, "keep").Probes

	writeFile(t, a.file, httpTargets(
		[3]string{"keep", srv.URL + "/keep", "30ms/20ms"},
		[3]string{"change", srv.URL + "/change", "30ms/25ms"},
		[3]string{"new", srv.URL + "/new", "30ms/20ms"},
	))
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}

	a.mu.RLock()
	sameKeep, sameChange := a.runners["keep"] == keepRunner, a.runners["change"] == changeRunner
	a.mu.RUnlock()
	if !sameKeep {
		t.Error("unchanged target got a new probe loop")
	}
	if sameChange {
		t.Error("changed target kept its old probe loop")
	}
	if n := cp.count("keep"); n != 1 {
		t.Errorf("unchanged target's prober built %d times, want 1", n)
	}
	if n := cp.count("change"); n != 2 {
		t.Errorf("changed target's prober built %d times, want 2", n)
	}
	if got := a.target(t, "keep").Probes; got < keepBefore {
		t.Errorf("unchanged target's probe count went from %d to %d: results lost", keepBefore, got)
	}
	waitFor(t, 5*time.Second, "keep's count continuing", func() bool { return a.target(t, "keep").Probes > keepBefore })
	if v, _ := metricValue(t, a.Agent, "vigil_probes_total", map[string]string{"target": "keep"}); v <= float64(keepBefore) {
		t.Errorf("vigil_probes_total{target=keep} = %v, want it to continue past %d", v, keepBefore)
	}

	// The removed target is gone from every output.
	_, metrics := get(t, a.Handler(), http.MethodGet, "/metrics")
	if strings.Contains(metrics, `target="drop"`) {
		t.Errorf("removed target still in /metrics:\n%s", grepLines(metrics, `target="drop"`))
	}
	for _, ts := range a.Targets() {
		if ts.Name == "drop" {
			t.Error("removed target still listed")
		}
	}
	waitFor(t, 5*time.Second, "new target probed", func() bool { return a.target(t, "new").Probes >= 1 })
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHungTargetDelaysNothing(t *testing.T) {
	srv := okServer(t)
	hung := testserver.Silent(t)
	a := newTestAgent(t, httpTargets(
		[3]string{"hung", "http://" + hung + "/", "3s/1s"},
		[3]string{"fast", srv.URL, "50ms/40ms"},
	), nil)
	h := a.Handler()

	// Wait until the hung probe is in flight (the listener has a
	// connection), then measure while it hangs.
	start := time.Now()
	waitFor(t, 5*time.Second, "fast probed", func() bool { return a.target(t, "fast").Probes >= 1 })
	fastBefore := a.target(t, "fast").Probes
	var worst time.Duration
	for range 20 {
		t0 := time.Now()
		code, _ := get(t, h, http.MethodGet, "/metrics")
		if d := time.Since(t0); d > worst {
			worst = d
		}
		if code != http.StatusOK {
			t.Fatalf("/metrics = %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if worst > 500*time.Millisecond {
		t.Errorf("slowest /metrics took %s with a hung target, want well under the hung target's 1s timeout", worst)
	}
	elapsed := time.Since(start)
	if got, floor := a.target(t, "fast").Probes-fastBefore, uint64(elapsed/(50*time.Millisecond))/4; got < floor {
		t.Errorf("fast target probed %d times in %s beside a hung one, want at least %d", got, elapsed, floor)
	}
	waitFor(t, 6*time.Second, "hung target timing out", func() bool { return a.target(t, "hung").Health == healthDown })
	ts := a.target(t, "hung")
	if ts.Reason != collectors.ReasonTimeout {
		t.Errorf("hung target reason %q, want %q (err %q)", ts.Reason, collectors.ReasonTimeout, ts.LastError)
	}
	if d := ts.LastDurationSeconds; d < 0.9 || d > 2 {
		t.Errorf("hung target probe took %.2fs, want about its 1s timeout", d)
	}
}

func TestSelfMetricsLint(t *testing.T) {
	srv := okServer(t)
	// web's timeout is generous: under -race on a loaded machine a 40ms
	// timeout would fail a healthy probe now and then.
	a := newTestAgent(t, httpTargets([3]string{"web", srv.URL, "300ms/250ms"}, [3]string{"down", "http://127.0.0.1:1/", "50ms/40ms"}), nil)
	waitFor(t, 5*time.Second, "both probed", func() bool {
		return a.target(t, "web").Probes > 0 && a.target(t, "down").Probes > 0
	})
	self := []string{
		"vigil_probes_total", "vigil_probe_failures_total", "vigil_probe_duration_seconds", "vigil_probe_last_duration_seconds",
		"vigil_config_last_reload_successful", "vigil_config_last_reload_success_timestamp_seconds", "vigil_build_info",
	}
	problems, err := testutil.GatherAndLint(a.Registry(), self...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if n, err := testutil.GatherAndCount(a.Registry(), self...); err != nil || n < len(self) {
		t.Errorf("found %d self-metric series (%v), want at least %d", n, err, len(self))
	}
	if v, ok := metricValue(t, a.Agent, "vigil_probe_failures_total", map[string]string{"target": "down", "kind": "http", "reason": "connect"}); !ok || v < 1 {
		t.Errorf("vigil_probe_failures_total{target=down,reason=connect} = %v (present %v), want >= 1", v, ok)
	}
	// Every reason starts at zero, so rate() sees a target's first failure.
	for reason := range knownReasons {
		if v, ok := metricValue(t, a.Agent, "vigil_probe_failures_total", map[string]string{"target": "web", "reason": reason}); !ok || v != 0 {
			t.Errorf("vigil_probe_failures_total{target=web,reason=%s} = %v (present %v), want 0", reason, v, ok)
		}
	}
	if v, ok := metricValue(t, a.Agent, "vigil_target_up", map[string]string{"target": "web", "kind": "http"}); !ok || v != 1 {
		t.Errorf("vigil_target_up{target=web} = %v (present %v), want 1", v, ok)
	}
	if v, ok := metricValue(t, a.Agent, "vigil_target_up", map[string]string{"target": "down", "kind": "http"}); !ok || v != 0 {
		t.Errorf("vigil_target_up{target=down} = %v (present %v), want 0", v, ok)
	}
	// The target's series carry the exporter's identity, not the agent's.
	if v, ok := metricValue(t, a.Agent, "probe_success", map[string]string{"job": "blackbox", "instance": srv.URL}); !ok || v != 1 {
		t.Errorf("probe_success{job=blackbox,instance=%s} = %v (present %v), want 1", srv.URL, v, ok)
	}
}

func TestHealthyAndReady(t *testing.T) {
	a, err := New(t.Context(), Options{Logger: slog.New(slog.DiscardHandler), ConfigFile: "/nonexistent/agent.yml"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	h := a.Handler()
	tests := []struct {
		path string
		want int
	}{
		{"/-/healthy", http.StatusOK},
		{"/-/ready", http.StatusServiceUnavailable},
		{"/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		if code, _ := get(t, h, http.MethodGet, tt.path); code != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, code, tt.want)
		}
	}
	if err := a.Reload(t.Context()); err == nil {
		t.Fatal("Reload of a missing file succeeded")
	}
	if code, _ := get(t, h, http.MethodGet, "/-/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("ready after a failed first load: %d", code)
	}
	cfg, err := config.Parse([]byte("targets: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ApplyConfig(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, h, http.MethodGet, "/-/ready"); code != http.StatusOK {
		t.Errorf("GET /-/ready after ApplyConfig = %d, want 200", code)
	}
}

// fakeProber is a prober whose behaviour a test scripts; it honours ctx.
type fakeProber struct {
	probes atomic.Int64
	block  bool // wait for ctx to end, as a hung target does
	panics bool
}

func (p *fakeProber) Probe(ctx context.Context) collectors.Result {
	p.probes.Add(1)
	if p.panics {
		panic("boom")
	}
	if p.block {
		<-ctx.Done()
		return collectors.Result{Reason: collectors.ReasonTimeout, Err: ctx.Err()}
	}
	return collectors.Result{Success: true}
}

func (p *fakeProber) Close() error { return nil }

func TestScheduleWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		probers := map[string]*fakeProber{"a": {}, "b": {}, "hung": {block: true}, "panicky": {panics: true}}
		a, err := New(context.Background(), Options{
			Logger: slog.New(slog.DiscardHandler),
			NewProber: func(t config.Target, _ *slog.Logger) (collectors.Prober, error) {
				return probers[t.Name], nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse([]byte(yamlf(`
global: {interval: 10s, timeout: 4s}
targets:
- {name: a, kind: tcp, tcp: {address: "h:1"}}
- {name: b, kind: tcp, interval: 1m, tcp: {address: "h:2"}}
- {name: hung, kind: tcp, tcp: {address: "h:3"}}
- {name: panicky, kind: tcp, tcp: {address: "h:4"}}
`)))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.ApplyConfig(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		// The first probe comes within one interval (random jitter), then
		// one per interval.
		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		if n := probers["a"].probes.Load(); n != 1 {
			t.Errorf("a probed %d times in its first interval, want 1", n)
		}
		time.Sleep(50 * time.Second)
		synctest.Wait()
		if n := probers["a"].probes.Load(); n != 6 {
			t.Errorf("a probed %d times in 6 intervals, want 6", n)
		}
		if n := probers["b"].probes.Load(); n != 1 {
			t.Errorf("b (interval 1m) probed %d times in its first minute, want 1", n)
		}
		// The hung probe ended at its timeout, as a failure, every interval.
		st := targetByName(a.Targets(), "hung")
		if st.Probes != 5 && st.Probes != 6 {
			t.Errorf("hung target recorded %d probes in 6 intervals, want 5 or 6", st.Probes)
		}
		if st.Health != healthDown || st.Reason != collectors.ReasonTimeout || st.LastDurationSeconds != 4 {
			t.Errorf("hung target = %+v, want down, timeout after exactly 4s", st)
		}
		if p := targetByName(a.Targets(), "panicky"); p.Health != healthDown || p.Reason != reasonPanic {
			t.Errorf("panicking prober = %+v, want down with reason panic", p)
		}
		if h := targetByName(a.Targets(), "a").History; len(h) != 6 {
			t.Errorf("history holds %d probes, want 6", len(h))
		}
		time.Sleep(10 * time.Minute)
		if h := targetByName(a.Targets(), "a").History; len(h) != 10 {
			t.Errorf("history holds %d probes after an hour, want the last 10", len(h))
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func targetByName(list []TargetStatus, name string) TargetStatus {
	for _, t := range list {
		if t.Name == name {
			return t
		}
	}
	return TargetStatus{}
}

// rejectingRules fails ApplyConfig for configurations with more than max targets.
type rejectingRules struct{ max int }

func (r rejectingRules) ApplyConfig(cfg *config.Config) error {
	if len(cfg.Targets) > r.max {
		return fmt.Errorf("engine rejects %d targets", len(cfg.Targets))
	}
	return nil
}
func (rejectingRules) Alerts() []Alert { return nil }

func TestReloadRejectedBeforeSwap(t *testing.T) {
	srv := okServer(t)
	oldCfg := httpTargets([3]string{"old", srv.URL, "50ms/40ms"})
	newCfg := httpTargets([3]string{"old", srv.URL, "50ms/40ms"}, [3]string{"new", srv.URL + "/new", "50ms/40ms"})
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{"rule check fails", func(o *Options) {
			o.CheckConfig = func(c *config.Config) error {
				if len(c.Targets) > 1 {
					return fmt.Errorf("rules.yml: group g: rule r: bad expr")
				}
				return nil
			}
		}, "rules.yml: group g"},
		{"engine rejects", func(o *Options) { o.Rules = rejectingRules{max: 1} }, "engine rejects 2 targets"},
		{"prober cannot be built", func(o *Options) {
			o.NewProber = func(tg config.Target, l *slog.Logger) (collectors.Prober, error) {
				if tg.Name == "new" {
					return nil, fmt.Errorf("cannot read password file")
				}
				return collectors.New(tg, l)
			}
		}, `target "new" (http): cannot read password file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAgent(t, oldCfg, tt.mod)
			waitFor(t, 5*time.Second, "old probed", func() bool { return a.target(t, "old").Probes > 0 })
			writeFile(t, a.file, newCfg)
			err := a.Reload(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Reload = %v, want an error containing %q", err, tt.wantErr)
			}
			if v, _ := metricValue(t, a.Agent, "vigil_config_last_reload_successful", nil); v != 0 {
				t.Errorf("vigil_config_last_reload_successful = %v, want 0", v)
			}
			if got := len(a.Targets()); got != 1 {
				t.Errorf("%d targets after a rejected reload, want the old 1", got)
			}
			before := a.target(t, "old").Probes
			waitFor(t, 5*time.Second, "old still probing", func() bool { return a.target(t, "old").Probes > before })
		})
	}
}
