package testserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// eventually polls f every 100ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// single returns the value of a one-sample vector.
func single(v model.Vector, err error) (float64, error) {
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("got %d samples (%v), want 1", len(v), v)
	}
	return float64(v[0].Value), nil
}

func TestPrometheus(t *testing.T) {
	// A target to scrape, whose address is known before the server starts.
	fixture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "# TYPE fixture_value gauge\nfixture_value 42")
	}))
	t.Cleanup(fixture.Close)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules/test.yml]
scrape_configs:
  - job_name: fixture
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(fixture.URL, "http://"))
	rules := func(v int) string {
		return fmt.Sprintf("groups:\n  - name: test\n    rules:\n      - record: test:constant\n        expr: vector(%d)\n", v)
	}
	srv := testserver.Prometheus(t, cfg, map[string]string{"rules/test.yml": rules(7)})
	ctx := t.Context()

	tests := []struct {
		name string
		expr string
		want float64
	}{
		{"evaluates a query", "vector(1)", 1},
		{"evaluates the extra rule file", "test:constant", 7},
		{"scrapes a target", `up{job="fixture"}`, 1},
		{"stores scraped samples", `fixture_value{job="fixture"}`, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eventually(t, 20*time.Second, func() error {
				got, err := single(srv.Query(ctx, tt.expr))
				if err != nil {
					return err
				}
				if got != tt.want {
					return fmt.Errorf("%s = %v, want %v", tt.expr, got, tt.want)
				}
				return nil
			})
		})
	}

	t.Run("rejects non-vector results and bad queries", func(t *testing.T) {
		for _, expr := range []string{"1", "sum(", `up[1m]`} {
			if v, err := srv.Query(ctx, expr); err == nil {
				t.Errorf("Query(%q) = %v, want an error", expr, v)
			}
		}
	})

	t.Run("reloads rewritten rules", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(srv.Dir, "rules", "test.yml"), []byte(rules(8)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := srv.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, func() error {
			got, err := single(srv.Query(ctx, "test:constant"))
			if err == nil && got != 8 {
				err = fmt.Errorf("test:constant = %v after reload, want 8", got)
			}
			return err
		})
	})

	t.Run("stops and starts on the same address", func(t *testing.T) {
		url := srv.URL
		srv.Stop()
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := srv.Query(qctx, "vector(1)"); err == nil {
			t.Fatal("query succeeded on a stopped server")
		}
		srv.Start()
		if srv.URL != url {
			t.Fatalf("URL changed from %s to %s", url, srv.URL)
		}
		if _, err := single(srv.Query(ctx, "vector(1)")); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	})
}

func TestPrometheusBadConfigFails(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		testserver.Prometheus(ft, "scrape_configs: [{job_name: }]\nnot_a_field: 1\n", nil)
	}()
	if !ft.failed {
		t.Fatal("Prometheus started with an invalid configuration without failing the test")
	}
	if !strings.Contains(ft.msg, "did not become ready") {
		t.Errorf("failure message %q does not say the server did not become ready", ft.msg)
	}
}

// fatalRecorder records Fatalf instead of failing the real test, to test
// the servers' own failures. Fatalf panics to stop the caller as
// runtime.Goexit would.
type fatalRecorder struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}
