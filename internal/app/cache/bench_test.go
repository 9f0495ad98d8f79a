package cache

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/testserver"

	"github.com/vigil-sh/vigil/internal/cputime"
)

// BenchmarkGetHit is the cached read path's cache cost on each backend:
// Version then Get, as two calls, or GetVersioned (one Redis round trip),
// from 50 goroutines as the load test's 50 connections would.
func BenchmarkGetHit(b *testing.B) {
	val := []byte(`{"id":"6b06cbaaa0cb10465c2c5fb7","name":"Apollo","status":"active","teamMembers":[]}`)
	for _, backend := range []string{"lru", "redis"} {
		for _, mode := range []string{"version+get", "getversioned"} {
			b.Run(backend+"/"+mode, func(b *testing.B) {
				var c Cache
				var client *redis.Client
				if backend == "lru" {
					c = NewLRU(10000, httpmetrics.New(0))
				} else {
					opts, err := RedisOptions(testserver.Redis(b).URL())
					if err != nil {
						b.Fatal(err)
					}
					client = redisClient(b, opts)
					c = NewRedis(client, httpmetrics.New(0))
				}
				ctx := b.Context()
				v, err := c.Version(ctx, "org")
				if err != nil {
					b.Fatal(err)
				}
				suffixes := make([]string, 100)
				for i := range suffixes {
					suffixes[i] = "project:" + strconv.Itoa(i)
					if err := c.Set(ctx, VersionedKey("org", v, suffixes[i]), val, time.Hour); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				cpu0, redis0 := cputime.Process(), cputime.Redis(ctx, client)
				defer func() {
					b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
					if client != nil {
						b.ReportMetric(float64(cputime.Redis(ctx, client)-redis0)/float64(b.N), "redis-cpu-ns/op")
					}
				}()
				// 25 goroutines per core: the load test's 50 connections. A
				// loaded machine can push an operation past OpTimeout: errors
				// are counted, and only more than 1% fails the benchmark.
				var errs atomic.Int64
				b.SetParallelism(25)
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						s := suffixes[i%len(suffixes)]
						i++
						var ok bool
						var err error
						if mode == "getversioned" {
							_, _, ok, err = GetVersioned(ctx, c, "org", s)
						} else {
							var v int64
							if v, err = c.Version(ctx, "org"); err == nil {
								_, ok, err = c.Get(ctx, VersionedKey("org", v, s))
							}
						}
						if err != nil || !ok {
							errs.Add(1)
						}
					}
				})
				b.ReportMetric(float64(errs.Load())/float64(b.N), "errors/op")
				if errs.Load()*100 > int64(b.N) {
					b.Errorf("%d of %d reads failed or missed", errs.Load(), b.N)
				}
			})
		}
	}
}
