package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-sh/vigil/internal/app/health"
	"github.com/vigil-sh/vigil/internal/app/store"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func ok(context.Context) error { return nil }

func failing(context.Context) error { return errors.New("connection refused") }

// hang ignores its context, as a wedged client library might.
func hang(context.Context) error { time.Sleep(time.Hour); return nil }

func TestStatusAndCode(t *testing.T) {
	cases := []struct {
		name       string
		checks     []health.Check
		wantStatus string
		wantCode   int
		wantChecks map[string]string
	}{
		{"all up", []health.Check{{Name: "mongodb", Probe: ok, Critical: true}, {Name: "redis", Probe: ok}},
			health.StatusHealthy, 200, map[string]string{"mongodb": "up", "redis": "up"}},
		{"redis disabled", []health.Check{{Name: "mongodb", Probe: ok, Critical: true}, {Name: "redis", Disabled: true}},
			health.StatusHealthy, 200, map[string]string{"mongodb": "up", "redis": "disabled"}},
		{"redis down degrades", []health.Check{{Name: "mongodb", Probe: ok, Critical: true}, {Name: "redis", Probe: failing}},
			health.StatusDegraded, 200, map[string]string{"mongodb": "up", "redis": "down"}},
		{"mongodb down is unhealthy", []health.Check{{Name: "mongodb", Probe: failing, Critical: true}, {Name: "redis", Probe: ok}},
			health.StatusUnhealthy, 503, map[string]string{"mongodb": "down", "redis": "up"}},
		{"hanging mongodb is unhealthy at the deadline", []health.Check{{Name: "mongodb", Probe: hang, Critical: true}, {Name: "redis", Probe: failing}},
			health.StatusUnhealthy, 503, map[string]string{"mongodb": "down", "redis": "down"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "app_dependency_up", Help: "h"}, []string{"dependency"})
				c := &health.Checker{Checks: tc.checks, Version: "v1", Started: time.Now().Add(-time.Minute), Deadline: 1500 * time.Millisecond, Up: up}
				rec := httptest.NewRecorder()
				start := time.Now()
				c.ServeDetails(rec, httptest.NewRequest("GET", "/api/health", nil))
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("answered after %s, want within 2s", took)
				}
				if rec.Code != tc.wantCode {
					t.Errorf("code = %d, want %d", rec.Code, tc.wantCode)
				}
				var rep health.Report
				if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
					t.Fatal(err)
				}
				if rep.Status != tc.wantStatus || rep.Version != "v1" || rep.UptimeSeconds < 60 || rep.Memory.SysBytes == 0 {
					t.Errorf("report = %+v", rep)
				}
				for name, want := range tc.wantChecks {
					got := rep.Checks[name]
					if got.Status != want {
						t.Errorf("%s = %+v, want %s", name, got, want)
					}
					if want == health.CheckDown && got.Error == "" {
						t.Errorf("%s down without an error", name)
					}
					if want == health.CheckDisabled {
						continue
					}
					wantUp := 0.0
					if want == health.CheckUp {
						wantUp = 1
					}
					if v := testutil.ToFloat64(up.WithLabelValues(name)); v != wantUp {
						t.Errorf("app_dependency_up{dependency=%q} = %v, want %v", name, v, wantUp)
					}
				}
				// The public answer: the same status and code, the
				// statuses only.
				pub := httptest.NewRecorder()
				c.ServeHTTP(pub, httptest.NewRequest("GET", "/api/health", nil))
				var pr map[string]any
				if err := json.Unmarshal(pub.Body.Bytes(), &pr); err != nil {
					t.Fatal(err)
				}
				if pub.Code != tc.wantCode || pr["status"] != tc.wantStatus || len(pr) != 2 {
					t.Errorf("public = %d %s", pub.Code, pub.Body)
				}
				for name, want := range tc.wantChecks {
					if c, _ := pr["checks"].(map[string]any)[name].(map[string]any); len(c) != 1 || c["status"] != want {
						t.Errorf("public %s = %v, want only status %s", name, c, want)
					}
				}
				// Let a hung probe finish so the bubble ends without
				// leaked goroutines: Run must not leave any of its own.
				time.Sleep(2 * time.Hour)
			})
		})
	}
}

func TestMongoCheckAgainstFerretDB(t *testing.T) {
	srv := testserver.Mongo(t)
	st, err := store.Open(store.Options{URI: srv.URI, Timeout: 2 * time.Second, ServerSelectionTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	c := &health.Checker{Checks: []health.Check{{Name: "mongodb", Probe: st.Ping, Critical: true}}, Started: time.Now(), CacheFor: -1}
	code := func() int {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
		return rec.Code
	}
	if got := code(); got != http.StatusOK {
		t.Fatalf("healthy FerretDB: %d", got)
	}
	srv.Stop()
	start := time.Now()
	if got := code(); got != http.StatusServiceUnavailable {
		t.Fatalf("stopped FerretDB: %d, want 503", got)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("health took %s with MongoDB down", took)
	}
}

func TestWatchKeepsGaugeCurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "app_dependency_up", Help: "h"}, []string{"dependency"})
		var fail atomic.Bool
		c := &health.Checker{Up: up, Checks: []health.Check{{Name: "redis", Probe: func(context.Context) error {
			if fail.Load() {
				return errors.New("down")
			}
			return nil
		}}}}
		ctx, cancel := context.WithCancel(t.Context())
		go c.Watch(ctx, 10*time.Second)
		synctest.Wait()
		if v := testutil.ToFloat64(up.WithLabelValues("redis")); v != 1 {
			t.Fatalf("after first check: %v", v)
		}
		fail.Store(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if v := testutil.ToFloat64(up.WithLabelValues("redis")); v != 0 {
			t.Fatalf("after failing check: %v", v)
		}
		cancel()
	})
}

func TestLongErrorsAreTruncated(t *testing.T) {
	long := strings.Repeat("topology ", 200) + "é"
	c := &health.Checker{Started: time.Now(), Checks: []health.Check{{Name: "mongodb", Critical: true, Probe: func(context.Context) error { return errors.New(long) }}}}
	rep := c.Run(t.Context())
	got := rep.Checks["mongodb"].Error
	if len(got) > 310 || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) || !utf8.ValidString(got) {
		t.Errorf("error of %d bytes: %q", len(got), got)
	}
}

// TestReportReusedForASecond: a flood of health calls runs the probes once
// a second, concurrent callers sharing one run.
func TestReportReusedForASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var probes atomic.Int32
		c := &health.Checker{Started: time.Now(), Checks: []health.Check{{Name: "mongodb", Critical: true, Probe: func(context.Context) error {
			probes.Add(1)
			time.Sleep(10 * time.Millisecond)
			return nil
		}}}}
		call := func() {
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("code %d", rec.Code)
			}
		}
		for range 50 {
			go call()
		}
		synctest.Wait()
		time.Sleep(20 * time.Millisecond)
		call()
		if n := probes.Load(); n != 1 {
			t.Errorf("%d probe runs for 51 calls within a second, want 1", n)
		}
		time.Sleep(time.Second)
		call()
		if n := probes.Load(); n != 2 {
			t.Errorf("%d probe runs after the second passed, want 2", n)
		}
	})
}
