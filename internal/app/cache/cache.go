// Package cache is the read-through cache of the app's hot reads: Redis when
// REDIS_URL is set (shared by every replica), else a bounded in-process LRU.
//
// Lists are invalidated by namespace versions rather than by deleting keys:
// a list's key embeds Version(namespace), and a write calls Bump(namespace),
// after which every key built with the old version is simply never read
// again and ages out by TTL. Versions start from the clock, not from zero,
// so a version lost to eviction or a Redis restart can never resurrect keys
// written under an older one. The Redis cache needs Redis 7.0 or later
// (SET NX GET).
package cache

import (
	"context"
	"time"
)

// Cache is what the API's read paths use. Errors mean the cache could not
// answer (Redis down or slow); callers fall back to the database.
type Cache interface {
	// Get returns the value stored under key, and whether there was one.
	// The returned slice is the caller's.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores val under key for ttl; ttl <= 0 means no expiry.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Delete removes keys; absent keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// Version is the current version of namespace, to embed in list keys.
	Version(ctx context.Context, namespace string) (int64, error)
	// Bump moves namespace to a new version, invalidating every key built
	// with an older one.
	Bump(ctx context.Context, namespace string) error
	// Ping checks the backend; nil for the in-process cache.
	Ping(ctx context.Context) error
}

// initialVersion is where a namespace without a stored version starts:
// the clock in nanoseconds exceeds any version reachable by bumping an
// earlier start (one bump per nanosecond is not a rate anyone reaches).
func initialVersion() int64 { return time.Now().UnixNano() }
