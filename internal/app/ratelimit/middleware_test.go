package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
}

func TestMiddlewareScopes(t *testing.T) {
	tests := []struct {
		path      string
		wantScope string // "" = not limited
	}{
		{"/api/auth/login", "auth"},
		{"/api/auth/register", "auth"},
		{"/api/projects", "api"},
		{"/api/projects/p1/tasks", "api"},
		{"/api/authors", "api"}, // not under /api/auth/
		{"/api/health", ""},
		{"/api/health/ready", ""},
		{"/api/metrics", ""},
		{"/api/healthz", "api"},
		{"/", ""},
		{"/static/app.js", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := httpmetrics.New(0)
				h := Middleware(NewLocal(1, time.Second), NewLocal(1, time.Second), m, okHandler())
				var codes []int
				for range 2 {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
					codes = append(codes, rec.Code)
				}
				limited := codes[1] == http.StatusTooManyRequests
				if limited != (tt.wantScope != "") || codes[0] != http.StatusNoContent {
					t.Fatalf("codes = %v, limited = %v, want limited %v", codes, limited, tt.wantScope != "")
				}
				for _, scope := range []string{"auth", "api"} {
					want := 0.0
					if scope == tt.wantScope {
						want = 1
					}
					if got := testutil.ToFloat64(m.RateLimited.WithLabelValues(scope)); got != want {
						t.Errorf("app_rate_limited_requests_total{scope=%q} = %v, want %v", scope, got, want)
					}
				}
			})
		})
	}
}

func TestMiddleware429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := Middleware(nil, NewLocal(2, 10*time.Second), nil, okHandler())
		serve := func() *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/time-entries", nil))
			return rec
		}
		serve()
		time.Sleep(2500 * time.Millisecond)
		serve()
		rec := serve()
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("status = %d, want 429", rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		// 7.5 s of the window remain: rounded up to whole seconds.
		if ra := rec.Header().Get("Retry-After"); ra != "8" {
			t.Errorf("Retry-After = %q, want 8", ra)
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		if body["error"] != "rate limit exceeded" || len(body) != 1 {
			t.Errorf("body = %v", body)
		}
	})
}

type failingLimiter struct{ calls int }

func (f *failingLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	f.calls++
	return false, 0, errors.New("limiter broke")
}

func TestMiddlewareFailsOpen(t *testing.T) {
	f := &failingLimiter{}
	var logs testserver.LogBuffer
	h := Middleware(nil, f, nil, okHandler(), LogTo(slog.New(slog.NewJSONHandler(&logs, nil))))
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/projects", nil))
		if rec.Code != http.StatusNoContent {
			t.Errorf("status = %d with a failing limiter, want the handler's 204", rec.Code)
		}
	}
	if f.calls != 3 {
		t.Errorf("limiter called %d times, want 3", f.calls)
	}
	// Once, in the app's JSON log rather than the global default.
	if n := strings.Count(logs.String(), `"msg":"rate limiter failed, letting requests through"`); n != 1 {
		t.Errorf("failure logged %d times in the given logger, want once: %s", n, logs.String())
	}
}

func TestMiddlewareClientKey(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name   string
		opts   []Option
		remote string
		xff    []string
		want   string
	}{
		{"ipv4 peer", nil, "192.0.2.7:5123", nil, "api:192.0.2.7"},
		{"xff ignored by default", nil, "192.0.2.7:5123", []string{"203.0.113.9"}, "api:192.0.2.7"},
		{"ipv6 peer keyed by /64", nil, "[2001:db8:1:2:3:4:5:6]:443", nil, "api:2001:db8:1:2::/64"},
		{"ipv4-mapped ipv6", nil, "[::ffff:192.0.2.7]:80", nil, "api:192.0.2.7"},
		{"trusted proxy: right-most untrusted hop", []Option{TrustProxy(proxies...)}, "10.1.2.3:80",
			[]string{"198.51.100.1, 203.0.113.9, 10.9.9.9"}, "api:203.0.113.9"},
		{"trusted proxy: several headers", []Option{TrustProxy(proxies...)}, "10.1.2.3:80",
			[]string{"198.51.100.1", "203.0.113.9"}, "api:203.0.113.9"},
		{"untrusted peer: xff ignored", []Option{TrustProxy(proxies...)}, "192.0.2.7:5123",
			[]string{"203.0.113.9"}, "api:192.0.2.7"},
		{"trust any peer: right-most hop only", []Option{TrustProxy()}, "192.0.2.7:5123",
			[]string{"1.1.1.1, 203.0.113.9"}, "api:203.0.113.9"},
		{"garbled xff: peer", []Option{TrustProxy()}, "192.0.2.7:5123",
			[]string{"not-an-ip"}, "api:192.0.2.7"},
		{"trusted proxy without xff", []Option{TrustProxy(proxies...)}, "10.1.2.3:80", nil, "api:10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := newLocal(10, time.Minute, DefaultMaxKeys)
			h := Middleware(nil, lim, nil, okHandler(), tt.opts...)
			req := httptest.NewRequest(http.MethodGet, "/api/projects", nil)
			req.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			var keys []string
			for k := range lim.windows {
				keys = append(keys, k)
			}
			if len(keys) != 1 || keys[0] != tt.want {
				t.Errorf("keys = %v, want [%s]", keys, tt.want)
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 1}, {-time.Second, 1}, {time.Millisecond, 1}, {time.Second, 1},
		{time.Second + time.Millisecond, 2}, {59500 * time.Millisecond, 60},
	}
	for _, tt := range tests {
		if got := retryAfterSeconds(tt.d); got != strconv.Itoa(tt.want) {
			t.Errorf("retryAfterSeconds(%v) = %s, want %d", tt.d, got, tt.want)
		}
	}
}

// TestMiddlewareScopesIndependent: the auth and api limiters may count in
// one store (one Redis, or here one limiter); a client's auth budget is not
// its api budget.
func TestMiddlewareScopesIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared := NewLocal(1, time.Minute) // one limiter in both roles
		h := Middleware(shared, shared, nil, okHandler())
		codes := map[string]int{}
		for _, p := range []string{"/api/auth/login", "/api/projects"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
			codes[p] = rec.Code
		}
		for p, c := range codes {
			if c != http.StatusNoContent {
				t.Errorf("%s: %d, want 204 (first request of its scope)", p, c)
			}
		}
	})
}
