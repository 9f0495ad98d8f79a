package api_test

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/api"
	"github.com/vigil-sh/vigil/internal/app/cache"
	"github.com/vigil-sh/vigil/internal/app/health"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// withRedis serves reads through a Redis cache on srv, with the Redis health
// check enabled.
func withRedis(t testing.TB, srv *testserver.RedisServer) envOption {
	opts, err := cache.RedisOptions(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	return func(d *api.Deps, c *health.Checker) {
		rc := cache.NewRedis(client, d.Metrics)
		d.Cache = rc
		for i := range c.Checks {
			if c.Checks[i].Name == "redis" {
				c.Checks[i] = health.Check{Name: "redis", Probe: rc.Ping}
			}
		}
	}
}

func TestCacheReadAfterWrite(t *testing.T) {
	for _, backend := range []string{"redis", "lru"} {
		t.Run(backend, func(t *testing.T) {
			var opt envOption
			if backend == "redis" {
				opt = withRedis(t, testserver.Redis(t, testserver.WithPassword("cache-pw")))
			} else {
				opt = func(d *api.Deps, _ *health.Checker) { d.Cache = cache.NewLRU(100, d.Metrics) }
			}
			e := newEnv(t, opt)
			a := e.register("Acme", "ada@acme.test")
			p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "v1"}))
			task := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+p+"/tasks", a.token, map[string]any{"title": "t1"}))

			hits := func() float64 { return testutil.ToFloat64(e.metrics.CacheHits) }
			steps := []struct {
				method, path string
				body         map[string]any
				wantName     string // "name" of a project or "title" of a task, or the first list item's
				field        string
				wantCache    string
			}{
				{"GET", "/api/projects/" + p, nil, "v1", "name", "miss"},
				{"GET", "/api/projects/" + p, nil, "v1", "name", "hit"},
				{"PATCH", "/api/projects/" + p, map[string]any{"name": "v2"}, "v2", "name", ""},
				{"GET", "/api/projects/" + p, nil, "v2", "name", "miss"},
				{"GET", "/api/projects/" + p, nil, "v2", "name", "hit"},
				{"GET", "/api/tasks/" + task, nil, "t1", "title", "miss"},
				{"GET", "/api/tasks/" + task, nil, "t1", "title", "hit"},
				{"PATCH", "/api/tasks/" + task, map[string]any{"title": "t2"}, "t2", "title", ""},
				{"GET", "/api/tasks/" + task, nil, "t2", "title", "miss"},
			}
			for i, s := range steps {
				before := hits()
				r := e.must(http.StatusOK, s.method, s.path, a.token, s.body)
				if got := r.json(t)[s.field]; got != s.wantName {
					t.Fatalf("step %d %s %s: %s = %v, want %v (stale read?)", i, s.method, s.path, s.field, got, s.wantName)
				}
				if s.wantCache != "" && r.header.Get("X-Cache") != s.wantCache {
					t.Errorf("step %d %s %s: X-Cache = %q, want %q", i, s.method, s.path, r.header.Get("X-Cache"), s.wantCache)
				}
				if s.wantCache == "hit" && hits() != before+1 {
					t.Errorf("step %d: app_cache_hits_total went %v -> %v", i, before, hits())
				}
			}

			// Lists: cached, and a create or delete shows at once.
			count := func() float64 {
				return e.must(http.StatusOK, "GET", "/api/projects", a.token, nil).json(t)["total"].(float64)
			}
			if n := count(); n != 1 {
				t.Fatalf("total = %v", n)
			}
			if r := e.must(http.StatusOK, "GET", "/api/projects", a.token, nil); r.header.Get("X-Cache") != "hit" {
				t.Errorf("second list read X-Cache = %q", r.header.Get("X-Cache"))
			}
			p2 := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "other"}))
			if n := count(); n != 2 {
				t.Fatalf("total after create = %v, want 2", n)
			}
			e.must(http.StatusNoContent, "DELETE", "/api/projects/"+p2, a.token, nil)
			if n := count(); n != 1 {
				t.Fatalf("total after delete = %v, want 1", n)
			}
			e.must(http.StatusNotFound, "GET", "/api/projects/"+p2, a.token, nil)
			e.must(http.StatusNoContent, "DELETE", "/api/tasks/"+task, a.token, nil)
			e.must(http.StatusNotFound, "GET", "/api/tasks/"+task, a.token, nil)

			// Cached entries are per organization.
			b := e.register("B", "b@b.test")
			e.must(http.StatusNotFound, "GET", "/api/projects/"+p, b.token, nil)
			if r := e.must(http.StatusOK, "GET", "/api/projects", b.token, nil); r.json(t)["total"] != float64(0) {
				t.Errorf("org B sees org A's cached list: %s", r.raw)
			}
		})
	}
}

