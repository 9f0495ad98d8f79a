package cache

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions parses a redis:// or rediss:// URL into client options
// suited to a cache and a rate limiter in the request path: context
// deadlines enforced on the socket (so OpTimeout really bounds an
// operation against a hung server), short dial and I/O timeouts, one
// command retry rather than go-redis' three, and a single dial attempt
// rather than five 100 ms apart: a Redis that refuses connections fails
// the operation at once with "connection refused" instead of holding it
// until its deadline. The error never contains the URL's password.
func RedisOptions(rawURL string) (*redis.Options, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// A *url.Error quotes the whole URL, password included.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("parsing redis URL %q: %w", Redact(rawURL), err)
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = time.Second
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.PoolTimeout = time.Second
	opts.MaxRetries = 1
	opts.DialerRetries = 1
	return opts, nil
}

// Redact returns rawURL with any password replaced, for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}
