package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// OpTimeout bounds one Redis round trip of the limiter.
const OpTimeout = 100 * time.Millisecond

// retryRedisAfter is how long the limiter stays on its local fallback after
// a Redis error before trying Redis again, so a hung Redis costs one
// OpTimeout per interval rather than one per request.
const retryRedisAfter = time.Second

// leaseFraction sets the lease size: limit/leaseFraction requests (at least
// one) are reserved from Redis at a time.
const leaseFraction = 10

// reserveScript reserves up to ARGV[1] requests of the key's current
// window for one process, opening a window of ARGV[2] ms on the first
// reservation, against a budget of ARGV[3] per window. It returns how many
// were granted (0 once the budget is spent) and the window's remaining
// milliseconds. A key left without expiry (PTTL -1) gets one, so a client
// can never be locked out forever.
var reserveScript = redis.NewScript(`
local want = tonumber(ARGV[1])
local limit = tonumber(ARGV[3])
local n = redis.call('INCRBY', KEYS[1], want)
local ttl = redis.call('PTTL', KEYS[1])
if n == want or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
local before = n - want
local granted = 0
if before < limit then
  granted = math.min(want, limit - before)
end
return {granted, ttl}
`)

// lease is what this process holds of a key's current Redis window.
type lease struct {
	remaining int       // reserved requests not yet handed out
	end       time.Time // end of the Redis window, on the local clock
	spent     bool      // Redis said the window's budget is gone
}

type redisLimiter struct {
	client   *redis.Client
	limit    int
	window   time.Duration
	chunk    int
	prefix   string
	fallback *local
	timeout  time.Duration
	cooldown time.Duration

	mu        sync.Mutex
	leases    map[string]*lease
	maxKeys   int
	nextSweep time.Time

	degraded   atomic.Bool
	retryRedis atomic.Int64 // unix nanoseconds before which Redis is skipped
}

// NewRedis returns a limiter allowing limit requests per key per window
// across every process sharing client's Redis: a fixed window per key,
// opened by the key's first request and counted atomically by a Lua script.
//
// Each process reserves requests from Redis in leases of limit/10 (at
// least 1) and hands them out locally, and once Redis says a window is
// spent it refuses that key locally until the window ends: a busy client
// costs a Redis round trip per lease, a refused flood none. The price: the
// replicas together never admit more than limit, but may admit up to
// (replicas-1)×(lease-1) fewer, the unused ends of other replicas' leases.
// With limits of 10 or less every request goes to Redis and the budget is
// exact.
//
// Limiters with a different limit or window keep separate counters. When
// Redis fails the limiter decides locally (the same limit, per process)
// instead of failing the request, logs the outage once and its end once,
// and tries Redis again every second.
func NewRedis(client *redis.Client, limit int, window time.Duration) Limiter {
	limit, window = max(limit, 1), max(window, time.Millisecond)
	return &redisLimiter{
		client:   client,
		limit:    limit,
		window:   window,
		chunk:    max(limit/leaseFraction, 1),
		prefix:   "ratelimit:" + strconv.Itoa(limit) + ":" + strconv.FormatInt(window.Milliseconds(), 10) + ":",
		fallback: newLocal(limit, window, DefaultMaxKeys),
		timeout:  OpTimeout,
		cooldown: retryRedisAfter,
		leases:   map[string]*lease{},
		maxKeys:  DefaultMaxKeys,
	}
}

func (l *redisLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	now := time.Now()
	if now.UnixNano() < l.retryRedis.Load() {
		return l.fallback.Allow(ctx, key)
	}
	if ok, retry, decided := l.fromLease(key, now); decided {
		return ok, retry, nil
	}
	granted, ttl, err := l.reserve(ctx, key)
	if err != nil {
		l.retryRedis.Store(time.Now().Add(l.cooldown).UnixNano())
		if !l.degraded.Swap(true) {
			slog.Warn("rate limiter: Redis unavailable, limiting per process until it is back",
				slog.String("addr", l.client.Options().Addr), slog.Any("err", err))
		}
		return l.fallback.Allow(ctx, key)
	}
	if l.degraded.Swap(false) {
		slog.Info("rate limiter: Redis is back, limits are shared again", slog.String("addr", l.client.Options().Addr))
	}
	return l.store(key, now, granted, ttl)
}

// fromLease decides from what this process already holds of key's window,
// if it can.
func (l *redisLimiter) fromLease(key string, now time.Time) (ok bool, retry time.Duration, decided bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.leases[key]
	if ls == nil || !now.Before(ls.end) {
		return false, 0, false
	}
	if ls.remaining > 0 {
		ls.remaining--
		return true, 0, true
	}
	if ls.spent {
		return false, ls.end.Sub(now), true
	}
	return false, 0, false
}

// store records a reservation's outcome and decides the request that made it.
func (l *redisLimiter) store(key string, now time.Time, granted int, ttl time.Duration) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextSweep) {
		for k, ls := range l.leases {
			if !now.Before(ls.end) {
				delete(l.leases, k)
			}
		}
		l.nextSweep = now.Add(l.window)
	}
	ls := l.leases[key]
	if ls == nil {
		for k := range l.leases { // past the bound, drop arbitrary leases
			if len(l.leases) < l.maxKeys {
				break
			}
			delete(l.leases, k)
		}
		ls = &lease{}
		l.leases[key] = ls
	}
	if !now.Before(ls.end) {
		// A new window: what was left of the ended one is not ours any more.
		ls.remaining, ls.spent = 0, false
	}
	ls.end = now.Add(ttl)
	if granted == 0 {
		ls.spent = true
		if ls.remaining > 0 { // granted to a concurrent reservation meanwhile
			ls.remaining--
			return true, 0, nil
		}
		return false, ttl, nil
	}
	ls.remaining += granted - 1 // one is this request's
	return true, 0, nil
}

func (l *redisLimiter) reserve(ctx context.Context, key string) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := reserveScript.Run(ctx, l.client, []string{l.prefix + key},
		l.chunk, l.window.Milliseconds(), l.limit).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("rate limit %q: %w", key, err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("rate limit %q: script returned %v", key, res)
	}
	return int(res[0]), time.Duration(res[1]) * time.Millisecond, nil
}
