package httpmetrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-sh/vigil/internal/cputime"
)

// nopWriter is a ResponseWriter that costs nothing, so the benchmark
// measures the middleware alone.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

// reportCPU adds cpu-ns/op: the process' CPU time per iteration. On a
// shared machine wall time per op swells with other tenants' load, CPU time
// much less so; both are reported.
func reportCPU(b *testing.B, run func()) {
	b.Helper()
	before := cputime.Process()
	run()
	b.ReportMetric(float64((cputime.Process()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkMiddleware compares the bare handler with the instrumented one
// in the same run; the budget is < 1 µs and <= 2 allocs of overhead.
func BenchmarkMiddleware(b *testing.B) {
	body := []byte(`{"id":"p1"}`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	route := func(*http.Request) string { return "/api/projects/{id}" }
	req := httptest.NewRequest(http.MethodGet, "/api/projects/p1", nil)
	w := nopWriter{h: http.Header{}}

	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		reportCPU(b, func() {
			for b.Loop() {
				handler.ServeHTTP(w, req)
			}
		})
	})
	b.Run("instrumented", func(b *testing.B) {
		h := New(time.Second).Middleware(route, handler)
		b.ReportAllocs()
		reportCPU(b, func() {
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	})
	// As in the app, whose outer middleware answers with an X-Request-ID:
	// the duration carries it as an exemplar.
	b.Run("instrumented_request_id", func(b *testing.B) {
		h := New(time.Second).Middleware(route, handler)
		wid := nopWriter{h: http.Header{"X-Request-Id": {"9f86d081884c7d659a2feaa0c55ad015"}}}
		b.ReportAllocs()
		reportCPU(b, func() {
			for b.Loop() {
				h.ServeHTTP(wid, req)
			}
		})
	})
	// promhttp is the stock instrumentation (counter + duration with
	// method and code), for reference: what the cached series and the
	// pooled writer save.
	b.Run("promhttp", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ref_requests_total", Help: "h"}, []string{"method", "code", "route"})
		duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ref_request_duration_seconds", Help: "h", Buckets: httpBuckets, NativeHistogramBucketFactor: 1.1,
		}, []string{"method", "code", "route"})
		reg.MustRegister(counter, duration)
		r := prometheus.Labels{"route": route(req)}
		h := promhttp.InstrumentHandlerCounter(counter.MustCurryWith(r),
			promhttp.InstrumentHandlerDuration(duration.MustCurryWith(r), handler))
		b.ReportAllocs()
		reportCPU(b, func() {
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	})
	b.Run("instrumented_parallel", func(b *testing.B) {
		h := New(time.Second).Middleware(route, handler)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.ServeHTTP(w, req)
			}
		})
	})
}

// TestMiddlewareOverheadAllocs holds the allocation budget as a test, so a
// regression fails `make test`, not only a benchmark someone has to read.
// With a request ID, as in the app, exemplars are spaced out: amortised,
// still within budget.
func TestMiddlewareOverheadAllocs(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	req := httptest.NewRequest(http.MethodGet, "/api/projects/p1", nil)
	for _, tt := range []struct {
		name string
		w    http.ResponseWriter
	}{
		{"no request id", nopWriter{h: http.Header{}}},
		{"request id", nopWriter{h: http.Header{"X-Request-Id": {"9f86d081884c7d659a2feaa0c55ad015"}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := New(time.Second).Middleware(func(*http.Request) string { return "/api/projects/{id}" }, handler)
			h.ServeHTTP(tt.w, req) // first request creates the series
			bare := testing.AllocsPerRun(1000, func() { handler.ServeHTTP(tt.w, req) })
			instrumented := testing.AllocsPerRun(1000, func() { h.ServeHTTP(tt.w, req) })
			if d := instrumented - bare; d > 2 {
				t.Errorf("middleware adds %.1f allocations per request, budget is 2", d)
			}
		})
	}
}
