package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
)

// OpTimeout bounds every Redis operation of the cache: a slow cache must
// cost less than the database read it saves.
const OpTimeout = 250 * time.Millisecond

const (
	keyPrefix     = "cache:"
	versionPrefix = "cache:version:"
)

// bumpScript increments a namespace version, or starts it from the clock if
// it was lost (evicted, Redis restarted): INCR alone would restart at 1 and
// could meet keys written under an earlier 1.
var bumpScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCR', KEYS[1])
end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
`)

type redisCache struct {
	client  *redis.Client
	metrics *httpmetrics.Metrics
	timeout time.Duration
}

// NewRedis returns a cache on client. Keys live under "cache:". Each
// operation has its own OpTimeout deadline; for it to hold on a server that
// accepts connections but does not answer, client must be built with
// ContextTimeoutEnabled (see RedisOptions). m may be nil.
func NewRedis(client *redis.Client, m *httpmetrics.Metrics) Cache {
	return &redisCache{client: client, metrics: m, timeout: OpTimeout}
}

func (c *redisCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	val, err := c.client.Get(ctx, keyPrefix+key).Bytes()
	switch {
	case err == nil:
		c.hit()
		return val, true, nil
	case errors.Is(err, redis.Nil):
		c.miss()
		return nil, false, nil
	default:
		c.miss()
		return nil, false, fmt.Errorf("cache get %q: %w", key, err)
	}
}

func (c *redisCache) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if ttl < 0 {
		ttl = 0 // go-redis reads -1 as KEEPTTL
	}
	if err := c.client.Set(ctx, keyPrefix+key, val, ttl).Err(); err != nil {
		return fmt.Errorf("cache set %q: %w", key, err)
	}
	return nil
}

func (c *redisCache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = keyPrefix + k
	}
	if err := c.client.Del(ctx, full...).Err(); err != nil {
		return fmt.Errorf("cache delete %q: %w", keys, err)
	}
	return nil
}

func (c *redisCache) Version(ctx context.Context, namespace string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	key := versionPrefix + namespace
	v, err := c.client.Get(ctx, key).Int64()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("cache version %q: %w", namespace, err)
	}
	// First use (or lost): start from the clock. SET NX GET makes every
	// replica racing here agree on one winner.
	start := initialVersion()
	old, err := c.client.SetArgs(ctx, key, start, redis.SetArgs{Mode: "NX", Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return start, nil
	case err != nil:
		return 0, fmt.Errorf("cache version %q: %w", namespace, err)
	}
	v, err = strconv.ParseInt(old, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cache version %q: stored value %q: %w", namespace, old, err)
	}
	return v, nil
}

func (c *redisCache) Bump(ctx context.Context, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := bumpScript.Run(ctx, c.client, []string{versionPrefix + namespace}, initialVersion()).Err(); err != nil {
		return fmt.Errorf("cache bump %q: %w", namespace, err)
	}
	return nil
}

func (c *redisCache) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cache ping redis %s: %w", c.client.Options().Addr, err)
	}
	return nil
}

func (c *redisCache) hit() {
	if c.metrics != nil {
		c.metrics.CacheHits.Inc()
	}
}

func (c *redisCache) miss() {
	if c.metrics != nil {
		c.metrics.CacheMisses.Inc()
	}
}
