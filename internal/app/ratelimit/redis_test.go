package ratelimit

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/cache"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func newClient(t *testing.T, rawURL string) *redis.Client {
	t.Helper()
	opts, err := cache.RedisOptions(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisAllowsLimitThenDenies(t *testing.T) {
	srv := testserver.Redis(t)
	const limit, window = 3, 2 * time.Second
	l := NewRedis(newClient(t, srv.URL()), limit, window, nil)
	ctx := t.Context()
	for i := range limit {
		if ok, _, err := l.Allow(ctx, "api:1.2.3.4"); !ok || err != nil {
			t.Fatalf("request %d refused (err %v)", i+1, err)
		}
	}
	ok, retry, err := l.Allow(ctx, "api:1.2.3.4")
	if ok || err != nil {
		t.Fatalf("request over the limit: ok=%v err=%v", ok, err)
	}
	if retry <= 0 || retry > window {
		t.Errorf("retryAfter = %v, want in (0, %v]", retry, window)
	}
	if ok, _, _ := l.Allow(ctx, "api:5.6.7.8"); !ok {
		t.Error("another client was refused")
	}
}

func TestRedisWindowExpires(t *testing.T) {
	srv := testserver.Redis(t)
	l := NewRedis(newClient(t, srv.URL()), 1, 200*time.Millisecond, nil)
	ctx := t.Context()
	if ok, _, _ := l.Allow(ctx, "k"); !ok {
		t.Fatal("first request refused")
	}
	ok, retry, _ := l.Allow(ctx, "k")
	if ok {
		t.Fatal("second request allowed")
	}
	time.Sleep(retry + 20*time.Millisecond)
	if ok, _, _ := l.Allow(ctx, "k"); !ok {
		t.Error("refused after retryAfter elapsed")
	}
}

// TestRedisReplicasShareBudget: two limiters on one Redis, as two replicas
// of the app would have, hand out one budget between them.
func TestRedisReplicasShareBudget(t *testing.T) {
	srv := testserver.Redis(t)
	const limit = 10
	a := NewRedis(newClient(t, srv.URL()), limit, time.Minute, nil)
	b := NewRedis(newClient(t, srv.URL()), limit, time.Minute, nil)
	ctx := t.Context()
	allowed := 0
	for i := range 2 * limit {
		l := a
		if i%2 == 1 {
			l = b
		}
		ok, _, err := l.Allow(ctx, "api:1.2.3.4")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != limit {
		t.Errorf("replicas allowed %d requests together, want %d", allowed, limit)
	}
	// A limiter with another limit keeps its own counters.
	other := NewRedis(newClient(t, srv.URL()), 100, time.Minute, nil)
	if ok, _, _ := other.Allow(ctx, "api:1.2.3.4"); !ok {
		t.Error("a limiter with another limit shares the exhausted counter")
	}
}

func TestRedisConcurrentExact(t *testing.T) {
	srv := testserver.Redis(t)
	const limit = 25
	l := NewRedis(newClient(t, srv.URL()), limit, time.Minute, nil)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			for range 20 {
				ok, _, err := l.Allow(t.Context(), "k")
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != limit {
		t.Errorf("%d of 100 concurrent requests allowed, want exactly %d", allowed, limit)
	}
}

// TestRedisDownFallsBackToLocal: with Redis stopped the limiter keeps
// deciding, fast, per process; it says so in the log once; when Redis is
// back it is used again.
func TestRedisDownFallsBackToLocal(t *testing.T) {
	var logs testserver.LogBuffer
	srv := testserver.Redis(t, testserver.WithPassword("s3cret-pw"))
	const limit = 3
	// The app's own logger, not the global default: the warning must reach
	// the JSON log.
	l := NewRedis(newClient(t, srv.URL()), limit, time.Minute, slog.New(slog.NewJSONHandler(&logs, nil)))
	rl := l.(*redisLimiter)
	rl.cooldown = 50 * time.Millisecond
	ctx := t.Context()
	if ok, _, err := l.Allow(ctx, "k"); !ok || err != nil {
		t.Fatalf("with Redis up: ok=%v err=%v", ok, err)
	}

	srv.Stop()
	start := time.Now()
	var got []bool
	for range limit + 1 {
		ok, retry, err := l.Allow(ctx, "k")
		if err != nil {
			t.Fatalf("error surfaced instead of falling back: %v", err)
		}
		if !ok && retry <= 0 {
			t.Errorf("local denial without retryAfter")
		}
		got = append(got, ok)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("%d decisions with Redis down took %v", limit+1, took)
	}
	if want := []bool{true, true, true, false}; !equal(got, want) {
		t.Errorf("fallback decisions = %v, want %v (the local limit)", got, want)
	}
	time.Sleep(60 * time.Millisecond) // past the cooldown: Redis is tried again, and fails again
	_, _, _ = l.Allow(ctx, "k")
	if n := strings.Count(logs.String(), "Redis unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), srv.Password) {
		t.Error("log leaks the password")
	}

	srv.Start()
	time.Sleep(60 * time.Millisecond)
	// The Redis counter survived the restart (same data dir, or not): either
	// way the decision now comes from Redis, which the log records.
	if _, _, err := l.Allow(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "Redis is back") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
	if rl.degraded.Load() {
		t.Error("still degraded with Redis back")
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRedisHungDoesNotBlock: a Redis that accepts connections and never
// answers costs one OpTimeout, then requests are decided locally at once
// until the cooldown ends.
func TestRedisHungDoesNotBlock(t *testing.T) {
	addr := testserver.Silent(t) // accepts, never answers
	// A long timeout tells a Redis attempt (>= 1s) from a local decision
	// (well under it) even on a loaded machine; the socket timeouts are
	// raised so that the limiter's own deadline is the one that fires.
	opts, err := cache.RedisOptions("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	opts.ReadTimeout, opts.WriteTimeout = 5*time.Second, 5*time.Second
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	l := NewRedis(client, 2, time.Minute, nil)
	l.(*redisLimiter).timeout = time.Second
	ctx := t.Context()
	tests := []struct {
		name             string
		wantOK           bool
		minTook, maxTook time.Duration
	}{
		{"first: waits one timeout", true, time.Second, 1800 * time.Millisecond},
		{"second: local at once", true, 0, 500 * time.Millisecond},
		{"third: local limit", false, 0, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		start := time.Now()
		ok, _, err := l.Allow(ctx, "k")
		took := time.Since(start)
		if err != nil || ok != tt.wantOK {
			t.Errorf("%s: ok=%v err=%v, want ok=%v", tt.name, ok, err, tt.wantOK)
		}
		if took < tt.minTook || took > tt.maxTook {
			t.Errorf("%s: took %v, want in [%v, %v]", tt.name, took, tt.minTook, tt.maxTook)
		}
	}
}

// redisCount is the Redis counter of key's current window: the requests
// reserved from Redis so far.
func redisCount(t *testing.T, client *redis.Client, l Limiter, key string) int {
	t.Helper()
	n, err := client.Get(t.Context(), l.(*redisLimiter).prefix+key).Int()
	if err != nil {
		t.Fatalf("reading the counter of %s: %v", key, err)
	}
	return n
}

func TestRedisLeases(t *testing.T) {
	srv := testserver.Redis(t)
	client := newClient(t, srv.URL())
	tests := []struct {
		name           string
		limit, sent    int
		wantAllowed    int
		wantRedisCount int // requests reserved from Redis: round trips × lease
	}{
		{"exact below 10: one round trip per request", 5, 5, 5, 5},
		{"lease of limit/10", 100, 15, 15, 20},
		{"whole budget", 100, 100, 100, 100},
		{"refused flood costs one round trip", 3, 50, 3, 4},
		{"lease trimmed to the budget", 25, 30, 25, 28}, // 12 leases of 2, 1 of 1, then one refused reservation of 2
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewRedis(client, tt.limit, time.Minute, nil)
			key := "k" + strconv.Itoa(i)
			allowed := 0
			for range tt.sent {
				ok, retry, err := l.Allow(t.Context(), key)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					allowed++
				} else if retry <= 0 || retry > time.Minute {
					t.Errorf("refused with retryAfter %v", retry)
				}
			}
			if allowed != tt.wantAllowed {
				t.Errorf("allowed %d of %d, want %d", allowed, tt.sent, tt.wantAllowed)
			}
			if n := redisCount(t, client, l, key); n != tt.wantRedisCount {
				t.Errorf("Redis counter = %d, want %d", n, tt.wantRedisCount)
			}
		})
	}
}

// TestRedisReplicasLeasesNeverExceedLimit: with leases, two replicas
// together admit at most the limit, and at least the limit less one
// replica's unused lease.
func TestRedisReplicasLeasesNeverExceedLimit(t *testing.T) {
	srv := testserver.Redis(t)
	const limit = 100 // leases of 10
	a := NewRedis(newClient(t, srv.URL()), limit, time.Minute, nil)
	b := NewRedis(newClient(t, srv.URL()), limit, time.Minute, nil)
	allowed := 0
	for i := range 3 * limit {
		l := a
		if i%3 == 0 {
			l = b
		}
		ok, _, err := l.Allow(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	if allowed > limit || allowed < limit-(limit/leaseFraction-1) {
		t.Errorf("replicas admitted %d, want in [%d, %d]", allowed, limit-(limit/leaseFraction-1), limit)
	}
}

func TestRedisLeaseEndsWithWindow(t *testing.T) {
	srv := testserver.Redis(t)
	client := newClient(t, srv.URL())
	l := NewRedis(client, 100, 300*time.Millisecond, nil) // leases of 10
	if ok, _, _ := l.Allow(t.Context(), "k"); !ok {
		t.Fatal("refused")
	}
	time.Sleep(400 * time.Millisecond) // the window, and the 9 leased requests left, are gone
	if ok, _, _ := l.Allow(t.Context(), "k"); !ok {
		t.Fatal("refused in a new window")
	}
	if n := redisCount(t, client, l, "k"); n != 10 {
		t.Errorf("Redis counter of the new window = %d, want 10 (a fresh lease)", n)
	}
	if left := l.(*redisLimiter).leases["k"].remaining; left != 9 {
		t.Errorf("lease holds %d, want 9 (nothing carried over)", left)
	}
}

// TestRedisBurstReservesOneLeaseAtATime: 50 concurrent requests on a fresh
// key must not each reserve a lease (which would spend the budget on
// leases and refuse requests within it): reservations are one at a time.
func TestRedisBurstReservesOneLeaseAtATime(t *testing.T) {
	srv := testserver.Redis(t)
	client := newClient(t, srv.URL())
	const limit, goroutines, each = 1000, 50, 20 // leases of 100; exactly the budget
	l := NewRedis(client, limit, time.Minute, nil)
	var refused atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				ok, _, err := l.Allow(t.Context(), "burst")
				if err != nil {
					t.Error(err)
				}
				if !ok {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := refused.Load(); n != 0 {
		t.Errorf("%d of %d requests within the budget refused", n, limit)
	}
	if n := redisCount(t, client, l, "burst"); n != limit {
		t.Errorf("Redis counter = %d, want %d (10 leases, none wasted)", n, limit)
	}
}

// TestRedisClientGoneIsNotAnOutage: a request cancelled by its client
// while reserving must not switch the limiter to its local fallback.
func TestRedisClientGoneIsNotAnOutage(t *testing.T) {
	srv := testserver.Redis(t)
	l := NewRedis(newClient(t, srv.URL()), 3, time.Minute, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := l.Allow(ctx, "k"); err != nil {
		t.Fatalf("Allow with a cancelled request: %v", err)
	}
	rl := l.(*redisLimiter)
	if rl.degraded.Load() || rl.retryRedis.Load() != 0 {
		t.Error("a cancelled request put the limiter on its local fallback")
	}
}
