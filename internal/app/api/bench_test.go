package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vigil-sh/vigil/internal/app/api"
	"github.com/vigil-sh/vigil/internal/app/cache"
	"github.com/vigil-sh/vigil/internal/app/health"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// BenchmarkGetProject measures GET /api/projects/{id} through the whole
// handler on FerretDB, without a cache (the baseline) and read through
// the in-process and the Redis cache.
func BenchmarkGetProject(b *testing.B) {
	backends := []struct {
		name string
		opt  func(b *testing.B) envOption
	}{
		{"nocache", func(*testing.B) envOption { return func(*api.Deps, *health.Checker) {} }},
		{"lru", func(*testing.B) envOption {
			return func(d *api.Deps, _ *health.Checker) { d.Cache = cache.NewLRU(1000, d.Metrics) }
		}},
		{"redis", func(b *testing.B) envOption { return withRedis(b, testserver.Redis(b)) }},
		// Baseline for the one-round-trip read: hiding the concrete type
		// makes cache.GetVersioned fall back to Version, then Get.
		{"redis-two-round-trips", func(b *testing.B) envOption {
			opt := withRedis(b, testserver.Redis(b))
			return func(d *api.Deps, c *health.Checker) {
				opt(d, c)
				d.Cache = struct{ cache.Cache }{d.Cache}
			}
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := newEnv(b, be.opt(b))
			a := e.register("Bench", "bench@bench.test")
			p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))
			h := e.srv.Config.Handler
			for b.Loop() {
				req := httptest.NewRequest("GET", "/api/projects/"+p, nil)
				req.Header.Set("Authorization", "Bearer "+a.token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
