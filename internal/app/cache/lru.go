package cache

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
)

// lru is the in-process cache: hashicorp's LRU, bounded to size entries by
// evicting the least recently used. It is built without a library TTL (which
// would start a goroutine that never ends, and allows one TTL for all
// entries): each entry carries its own expiry, is dropped when met expired
// and otherwise ages out like any other. Namespace versions share the
// bound; losing one is safe (see initialVersion).
type lru struct {
	metrics *httpmetrics.Metrics
	items   *expirable.LRU[string, lruEntry]
	// versionMu makes Version and Bump read-modify-write atomically: two
	// concurrent bumps must move the version twice, or an entry cached
	// between them would survive the second write.
	versionMu sync.Mutex
}

type lruEntry struct {
	val     []byte
	version int64
	expires time.Time // zero = never
}

// NewLRU returns an in-process cache of at most size entries (at least 1),
// safe for concurrent use. m may be nil.
func NewLRU(size int, m *httpmetrics.Metrics) Cache {
	return &lru{metrics: m, items: expirable.NewLRU[string, lruEntry](max(size, 1), nil, 0)}
}

func (c *lru) Get(_ context.Context, key string) ([]byte, bool, error) {
	e, ok := c.lookup(keyPrefix+key, time.Now())
	var val []byte
	if ok {
		val = append([]byte(nil), e.val...)
	}
	if c.metrics != nil {
		if ok {
			c.metrics.CacheHits.Inc()
		} else {
			c.metrics.CacheMisses.Inc()
		}
	}
	return val, ok, nil
}

// lookup returns the live entry under key, marking it recently used.
func (c *lru) lookup(key string, now time.Time) (lruEntry, bool) {
	e, ok := c.items.Get(key)
	if !ok {
		return lruEntry{}, false
	}
	if !e.expires.IsZero() && !now.Before(e.expires) {
		c.items.Remove(key)
		return lruEntry{}, false
	}
	return e, true
}

func (c *lru) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	var expires time.Time
	if ttl > 0 {
		expires = time.Now().Add(ttl)
	}
	c.items.Add(keyPrefix+key, lruEntry{val: append([]byte(nil), val...), expires: expires})
	return nil
}

func (c *lru) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		c.items.Remove(keyPrefix + k)
	}
	return nil
}

func (c *lru) Version(_ context.Context, namespace string) (int64, error) {
	c.versionMu.Lock()
	defer c.versionMu.Unlock()
	if e, ok := c.lookup(versionPrefix+namespace, time.Now()); ok {
		return e.version, nil
	}
	v := initialVersion()
	c.items.Add(versionPrefix+namespace, lruEntry{version: v})
	return v, nil
}

func (c *lru) Bump(_ context.Context, namespace string) error {
	c.versionMu.Lock()
	defer c.versionMu.Unlock()
	v := initialVersion()
	if e, ok := c.lookup(versionPrefix+namespace, time.Now()); ok {
		v = e.version + 1
	}
	c.items.Add(versionPrefix+namespace, lruEntry{version: v})
	return nil
}

func (c *lru) Ping(context.Context) error { return nil }
