// Package ratelimit limits requests per client. The Redis limiter shares
// each client's budget across every replica of the app; the local one keeps
// it in memory, for a single replica or while Redis is unreachable.
package ratelimit

import (
	"context"
	"time"
)

// Limiter decides whether the request identified by key may proceed. When it
// may not, retryAfter says when the key's budget is next replenished.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}
