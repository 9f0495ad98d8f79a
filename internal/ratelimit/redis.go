package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
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

// fixedWindowScript counts a hit in the key's current window, opening a
// window of ARGV[1] ms on the first hit. It returns the count and the
// window's remaining milliseconds. A key left without expiry (PTTL -1, by
// a crash between INCR and PEXPIRE in an older version, or by hand) gets
// one, so a client can never be locked out forever.
var fixedWindowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

type redisLimiter struct {
	client   *redis.Client
	limit    int
	window   time.Duration
	prefix   string
	fallback *local
	timeout  time.Duration
	cooldown time.Duration

	degraded   atomic.Bool
	retryRedis atomic.Int64 // unix nanoseconds before which Redis is skipped
}

// NewRedis returns a limiter allowing limit requests per key per window
// across every process sharing client's Redis: a fixed window per key,
// opened by the key's first request, counted atomically by a Lua script.
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
		prefix:   "ratelimit:" + strconv.Itoa(limit) + ":" + strconv.FormatInt(window.Milliseconds(), 10) + ":",
		fallback: newLocal(limit, window, DefaultMaxKeys),
		timeout:  OpTimeout,
		cooldown: retryRedisAfter,
	}
}

func (l *redisLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if time.Now().UnixNano() < l.retryRedis.Load() {
		return l.fallback.Allow(ctx, key)
	}
	ok, retry, err := l.allowRedis(ctx, key)
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
	return ok, retry, nil
}

func (l *redisLimiter) allowRedis(ctx context.Context, key string) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := fixedWindowScript.Run(ctx, l.client, []string{l.prefix + key}, l.window.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %q: %w", key, err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("rate limit %q: script returned %v", key, res)
	}
	if res[0] > int64(l.limit) {
		return false, time.Duration(res[1]) * time.Millisecond, nil
	}
	return true, 0, nil
}
