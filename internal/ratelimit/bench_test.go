package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/cache"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// BenchmarkAllow: one decision per request, 256 clients, budget never
// exhausted; the Redis limiter is one script round trip.
func BenchmarkAllow(b *testing.B) {
	for _, backend := range []string{"local", "redis"} {
		b.Run(backend, func(b *testing.B) {
			var l Limiter
			if backend == "local" {
				l = NewLocal(1<<30, time.Minute)
			} else {
				opts, err := cache.RedisOptions(testserver.Redis(b).URL())
				if err != nil {
					b.Fatal(err)
				}
				client := redis.NewClient(opts)
				b.Cleanup(func() { _ = client.Close() })
				l = NewRedis(client, 1<<30, time.Minute)
			}
			keys := make([]string, 256)
			for i := range keys {
				keys[i] = "api:10.0.0." + strconv.Itoa(i)
			}
			ctx := b.Context()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if ok, _, err := l.Allow(ctx, keys[i%len(keys)]); !ok || err != nil {
					b.Fatalf("refused or error: %v", err)
				}
				i++
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
