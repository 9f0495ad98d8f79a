package cache

import (
	"strconv"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/httpmetrics"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// BenchmarkGetHit is the cached read path's cache cost: Version of the
// namespace then Get of the entry, as the API does, on each backend.
func BenchmarkGetHit(b *testing.B) {
	val := []byte(`{"id":"6b06cbaaa0cb10465c2c5fb7","name":"Apollo","status":"active","teamMembers":[]}`)
	for _, backend := range []string{"lru", "redis"} {
		b.Run(backend, func(b *testing.B) {
			var c Cache
			if backend == "lru" {
				c = NewLRU(10000, httpmetrics.New(0))
			} else {
				opts, err := RedisOptions(testserver.Redis(b).URL())
				if err != nil {
					b.Fatal(err)
				}
				c = NewRedis(redisClient(b, opts), httpmetrics.New(0))
			}
			ctx := b.Context()
			for i := range 100 {
				if err := c.Set(ctx, "project:"+strconv.Itoa(i), val, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Version(ctx, "org"); err != nil {
					b.Fatal(err)
				}
				if _, ok, err := c.Get(ctx, "project:"+strconv.Itoa(i%100)); !ok || err != nil {
					b.Fatalf("miss or error: %v", err)
				}
				i++
			}
		})
	}
}
