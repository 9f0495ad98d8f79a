package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// parseExposition parses a text exposition into samples keyed by their
// series (name and sorted labels), as Prometheus would ingest them.
func parseExposition(t *testing.T, body string) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing exposition: %v\n%s", err, body)
	}
	out := map[string]float64{}
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			ls := model.LabelSet{}
			for _, lp := range m.GetLabel() {
				ls[model.LabelName(lp.GetName())] = model.LabelValue(lp.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			out[name+ls.String()] = v
		}
	}
	return out
}

// TestSeriesIdentity probes a real Redis and an HTTP endpoint and checks
// how their series leave the agent: /metrics with each target's job and
// instance (honor_labels scraping), /probe?target= without them (the
// multi-target pattern), found by name or by instance.
func TestSeriesIdentity(t *testing.T) {
	rds := testserver.Redis(t)
	web := okServer(t)
	a := newTestAgent(t, yamlf(fmt.Sprintf(`
targets:
- {name: cache, kind: redis, interval: 100ms, timeout: 90ms, labels: {env: prod}, redis: {address: %q}}
- {name: web, kind: http, interval: 100ms, timeout: 90ms, http: {url: %q}}
- {name: web-again, kind: http, job: blackbox-2, interval: 100ms, timeout: 90ms, http: {url: %q}}
`, "redis://"+rds.Addr, web.URL, web.URL)), nil)
	waitFor(t, 10*time.Second, "every target probed", func() bool {
		return a.target(t, "cache").Probes > 0 && a.target(t, "web").Probes > 0 && a.target(t, "web-again").Probes > 0
	})
	h := a.Handler()

	code, body := get(t, h, http.MethodGet, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	got := parseExposition(t, body)
	for _, want := range []string{
		fmt.Sprintf(`redis_up{env="prod", instance=%q, job="redis"}`, rds.Addr),
		fmt.Sprintf(`probe_success{instance=%q, job="blackbox"}`, web.URL),
		fmt.Sprintf(`probe_success{instance=%q, job="blackbox-2"}`, web.URL),
		`vigil_target_up{kind="redis", target="cache"}`,
	} {
		if v, ok := got[want]; !ok || v != 1 {
			t.Errorf("/metrics: %s = %v (present %v), want 1", want, v, ok)
		}
	}
	for series := range got {
		if (strings.HasPrefix(series, "redis_") || strings.HasPrefix(series, "probe_")) &&
			(strings.Contains(series, "target=") || strings.Contains(series, "kind=") || !strings.Contains(series, "instance=")) {
			t.Errorf("/metrics: %s lacks the target's identity or carries target/kind", series)
		}
	}
	if _, ok := got[fmt.Sprintf(`redis_up{env="prod", instance=%q, job="redis", kind="redis", target="cache"}`, rds.Addr)]; ok {
		t.Error("old identity still served")
	}

	tests := []struct {
		query    string
		code     int
		want     string // a series the body must have, or a phrase of the JSON error
		wantNone string // a series the body must not have
	}{
		{"?target=cache", 200, `redis_up{env="prod"}`, "probe_success"},
		{"?target=" + rds.Addr, 200, `redis_up{env="prod"}`, ""},
		{"?target=web", 200, `probe_success{}`, "redis_up"},
		{"?target=nope", 404, `no target named \"nope\"`, ""},
		{"", 400, "target parameter is missing", ""},
		{"?target=" + web.URL, 400, `targets \"web\" (job \"blackbox\"), \"web-again\" (job \"blackbox-2\")`, ""},
	}
	for _, tt := range tests {
		code, body := get(t, h, http.MethodGet, "/probe"+tt.query)
		if code != tt.code {
			t.Errorf("/probe%s = %d, want %d: %s", tt.query, code, tt.code, body)
			continue
		}
		if code != http.StatusOK {
			var e map[string]string
			if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(body, tt.want) {
				t.Errorf("/probe%s: body %s, want a JSON error with %s", tt.query, body, tt.want)
			}
			continue
		}
		got := parseExposition(t, body)
		if v, ok := got[tt.want]; !ok || v != 1 {
			t.Errorf("/probe%s: %s = %v (present %v), want 1; body:\n%s", tt.query, tt.want, v, ok, body)
		}
		for series := range got {
			if strings.Contains(series, "job=") || strings.Contains(series, "instance=") || strings.Contains(series, "target=") ||
				strings.HasPrefix(series, "vigil_") || (tt.wantNone != "" && strings.HasPrefix(series, tt.wantNone)) {
				t.Errorf("/probe%s serves %s", tt.query, series)
			}
		}
	}
}

// recordingWriter is a ProbeWriter that keeps what it is given.
type recordingWriter struct {
	mu      sync.Mutex
	writes  []string // target@identity
	forgets []string
	last    map[string][]*dto.MetricFamily
}

func (w *recordingWriter) WriteProbe(_ context.Context, target string, identity map[string]string, _ time.Time, _ time.Duration, fams []*dto.MetricFamily) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, target+"@"+identity["job"]+"/"+identity["instance"])
	if w.last == nil {
		w.last = map[string][]*dto.MetricFamily{}
	}
	w.last[target] = fams
}

func (w *recordingWriter) ForgetTarget(target string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgets = append(w.forgets, target)
}

func (w *recordingWriter) count(prefix string) (n int, forgot []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.writes {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n, append([]string(nil), w.forgets...)
}

// TestProbesReachTheWriter checks every probe is handed to the writer with
// the target's identity, and that a removed target is forgotten after its
// last write, never before it.
func TestProbesReachTheWriter(t *testing.T) {
	srv := okServer(t)
	w := &recordingWriter{}
	a := newTestAgent(t, httpTargets([3]string{"web", srv.URL, "50ms/40ms"}, [3]string{"gone", srv.URL + "/x", "50ms/40ms"}),
		func(o *Options) { o.Writer = w })
	waitFor(t, 5*time.Second, "three writes of each target", func() bool {
		n1, _ := w.count("web@blackbox/" + srv.URL)
		n2, _ := w.count("gone@blackbox/" + srv.URL + "/x")
		return n1 >= 3 && n2 >= 3
	})
	writeFile(t, a.file, httpTargets([3]string{"web", srv.URL, "50ms/40ms"}))
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	n, forgot := w.count("gone@")
	if len(forgot) != 1 || forgot[0] != "gone" {
		t.Fatalf("forgotten targets = %v, want [gone]", forgot)
	}
	time.Sleep(200 * time.Millisecond)
	if after, _ := w.count("gone@"); after != n {
		t.Errorf("%d writes of a removed target after it was forgotten", after-n)
	}
	if n, _ := w.count("web@"); n < 4 {
		t.Errorf("the remaining target stopped being written: %d writes", n)
	}
}
