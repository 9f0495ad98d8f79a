package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/api"
	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/cache"
	"github.com/vigil-sh/vigil/internal/app/health"
	"github.com/vigil-sh/vigil/internal/app/ratelimit"
	"github.com/vigil-sh/vigil/internal/app/store"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// withLoginThrottle throttles failed logins, counting in srv's Redis (nil:
// in process), believing X-Forwarded-For from any peer so that a test can
// speak for several clients.
func withLoginThrottle(t testing.TB, srv *testserver.RedisServer, p ratelimit.LoginPolicy) envOption {
	var client *redis.Client
	if srv != nil {
		opts, err := cache.RedisOptions(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		client = redis.NewClient(opts)
		t.Cleanup(func() { _ = client.Close() })
	}
	return func(d *api.Deps, _ *health.Checker) {
		d.LoginThrottle = ratelimit.NewLoginThrottle(client, p, d.Metrics, ratelimit.TrustProxy(), ratelimit.LogTo(d.Logger))
	}
}

// loginFrom posts credentials as the client at ip.
func (e *env) loginFrom(ip, email, password string) resp {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, err := http.NewRequest("POST", e.srv.URL+"/api/auth/login", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatalf("login: %v", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, raw: raw}
}

func wantThrottled(t *testing.T, r resp, what string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("%s = %d, want 429: %s", what, r.status, r.raw)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After = %q, want whole seconds >= 1", what, r.header.Get("Retry-After"))
	}
	if r.json(t)["error"] == "" {
		t.Errorf("%s: no JSON error: %s", what, r.raw)
	}
}

func TestLoginThrottle(t *testing.T) {
	policy := ratelimit.LoginPolicy{Threshold: 3, ClientThreshold: 6, BaseDelay: 30 * time.Second, MaxDelay: time.Minute, Forget: time.Hour}
	for _, backend := range []string{"redis", "local"} {
		t.Run(backend, func(t *testing.T) {
			var rs *testserver.RedisServer
			if backend == "redis" {
				rs = testserver.Redis(t)
			}
			e := newEnv(t, withLoginThrottle(t, rs, policy))
			e.register("Acme", "ada@acme.test")
			e.register("Bobs", "bob@bobs.test")
			const attacker, other = "198.51.100.7", "203.0.113.9"

			for i := range policy.Threshold {
				if r := e.loginFrom(attacker, "ada@acme.test", "guess "+strconv.Itoa(i)); r.status != http.StatusUnauthorized {
					t.Fatalf("bad password %d = %d, want 401: %s", i+1, r.status, r.raw)
				}
			}
			// Past the threshold even the right password waits: the
			// guesser cannot tell a hit from a miss.
			wantThrottled(t, e.loginFrom(attacker, "ada@acme.test", "correct horse"), "attempt after the threshold")
			wantThrottled(t, e.loginFrom(other, "ADA@acme.test", "correct horse"), "the locked account from another client")
			if r := e.loginFrom(other, "bob@bobs.test", "correct horse"); r.status != http.StatusOK {
				t.Fatalf("another account from another client = %d, want 200: %s", r.status, r.raw)
			}
			if got := testutil.ToFloat64(e.metrics.LoginThrottled.WithLabelValues("account")); got != 2 {
				t.Errorf("app_login_throttled_total{scope=account} = %v, want 2", got)
			}

			if backend == "redis" {
				// The count is shared: a second replica on the same Redis
				// refuses the account too.
				e2 := newEnvOn(t, e.mongo, e.mongo.URI, withLoginThrottle(t, rs, policy))
				wantThrottled(t, e2.loginFrom(other, "ada@acme.test", "correct horse"), "the locked account on another replica")
			}

			// One client guessing across accounts is stopped too, while
			// others still log in.
			for i := range policy.ClientThreshold - policy.Threshold {
				if r := e.loginFrom(attacker, "nobody"+strconv.Itoa(i)+"@acme.test", "guess"); r.status != http.StatusUnauthorized {
					t.Fatalf("spray %d = %d, want 401: %s", i, r.status, r.raw)
				}
			}
			wantThrottled(t, e.loginFrom(attacker, "bob@bobs.test", "correct horse"), "a sprayer's next attempt")
			if r := e.loginFrom(other, "bob@bobs.test", "correct horse"); r.status != http.StatusOK {
				t.Fatalf("another client after a spray = %d, want 200: %s", r.status, r.raw)
			}
		})
	}
}

// TestPasswordChangeThrottled: guessing the current password with an access
// token spends the account's failed-login budget, so it is no way around
// the login throttle, and a locked account cannot change its password
// either.
func TestPasswordChangeThrottled(t *testing.T) {
	policy := ratelimit.LoginPolicy{Threshold: 3, ClientThreshold: 100, BaseDelay: 30 * time.Second, MaxDelay: time.Minute, Forget: time.Hour}
	e := newEnv(t, withLoginThrottle(t, nil, policy))
	a := e.register("Acme", "ada@acme.test")
	for i := range policy.Threshold {
		e.must(http.StatusBadRequest, "POST", "/api/users/me/password", a.token, map[string]string{
			"currentPassword": "guess " + strconv.Itoa(i), "newPassword": "new password!",
		})
	}
	wantThrottled(t, e.do("POST", "/api/users/me/password", a.token, map[string]string{
		"currentPassword": "correct horse", "newPassword": "new password!",
	}), "password change after the threshold")
	wantThrottled(t, e.loginFrom("192.0.2.7", "ada@acme.test", "correct horse"), "login of the account")
}

// TestPasswordWorkBounded: with every bcrypt slot taken, every route that
// hashes or checks a password (login, registration, user creation, password
// change) answers 503 busy with Retry-After instead of queueing, while the
// rest of the API answers; once a slot frees, they work.
func TestPasswordWorkBounded(t *testing.T) {
	slots := auth.NewSlots(1, 50*time.Millisecond)
	e := newEnv(t, func(d *api.Deps, _ *health.Checker) { d.PasswordSlots = slots })
	admin := e.register("Acme", "ada@acme.test")

	routes := []struct {
		path, token string
		body        map[string]string
		ok          int
	}{
		{"/api/auth/login", "", map[string]string{"email": "ada@acme.test", "password": "correct horse"}, http.StatusOK},
		{"/api/auth/register", "", map[string]string{"organization": "Other", "name": "Bo", "email": "bo@other.test", "password": "correct horse"}, http.StatusCreated},
		{"/api/users", admin.token, map[string]string{"name": "Mo", "email": "mo@acme.test", "password": "user password"}, http.StatusCreated},
		// Last: it revokes admin.token.
		{"/api/users/me/password", admin.token, map[string]string{"currentPassword": "correct horse", "newPassword": "new password!"}, http.StatusOK},
	}
	release, err := slots.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		r := e.do("POST", rt.path, rt.token, rt.body)
		if r.status != http.StatusServiceUnavailable || r.json(t)["error"] != "busy" || r.header.Get("Retry-After") != "1" {
			t.Errorf("POST %s with the slots taken = %d %v %s, want 503 busy with Retry-After 1", rt.path, r.status, r.header, r.raw)
		}
	}
	if got := testutil.ToFloat64(e.metrics.Busy.WithLabelValues("bcrypt")); got != float64(len(routes)) {
		t.Errorf("app_busy_responses_total{resource=bcrypt} = %v, want %d", got, len(routes))
	}
	e.must(http.StatusOK, "GET", "/api/health/live", "", nil)
	e.must(http.StatusOK, "GET", "/api/projects", admin.token, nil)
	release()
	for _, rt := range routes {
		e.must(rt.ok, "POST", rt.path, rt.token, rt.body)
	}
}

