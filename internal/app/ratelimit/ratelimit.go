// Package ratelimit limits requests per client. The Redis limiter shares
// each client's budget across every replica of the app, reserving it in
// leases so that most decisions need no round trip; the local one keeps it
// in memory, for a single replica or while Redis is unreachable. Middleware
// applies them to the API by client address.
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
