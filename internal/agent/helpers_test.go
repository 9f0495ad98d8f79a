package agent

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// testAgent is an agent reading its configuration from a file the test rewrites.
type testAgent struct {
	*Agent
	file string
	logs *testserver.LogBuffer
}

func newTestAgent(t testing.TB, yaml string, mod func(*Options)) *testAgent {
	t.Helper()
	file := filepath.Join(t.TempDir(), "agent.yml")
	writeFile(t, file, yaml)
	logs := &testserver.LogBuffer{}
	o := Options{
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ConfigFile: file,
	}
	if mod != nil {
		mod(&o)
	}
	a, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.Reload(t.Context()); err != nil {
		t.Fatalf("loading the initial configuration: %v", err)
	}
	return &testAgent{Agent: a, file: file, logs: logs}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// target returns the named target's status, failing the test if it is absent.
func (a *testAgent) target(t testing.TB, name string) TargetStatus {
	t.Helper()
	for _, ts := range a.Targets() {
		if ts.Name == name {
			return ts
		}
	}
	t.Fatalf("target %q not found", name)
	return TargetStatus{}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// okServer is an HTTP target that answers 200 "ok".
func okServer(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// get fetches a URL of the agent's handler and returns status and body.
func get(t testing.TB, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

// gauge reads a gauge or counter without labels from the agent's registry.
func metricValue(t testing.TB, a *Agent, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	// What /metrics serves: the self-metrics and every target's series.
	mfs, err := prometheus.Gatherers{a.Registry(), targetSeries{a}}.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				switch {
				case m.Gauge != nil:
					return m.Gauge.GetValue(), true
				case m.Counter != nil:
					return m.Counter.GetValue(), true
				case m.Untyped != nil:
					return m.Untyped.GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func matches(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// yamlf is a small helper for configuration literals: tabs are not YAML.
func yamlf(s string) string { return strings.ReplaceAll(s, "\t", "  ") }