// TestPublicHealthRevealsNothing: anonymous /api/health says only the
// status and which dependency is up; the driver's error (here Redis's
// WRONGPASS), the version and the memory are for an admin's token.
func TestPublicHealthRevealsNothing(t *testing.T) {
	rs := testserver.Redis(t, testserver.WithPassword("right-pw"))
	e := newEnv(t, withRedis(t, &testserver.RedisServer{Addr: rs.Addr, Password: "wrong-pw"}))
	admin := e.register("Acme", "ada@acme.test")
	member := e.member(admin, "mo@acme.test")

	pub := e.must(http.StatusOK, "GET", "/api/health", "", nil)
	var body map[string]any
	pub.decode(t, &body)
	if len(body) != 2 || body["status"] != "degraded" {
		t.Errorf("public health = %s, want only status (degraded) and checks", pub.raw)
	}
	checks, _ := body["checks"].(map[string]any)
	for name, want := range map[string]string{"mongodb": "up", "redis": "down"} {
		c, _ := checks[name].(map[string]any)
		if len(c) != 1 || c["status"] != want {
			t.Errorf("public %s = %v, want only status %s", name, c, want)
		}
	}
	for _, secret := range []string{"WRONGPASS", "wrong-pw", rs.Addr, "version", "memory", "latency"} {
		if bytes.Contains(pub.raw, []byte(secret)) {
			t.Errorf("public health reveals %q: %s", secret, pub.raw)
		}
	}

	details := e.must(http.StatusOK, "GET", "/api/health", admin.token, nil)
	if !bytes.Contains(details.raw, []byte("WRONGPASS")) || details.json(t)["version"] != "test" {
		t.Errorf("admin health lacks the details: %s", details.raw)
	}
	e.must(http.StatusForbidden, "GET", "/api/health", member.token, nil)
	e.must(http.StatusUnauthorized, "GET", "/api/health", "not-a-token", nil)
}

