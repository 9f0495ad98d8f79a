package api_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/app/api"
	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/health"
)

// BenchmarkLiveDuringLoginFlood: the latency of GET /api/health/live while
// 8 clients log in as fast as they can (bcrypt cost 10), with bcrypt work
// unbounded (the baseline) and bounded to auth.DefaultSlots(). Reported as
// live-p50-ms and live-p99-ms; compare the two sub-benchmarks of one run.
func BenchmarkLiveDuringLoginFlood(b *testing.B) {
	for _, mode := range []string{"unbounded", "bounded"} {
		b.Run(mode, func(b *testing.B) {
			hasher, err := auth.NewHasher(10)
			if err != nil {
				b.Fatal(err)
			}
			e := newEnv(b, func(d *api.Deps, _ *health.Checker) {
				d.Hasher = hasher
				if mode == "bounded" {
					d.PasswordSlots = auth.NewSlots(0, 10*time.Second)
				}
			})
			e.register("Acme", "ada@acme.test")
			ctx, cancel := context.WithCancel(b.Context())
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for ctx.Err() == nil {
						e.do("POST", "/api/auth/login", "", map[string]string{"email": "ada@acme.test", "password": "correct horse"})
					}
				})
			}
			time.Sleep(200 * time.Millisecond) // the flood is under way
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if r := e.do("GET", "/api/health/live", "", nil); r.status != http.StatusOK {
					b.Fatalf("live = %d", r.status)
				}
				lat = append(lat, time.Since(start))
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "live-p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "live-p99-ms")
		})
	}
}
