package ratelimit

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func loginRequest(ip string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/auth/login", nil)
	r.RemoteAddr = ip + ":4242"
	return r
}

func TestLoginPolicyDelay(t *testing.T) {
	p := LoginPolicy{Threshold: 3, BaseDelay: time.Second, MaxDelay: 10 * time.Second}
	tests := []struct {
		fails int
		want  time.Duration
	}{
		{1, 0}, {2, 0}, {3, time.Second}, {4, 2 * time.Second}, {5, 4 * time.Second},
		{6, 8 * time.Second}, {7, 10 * time.Second}, {1000, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := p.delay(tt.fails, p.Threshold); got != tt.want {
			t.Errorf("delay after %d failures = %v, want %v", tt.fails, got, tt.want)
		}
	}
}

// TestLoginThrottleBackoff: in process, the lockout starts at the threshold,
// doubles per further failure, ends on time, and a success forgets the
// account but not the client.
func TestLoginThrottleBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lt := NewLoginThrottle(nil, LoginPolicy{Threshold: 2, ClientThreshold: 4, BaseDelay: time.Second, MaxDelay: time.Minute, Forget: time.Hour}, nil)
		ctx := t.Context()
		r := loginRequest("192.0.2.1")
		wait := func(account string) time.Duration {
			err := lt.Check(ctx, r, account)
			if err == nil {
				return 0
			}
			th, ok := errors.AsType[*Throttled](err)
			if !ok {
				t.Fatalf("Check: %v", err)
			}
			return th.RetryAfter
		}
		lt.Failed(ctx, r, "a@x.test")
		if w := wait("a@x.test"); w != 0 {
			t.Fatalf("locked after one failure: %v", w)
		}
		lt.Failed(ctx, r, "A@x.test") // the same account
		if w := wait("a@x.test"); w != time.Second {
			t.Fatalf("wait at the threshold = %v, want 1s", w)
		}
		time.Sleep(time.Second)
		if w := wait("a@x.test"); w != 0 {
			t.Fatalf("still locked after the delay: %v", w)
		}
		lt.Failed(ctx, r, "a@x.test")
		if w := wait("a@x.test"); w != 2*time.Second {
			t.Fatalf("wait after a further failure = %v, want 2s (doubled)", w)
		}
		time.Sleep(2 * time.Second)
		lt.Succeeded(ctx, r, "a@x.test")
		lt.Failed(ctx, r, "a@x.test") // the client's 4th failure
		err := lt.Check(ctx, r, "a@x.test")
		th, ok := errors.AsType[*Throttled](err)
		if !ok || th.Scope != "client" || th.RetryAfter != time.Second {
			t.Fatalf("after a success and the client's 4th failure: %v, want the client locked 1s", err)
		}
		if err := lt.Check(ctx, loginRequest("192.0.2.2"), "a@x.test"); err != nil {
			t.Errorf("the account was not forgotten on success: %v", err)
		}
	})
}

// TestLoginThrottleRedisDown: with Redis gone the throttle keeps counting
// in process and says so once in the given log.
func TestLoginThrottleRedisDown(t *testing.T) {
	srv := testserver.Redis(t, testserver.WithPassword("login-pw"))
	var logs testserver.LogBuffer
	lt := NewLoginThrottle(newClient(t, srv.URL()), LoginPolicy{Threshold: 2, BaseDelay: time.Minute}, nil,
		LogTo(slog.New(slog.NewJSONHandler(&logs, nil))))
	ctx, r := t.Context(), loginRequest("192.0.2.1")
	lt.Failed(ctx, r, "a@x.test")
	srv.Stop()
	for range 2 {
		lt.Failed(ctx, r, "a@x.test")
	}
	if err := lt.Check(ctx, r, "a@x.test"); err == nil {
		t.Error("not throttled with Redis down after two local failures")
	}
	if n := strings.Count(logs.String(), "Redis unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once: %s", n, logs.String())
	}
	if strings.Contains(logs.String(), "login-pw") || strings.Contains(logs.String(), "a@x.test") {
		t.Errorf("log leaks the password or the account: %s", logs.String())
	}
}
