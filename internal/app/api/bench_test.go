package api_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

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
		// Baselines for the per-request user check: the same cached reads
		// without it (the check's cost is the ratio to "lru" and "redis").
		{"lru-without-user-check", func(*testing.B) envOption {
			return func(d *api.Deps, _ *health.Checker) { d.Cache = cache.NewLRU(1000, d.Metrics); api.WithoutUserCheck(d) }
		}},
		{"redis-without-user-check", func(b *testing.B) envOption {
			opt := withRedis(b, testserver.Redis(b))
			return func(d *api.Deps, c *health.Checker) { opt(d, c); api.WithoutUserCheck(d) }
		}},
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

// BenchmarkUserCheckCost measures what the per-request user check costs a
// cached read: two instances on one FerretDB and one in-process cache
// each, one without the check, served alternately so that both see the
// same machine noise. It reports each one's ns/op and their ratio.
func BenchmarkUserCheckCost(b *testing.B) {
	withLRU := func(d *api.Deps, _ *health.Checker) { d.Cache = cache.NewLRU(1000, d.Metrics) }
	checked := newEnv(b, withLRU)
	baseline := newEnvOn(b, checked.mongo, checked.mongo.URI, withLRU, func(d *api.Deps, _ *health.Checker) { api.WithoutUserCheck(d) })
	a := checked.register("Bench", "bench@bench.test")
	p := checked.id(checked.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))
	serve := func(h http.Handler) time.Duration {
		req := httptest.NewRequest("GET", "/api/projects/"+p, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		took := time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return took
	}
	var with, without []time.Duration
	for b.Loop() {
		with = append(with, serve(checked.srv.Config.Handler))
		without = append(without, serve(baseline.srv.Config.Handler))
	}
	// Medians: robust to the other tenants of a shared machine.
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Nanoseconds())
	}
	mean := func(d []time.Duration) float64 {
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		return float64(sum.Nanoseconds()) / float64(len(d))
	}
	// The mean includes the database lookup each user costs once per
	// userCheckTTL, and more of the machine's noise.
	b.ReportMetric(mean(with)/mean(without), "mean-checked/unchecked")
	mw, mo := median(with), median(without)
	b.ReportMetric(mw, "ns/checked-read")
	b.ReportMetric(mo, "ns/unchecked-read")
	b.ReportMetric(mw/mo, "checked/unchecked")
}
