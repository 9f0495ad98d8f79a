package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func TestMongoOutageFailsFastAndRecovers(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))
	e.must(http.StatusOK, "GET", "/api/health", "", nil)

	e.mongo.Stop()
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/health"},
		{"GET", "/api/projects"},
		{"GET", "/api/projects/" + p},
		{"POST", "/api/projects"},
		{"POST", "/api/auth/login"},
	} {
		var body any
		switch req.path {
		case "/api/projects":
			if req.method == "POST" {
				body = map[string]any{"name": "during outage"}
			}
		case "/api/auth/login":
			body = map[string]any{"email": "ada@acme.test", "password": "correct horse"}
		}
		start := time.Now()
		r := e.do(req.method, req.path, a.token, body)
		took := time.Since(start)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("%s %s during outage = %d, want 503: %s", req.method, req.path, r.status, r.raw)
		}
		if took > 2*time.Second {
			t.Errorf("%s %s took %s during outage, want < 2s", req.method, req.path, took)
		}
		got := r.json(t)
		if req.path == "/api/health" {
			checks, _ := got["checks"].(map[string]any)
			mongo, _ := checks["mongodb"].(map[string]any)
			if got["status"] != "unhealthy" || mongo["status"] != "down" {
				t.Errorf("health during outage = %s", r.raw)
			}
			// The admin's details (with the driver's error) only while the
			// user check is cached; once MongoDB must confirm the role, the
			// public answer.
			if _, detailed := got["version"]; detailed && (mongo["error"] == nil || mongo["error"] == "") {
				t.Errorf("admin health during outage lacks the error: %s", r.raw)
			} else if !detailed && len(mongo) != 1 {
				t.Errorf("health during outage, admin unconfirmed = %s, want the public answer", r.raw)
			}
		} else if got["error"] != "database unavailable" {
			t.Errorf("%s %s error = %v, want database unavailable", req.method, req.path, got["error"])
		}
	}
	if v := testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues("mongodb")); v != 0 {
		t.Errorf("app_dependency_up{dependency=mongodb} = %v during outage, want 0", v)
	}
	// Liveness does not depend on the database.
	if r := e.do("GET", "/api/health/live", "", nil); r.status != http.StatusOK || r.json(t)["status"] != "alive" {
		t.Errorf("liveness during outage = %d %s", r.status, r.raw)
	}

	e.mongo.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := e.do("GET", "/api/projects/"+p, a.token, nil)
		if r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("API did not recover after MongoDB restart: %d %s", r.status, r.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.must(http.StatusOK, "GET", "/api/health", "", nil)
	if v := testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues("mongodb")); v != 1 {
		t.Errorf("app_dependency_up{dependency=mongodb} = %v after recovery, want 1", v)
	}
}

func TestMetricsUseRouteTemplates(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))
	e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
	e.must(http.StatusNotFound, "GET", "/api/projects/000000000000000000000000", a.token, nil)
	e.must(http.StatusNotFound, "GET", "/api/projects/"+p+"/nope/"+p, a.token, nil)
	e.must(http.StatusMethodNotAllowed, "PUT", "/api/projects/"+p, a.token, nil)
	e.must(http.StatusOK, "GET", "/api/health", "", nil)

	body := string(e.must(http.StatusOK, "GET", "/api/metrics", "", nil).raw)
	for _, want := range []string{
		`http_requests_total{method="GET",route="/api/projects/{id}",status="200"} 1`,
		`http_requests_total{method="GET",route="/api/projects/{id}",status="404"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_requests_total{method="POST",route="/api/auth/register",status="201"} 1`,
		`app_dependency_up{dependency="mongodb"} 1`,
		`app_mongodb_command_duration_seconds_bucket{command="insert"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/api/metrics lacks %s", want)
		}
	}
	if regexp.MustCompile(`route="[^"]*[0-9a-f]{24}`).MatchString(body) {
		t.Error("a raw id reached a route label")
	}
	problems, err := testutil.CollectAndLint(e.metrics.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestHungDependencies: a server that accepts connections and never answers
// is worse than one that is down; health still answers within 2 s and the
// API either serves (Redis) or fails fast (MongoDB).
func TestHungDependencies(t *testing.T) {
	mongo := testserver.Mongo(t)
	mongoProxy := newFaultProxy(t, mongo.Addr)
	redisProxy := newFaultProxy(t, testserver.Redis(t).Addr)
	e := newEnvOn(t, mongo, "mongodb://"+mongoProxy.ln.Addr().String()+"/",
		withRedis(t, &testserver.RedisServer{Addr: redisProxy.ln.Addr().String()}))
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))

	timed := func(method, path string, wantStatus int, wantHealth string) {
		t.Helper()
		start := time.Now()
		r := e.do(method, path, a.token, nil)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s %s took %s", method, path, took)
		}
		if r.status != wantStatus {
			t.Errorf("%s %s = %d, want %d: %s", method, path, r.status, wantStatus, r.raw)
		}
		if wantHealth != "" && r.json(t)["status"] != wantHealth {
			t.Errorf("health = %s, want %s", r.raw, wantHealth)
		}
	}

	redisProxy.setHang(true)
	timed("GET", "/api/projects/"+p, http.StatusOK, "")
	timed("GET", "/api/projects", http.StatusOK, "")
	timed("GET", "/api/health", http.StatusOK, "degraded")
	redisProxy.setHang(false)

	mongoProxy.setHang(true)
	timed("GET", "/api/tasks/000000000000000000000000", http.StatusServiceUnavailable, "")
	timed("GET", "/api/health", http.StatusServiceUnavailable, "unhealthy")
	mongoProxy.setHang(false)

	deadline := time.Now().Add(15 * time.Second)
	for e.do("GET", "/api/health", "", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("no recovery after the hang ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
