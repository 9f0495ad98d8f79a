package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/app/appconfig"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// app is one run() in the background.
type app struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	logs   *testserver.LogBuffer
}

func start(t *testing.T, env map[string]string) *app {
	t.Helper()
	cfg, err := appconfig.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a := &app{done: make(chan error, 1), logs: &testserver.LogBuffer{}}
	logger := slog.New(slog.NewJSONHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	ready := make(chan string, 1)
	go func() { a.done <- run(ctx, cfg, logger, func(addr string) { ready <- addr }) }()
	select {
	case a.addr = <-ready:
	case err := <-a.done:
		t.Fatalf("run: %v\n%s", err, a.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("app not ready\n%s", a.logs)
	}
	t.Cleanup(func() { a.stop(t) })
	return a
}

func (a *app) stop(t *testing.T) {
	t.Helper()
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("run did not return after cancel")
	}
}

func (a *app) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post("http://"+a.addr+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func (a *app) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get("http://" + a.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func devEnv(t *testing.T, dataDir string, mongoPort int) map[string]string {
	return map[string]string{
		"APP_ENV": "development", "PORT": "0", "BCRYPT_COST": "4", "LOG_LEVEL": "debug",
		"DATA_DIR": dataDir, "MONGODB_EMBEDDED_ADDR": "127.0.0.1:" + strconv.Itoa(mongoPort),
	}
}

func TestEmbeddedDefaultsPersistAcrossRestarts(t *testing.T) {
	env := devEnv(t, t.TempDir(), testserver.FreePort(t))
	a := start(t, env)
	code, body := a.post(t, "/api/auth/register", map[string]string{"organization": "Acme", "name": "Ada", "email": "ada@acme.test", "password": "correct horse"})
	if code != http.StatusCreated {
		t.Fatalf("register = %d %v", code, body)
	}
	token := body["accessToken"].(string)
	code, h := a.get(t, "/api/health")
	checks, _ := h["checks"].(map[string]any)
	if code != http.StatusOK || h["status"] != "healthy" || checks["redis"].(map[string]any)["status"] != "disabled" {
		t.Errorf("health = %d %v", code, h)
	}
	a.stop(t)
	logs := a.logs.String()
	for _, want := range []string{"generated a random access-token secret", `"route":"/api/auth/register"`, "embedded FerretDB started", `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	for _, secret := range []string{"correct horse", token} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret: %q", secret)
		}
	}

	b := start(t, env)
	if code, body := b.post(t, "/api/auth/login", map[string]string{"email": "ada@acme.test", "password": "correct horse"}); code != http.StatusOK {
		t.Fatalf("login after restart = %d %v: data not persisted", code, body)
	}
	// Generated secrets are new on every start: old tokens no longer verify.
	req, _ := http.NewRequest("GET", "http://"+b.addr+"/api/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("token from the previous run = %d, want 401", res.StatusCode)
	}
}

func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	a := start(t, devEnv(t, t.TempDir(), testserver.FreePort(t)))
	body := `{"email":"nobody@acme.test","password":"whatever!"}`
	conn, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers and half the body: the handler is now reading the body.
	fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: app\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(200 * time.Millisecond)

	a.cancel()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-a.done:
		t.Fatalf("run returned (%v) with a request in flight", err)
	default:
	}
	if _, err := net.DialTimeout("tcp", a.addr, 200*time.Millisecond); err == nil {
		t.Error("still accepting connections during shutdown")
	}
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request cut off: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("in-flight login = %d, want 401", res.StatusCode)
	}
	select {
	case err := <-a.done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the last request")
	}
	a.cancel = nil
}

func TestWithRedisAndExternalMongo(t *testing.T) {
	rs := testserver.Redis(t, testserver.WithPassword("redis-secret-pw"))
	ms := testserver.Mongo(t)
	env := map[string]string{
		"PORT": "0", "BCRYPT_COST": "4", "LOG_LEVEL": "debug",
		"JWT_SECRET": strings.Repeat("j", 32), "JWT_REFRESH_SECRET": strings.Repeat("k", 32),
		"MONGODB_URI": ms.URI, "REDIS_URL": rs.URL(), "RATE_LIMIT_AUTH": "3",
	}
	a := start(t, env)
	code, h := a.get(t, "/api/health")
	checks, _ := h["checks"].(map[string]any)
	if code != http.StatusOK || h["status"] != "healthy" || checks["redis"].(map[string]any)["status"] != "up" {
		t.Fatalf("health = %d %v", code, h)
	}
	// The auth limit is 3/s per client: a burst is cut off with 429.
	var limited *http.Response
	for range 10 {
		res, err := http.Post("http://"+a.addr+"/api/auth/login", "application/json", strings.NewReader(`{"email":"a@b.test","password":"password"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			limited = res
			break
		}
	}
	if limited == nil {
		t.Fatal("no 429 after 10 logins at a limit of 3/s")
	}
	if ra, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q", limited.Header.Get("Retry-After"))
	}
	if limited.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("429 without security headers")
	}
	// The rest of the API has its own, higher limit.
	if code, _ := a.get(t, "/api/health"); code != http.StatusOK {
		t.Errorf("health after auth burst = %d", code)
	}
	a.stop(t)
	if strings.Contains(a.logs.String(), "redis-secret-pw") {
		t.Error("logs contain the Redis password")
	}
}

func TestTrustedProxiesKeyTheLimiterByForwardedClient(t *testing.T) {
	for _, tc := range []struct {
		trusted     string
		wantLimited bool
	}{
		{"", true},                 // X-Forwarded-For ignored: one client, limited
		{"127.0.0.0/8,::1", false}, // each forwarded client has its own budget
	} {
		t.Run("TRUSTED_PROXIES="+tc.trusted, func(t *testing.T) {
			env := devEnv(t, t.TempDir(), testserver.FreePort(t))
			env["RATE_LIMIT_AUTH"] = "2"
			if tc.trusted != "" {
				env["TRUSTED_PROXIES"] = tc.trusted
			}
			a := start(t, env)
			limited := false
			for i := range 8 {
				// One account each: the failed-login throttle, which stops
				// repeated guesses at one account, is not under test.
				req, _ := http.NewRequest("POST", "http://"+a.addr+"/api/auth/login", strings.NewReader(fmt.Sprintf(`{"email":"a%d@b.test","password":"password"}`, i)))
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				limited = limited || res.StatusCode == http.StatusTooManyRequests
			}
			if limited != tc.wantLimited {
				t.Errorf("limited = %v, want %v", limited, tc.wantLimited)
			}
		})
	}
}

// TestListenAddr: LISTEN_ADDR binds the given interface only.
func TestListenAddr(t *testing.T) {
	env := devEnv(t, t.TempDir(), testserver.FreePort(t))
	env["LISTEN_ADDR"] = "127.0.0.1"
	a := start(t, env)
	host, _, err := net.SplitHostPort(a.addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("listening on %q, want 127.0.0.1:<port>", a.addr)
	}
	if code, _ := a.get(t, "/api/health/live"); code != http.StatusOK {
		t.Errorf("live = %d", code)
	}
	a.stop(t)
}

// TestInProcessCacheWarnsOutsideDevelopment: without Redis in production
// the app starts, and says loudly that it must run as a single replica.
func TestInProcessCacheWarnsOutsideDevelopment(t *testing.T) {
	for _, env := range []string{"production", "development"} {
		t.Run(env, func(t *testing.T) {
			e := devEnv(t, t.TempDir(), testserver.FreePort(t))
			e["APP_ENV"] = env
			e["JWT_SECRET"], e["JWT_REFRESH_SECRET"] = strings.Repeat("a", 32), strings.Repeat("b", 32)
			a := start(t, e)
			a.stop(t)
			warned := strings.Contains(a.logs.String(), `"level":"WARN","msg":"no REDIS_URL outside development`)
			if warned != (env == "production") {
				t.Errorf("single-replica warning logged = %v in %s:\n%s", warned, env, a.logs.String())
			}
		})
	}
}
