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
	end       time.Time // end of the Redis window, on the local clock (early by a round trip)
	spent     bool      // Redis said the window's budget is gone
	// reserving is closed when the reservation in flight for this key
	// ends: one at a time per key, or a burst at a window's start would
	// reserve a lease per request and spend the budget on leases.
	reserving chan struct{}
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

	log        *slog.Logger
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
// and tries Redis again every second. Those two lines go to logger
// (slog.Default() when nil).
func NewRedis(client *redis.Client, limit int, window time.Duration, logger *slog.Logger) Limiter {
	limit, window = max(limit, 1), max(window, time.Millisecond)
	if logger == nil {
		logger = slog.Default()
	}
	return &redisLimiter{
		log:      logger,
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
	for {
		now := time.Now()
		if now.UnixNano() < l.retryRedis.Load() {
			return l.fallback.Allow(ctx, key)
		}
		l.mu.Lock()
		ls := l.leaseFor(key, now)
		if now.Before(ls.end) {
			if ls.remaining > 0 {
				ls.remaining--
				l.mu.Unlock()
				return true, 0, nil
			}
			if ls.spent {
				l.mu.Unlock()
				return false, ls.end.Sub(now), nil
			}
		}
		if wait := ls.reserving; wait != nil {
			l.mu.Unlock()
			select {
			case <-wait: // decide again from the fresh lease
				continue
			case <-ctx.Done():
				return false, 0, fmt.Errorf("rate limit %q: %w", key, ctx.Err())
			}
		}
		done := make(chan struct{})
		ls.reserving = done
		l.mu.Unlock()

		granted, ttl, err := l.reserve(ctx, key)

		l.mu.Lock()
		ls.reserving = nil
		close(done)
		if err == nil {
			// Leases are only reserved once the last is used up or its
			// window ended: nothing of the old one is carried over.
			ls.end, ls.remaining, ls.spent = now.Add(ttl), max(granted-1, 0), granted == 0
		}
		l.mu.Unlock()
		if err != nil {
			l.retryRedis.Store(time.Now().Add(l.cooldown).UnixNano())
			if !l.degraded.Swap(true) {
				l.log.WarnContext(ctx, "rate limiter: Redis unavailable, limiting per process until it is back",
					slog.String("addr", l.client.Options().Addr), slog.Any("err", err))
			}
			return l.fallback.Allow(ctx, key)
		}
		if l.degraded.Swap(false) {
			l.log.InfoContext(ctx, "rate limiter: Redis is back, limits are shared again", slog.String("addr", l.client.Options().Addr))
		}
		if granted == 0 {
			return false, ttl, nil
		}
		return true, 0, nil
	}
}

// leaseFor returns key's lease, creating it; l.mu is held. Ended leases
// are swept at most once per window; past maxKeys arbitrary ones are
// dropped (their holders only lose what they reserved).
func (l *redisLimiter) leaseFor(key string, now time.Time) *lease {
	if ls := l.leases[key]; ls != nil {
		return ls
	}
	if !now.Before(l.nextSweep) {
		for k, ls := range l.leases {
			if !now.Before(ls.end) && ls.reserving == nil {
				delete(l.leases, k)
			}
		}
		l.nextSweep = now.Add(l.window)
	}
	for k := range l.leases {
		if len(l.leases) < l.maxKeys {
			break
		}
		delete(l.leases, k)
	}
	ls := &lease{}
	l.leases[key] = ls
	return ls
}

func (l *redisLimiter) reserve(ctx context.Context, key string) (int, time.Duration, error) {
	// Not the request's cancellation: a client that hangs up must not pass
	// for a Redis outage, and other requests may be waiting for this lease.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
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
