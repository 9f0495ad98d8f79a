package httpmetrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// nopWriter is a ResponseWriter that costs nothing, so the benchmark
// measures the middleware alone.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

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
		for b.Loop() {
			handler.ServeHTTP(w, req)
		}
	})
	b.Run("instrumented", func(b *testing.B) {
		h := New(time.Second).Middleware(route, handler)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
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
func TestMiddlewareOverheadAllocs(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h := New(time.Second).Middleware(func(*http.Request) string { return "/api/projects/{id}" }, handler)
	req := httptest.NewRequest(http.MethodGet, "/api/projects/p1", nil)
	w := nopWriter{h: http.Header{}}
	h.ServeHTTP(w, req) // first request creates the series
	bare := testing.AllocsPerRun(1000, func() { handler.ServeHTTP(w, req) })
	instrumented := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) })
	if d := instrumented - bare; d > 2 {
		t.Errorf("middleware adds %.1f allocations per request, budget is 2", d)
	}
}
