package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/cache"
	"github.com/vigil-sh/vigil/internal/testserver"

	"github.com/vigil-sh/vigil/internal/cputime"
)

// BenchmarkAllow: one decision per request. Each client sends exactly its
// budget, so every request is allowed: with limit 10 every one is a Redis
// round trip, with limit 50 one in 5 (leases of limit/10).
func BenchmarkAllow(b *testing.B) {
	for _, tt := range []struct {
		name  string
		limit int
		redis bool
	}{
		{"local/limit=50", 50, false},
		{"redis/limit=10", 10, true},
		{"redis/limit=50", 50, true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var l Limiter
			var client *redis.Client
			if !tt.redis {
				l = NewLocal(tt.limit, time.Minute)
			} else {
				opts, err := cache.RedisOptions(testserver.Redis(b).URL())
				if err != nil {
					b.Fatal(err)
				}
				client = redis.NewClient(opts)
				b.Cleanup(func() { _ = client.Close() })
				l = NewRedis(client, tt.limit, time.Minute, nil)
			}
			ctx := b.Context()
			b.ReportAllocs()
			cpu0, redis0 := cputime.Process(), cputime.Redis(ctx, client)
			defer func() {
				b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
				if client != nil {
					b.ReportMetric(float64(cputime.Redis(ctx, client)-redis0)/float64(b.N), "redis-cpu-ns/op")
				}
			}()
			i := 0
			for b.Loop() {
				key := "api:" + strconv.Itoa(i/tt.limit)
				i++
				if ok, _, err := l.Allow(ctx, key); !ok || err != nil {
					b.Fatalf("refused or error: %v", err)
				}
			}
		})
	}
}

// BenchmarkMiddleware is the limiter middleware's cost per request around a
// bare handler, with the local limiter.
func BenchmarkMiddleware(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/api/projects/p1", nil)
	req.RemoteAddr = "192.0.2.7:4242"
	rec := httptest.NewRecorder()
	for _, tt := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", next},
		{"limited", Middleware(nil, NewLocal(1<<30, time.Minute), nil, next)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tt.h.ServeHTTP(rec, req)
			}
		})
	}
}
