// Package redislog routes go-redis's own diagnostics ("connection pool:
// failed to dial ...") through slog. go-redis otherwise prints them with the
// standard log package to stderr, unstructured, on every failed dial — noise
// in JSON logs, and repeated while a Redis is down.
package redislog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

type adapter struct{ logger *slog.Logger }

func (a adapter) Printf(ctx context.Context, format string, v ...any) {
	// The callers already report Redis failures with their own context;
	// go-redis's lines are detail for debugging.
	a.logger.DebugContext(ctx, fmt.Sprintf(format, v...))
}

// Install makes go-redis log through logger at debug level. It is process
// wide, as go-redis's logger is.
func Install(logger *slog.Logger) {
	redis.SetLogger(adapter{logger.With("component", "go-redis")})
}