// TestPoolExhaustionIsBusyNotOutage: with a pool of one connection and
// every operation slowed down, concurrent requests that cannot get the
// connection in time answer 503 busy with Retry-After, counted apart, and
// not "database unavailable"; MongoDB itself is fine afterwards.
func TestPoolExhaustionIsBusyNotOutage(t *testing.T) {
	mongo := testserver.Mongo(t)
	proxy := newFaultProxy(t, mongo.Addr)
	e := newEnvStore(t, mongo, store.Options{
		URI: "mongodb://" + proxy.ln.Addr().String() + "/", Database: "test", MaxPoolSize: 1,
		Timeout: 600 * time.Millisecond, ServerSelectionTimeout: 500 * time.Millisecond,
	}, func(_ *api.Deps, c *health.Checker) { c.Deadline = 300 * time.Millisecond })
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))

	proxy.setDelay(250 * time.Millisecond)
	const clients = 8
	results := make(chan resp, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() { results <- e.do("GET", "/api/projects/"+p, a.token, nil) })
	}
	wg.Wait()
	close(results)
	busy := 0
	for r := range results {
		switch {
		case r.status == http.StatusOK:
		case r.status == http.StatusServiceUnavailable && r.json(t)["error"] == "busy":
			busy++
			if r.header.Get("Retry-After") != "1" {
				t.Errorf("busy answer without Retry-After: %v", r.header)
			}
		case r.status == http.StatusServiceUnavailable:
			// An operation that got the connection too late to finish in
			// its deadline is a timeout; not what this test is about.
			t.Logf("other 503: %s", r.raw)
		default:
			t.Errorf("answer under pool exhaustion = %d: %s", r.status, r.raw)
		}
	}
	t.Logf("%d of %d answered busy", busy, clients)
	if busy == 0 {
		t.Fatal("no busy answer with 8 concurrent slow requests on a pool of 1")
	}
	if got := testutil.ToFloat64(e.metrics.Busy.WithLabelValues("mongodb_pool")); got != float64(busy) {
		t.Errorf("app_busy_responses_total{resource=mongodb_pool} = %v, want %d", got, busy)
	}

	// Readiness holds while one slow request holds the only connection:
	// the health ping gives up waiting for the pool (its 300 ms deadline)
	// long before the request's 600 ms, and a busy pool is not a database
	// outage.
	proxy.setDelay(2 * time.Second)
	slow := make(chan resp, 1)
	go func() { slow <- e.do("GET", "/api/projects/"+p, a.token, nil) }()
	time.Sleep(50 * time.Millisecond)
	if r := e.do("GET", "/api/health", a.token, nil); r.status != http.StatusOK {
		t.Errorf("health while the pool is saturated = %d %s, want 200", r.status, r.raw)
	}
	<-slow
	proxy.setDelay(0)
	e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
	e.must(http.StatusOK, "GET", "/api/health", "", nil)
}