func TestRedisDownStillServesAndDegrades(t *testing.T) {
	rs := testserver.Redis(t)
	e := newEnv(t, withRedis(t, rs))
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "v1"}))
	e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
	if got := e.must(http.StatusOK, "GET", "/api/health", "", nil).json(t)["status"]; got != "healthy" {
		t.Fatalf("health with Redis up = %v", got)
	}

	rs.Stop()
	e.must(http.StatusOK, "PATCH", "/api/projects/"+p, a.token, map[string]any{"name": "v2"})
	r := e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
	if r.json(t)["name"] != "v2" {
		t.Errorf("read with Redis down: %s", r.raw)
	}
	e.must(http.StatusOK, "GET", "/api/projects", a.token, nil)
	h := e.must(http.StatusOK, "GET", "/api/health", "", nil).json(t)
	redisCheck := h["checks"].(map[string]any)["redis"].(map[string]any)
	if h["status"] != "degraded" || redisCheck["status"] != "down" {
		t.Errorf("health with Redis down = %v", h)
	}
	if v := testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues("redis")); v != 0 {
		t.Errorf("app_dependency_up{dependency=redis} = %v, want 0", v)
	}

	// Back up: the write made while Redis was down must not be hidden by
	// the entry cached before it.
	rs.Start()
	r = e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
	if r.json(t)["name"] != "v2" {
		t.Errorf("after Redis restart: stale %s", r.raw)
	}
}

// faultProxy forwards TCP to a real server and can cut the link, as a
// network partition between the app and Redis would, while Redis keeps
// its data.
type faultProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	hang   bool
	delay  time.Duration // added before each answer from the server
	conns  []net.Conn
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			if p.hang {
				// Accept and never answer, as a wedged server does.
				p.conns = append(p.conns, c)
				p.mu.Unlock()
				continue
			}
			up, err := net.DialTimeout("tcp", target, time.Second)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { p.copyAnswers(c, up); c.Close() }()
		}
	}()
	return p
}

// setHang makes the server behind the proxy stop answering: existing
// connections are dropped, new ones are accepted and left silent.
func (p *faultProxy) setHang(hang bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang = hang
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// copyAnswers forwards the server's answers, each after the current delay.
func (p *faultProxy) copyAnswers(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			d := p.delay
			p.mu.Unlock()
			time.Sleep(d)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *faultProxy) setDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

func (p *faultProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func TestFailedInvalidationNeverServesStale(t *testing.T) {
	rs := testserver.Redis(t)
	proxy := newFaultProxy(t, rs.Addr)
	e := newEnv(t, withRedis(t, &testserver.RedisServer{Addr: proxy.ln.Addr().String()}))
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "v1"}))
	e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
	if r := e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil); r.header.Get("X-Cache") != "hit" {
		t.Fatalf("not cached: X-Cache = %q", r.header.Get("X-Cache"))
	}

	proxy.setCut(true) // the write's invalidation fails; Redis keeps v1
	e.must(http.StatusOK, "PATCH", "/api/projects/"+p, a.token, map[string]any{"name": "v2"})
	proxy.setCut(false)

	for range 3 {
		r := e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
		if got := r.json(t)["name"]; got != "v2" {
			t.Fatalf("read after a write whose invalidation failed = %v, want v2 (X-Cache %q)", got, r.header.Get("X-Cache"))
		}
	}
}

// TestCrossReplicaStaleReadBounded: two replicas share one Redis; the
// writer's link to it is cut, so its write cannot invalidate. The writer
// reads its own write at once; the other replica may serve the old value
// (the documented bound) but no longer than until the link is back and the
// writer's retried invalidation gets through, well before the 60 s TTL.
func TestCrossReplicaStaleReadBounded(t *testing.T) {
	rs := testserver.Redis(t)
	proxy := newFaultProxy(t, rs.Addr)
	writer := newEnv(t, withRedis(t, &testserver.RedisServer{Addr: proxy.ln.Addr().String()}))
	reader := newEnvOn(t, writer.mongo, writer.mongo.URI, withRedis(t, rs))
	a := writer.register("Acme", "ada@acme.test")
	p := writer.id(writer.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "v1"}))
	reader.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
	if r := reader.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil); r.header.Get("X-Cache") != "hit" {
		t.Fatalf("not cached on the reader: X-Cache = %q", r.header.Get("X-Cache"))
	}

	proxy.setCut(true)
	writer.must(http.StatusOK, "PATCH", "/api/projects/"+p, a.token, map[string]any{"name": "v2"})
	if got := writer.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil).json(t)["name"]; got != "v2" {
		t.Fatalf("the writer reads %v after its own write, want v2", got)
	}
	t.Logf("while the writer's link is cut the reader serves %v (allowed up to CACHE_TTL)",
		reader.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil).json(t)["name"])

	proxy.setCut(false)
	back := time.Now()
	for {
		r := reader.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
		if r.json(t)["name"] == "v2" {
			t.Logf("the reader served v2 %v after the link came back", time.Since(back).Round(time.Millisecond))
			break
		}
		if time.Since(back) > 5*time.Second {
			t.Fatalf("the reader still serves the old value 5s after the writer's link came back (X-Cache %q)", r.header.Get("X-Cache"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The writer uses the cache again once its invalidation went through.
	deadline := time.Now().Add(5 * time.Second)
	for writer.do("GET", "/api/projects/"+p, a.token, nil).header.Get("X-Cache") == "" {
		if time.Now().After(deadline) {
			t.Fatal("the writer still bypasses the cache after its invalidation went through")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrossReplicaStaleReadAtMostTTL: if the writer never reaches Redis
// again, the other replica's old entry still ends with its TTL, the
// documented worst case.
func TestCrossReplicaStaleReadAtMostTTL(t *testing.T) {
	const ttl = 2 * time.Second
	withTTL := func(d *api.Deps, _ *health.Checker) { d.CacheTTL = ttl }
	rs := testserver.Redis(t)
	proxy := newFaultProxy(t, rs.Addr)
	writer := newEnv(t, withRedis(t, &testserver.RedisServer{Addr: proxy.ln.Addr().String()}), withTTL)
	reader := newEnvOn(t, writer.mongo, writer.mongo.URI, withRedis(t, rs), withTTL)
	a := writer.register("Acme", "ada@acme.test")
	p := writer.id(writer.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "v1"}))
	cached := time.Now()
	reader.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)

	proxy.setCut(true)
	writer.must(http.StatusOK, "PATCH", "/api/projects/"+p, a.token, map[string]any{"name": "v2"})
	for {
		r := reader.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil)
		if r.json(t)["name"] == "v2" {
			t.Logf("the reader served v2 %v after caching v1 (TTL %v)", time.Since(cached).Round(time.Millisecond), ttl)
			return
		}
		if time.Since(cached) > ttl+500*time.Millisecond {
			t.Fatalf("the reader still serves v1 %v after caching it, TTL %v", time.Since(cached), ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
