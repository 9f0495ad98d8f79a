package cache

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
)

// lru is the in-process cache: a map and a recency list under one mutex,
// bounded to size entries by evicting the least recently used. Expired
// entries are dropped when met and otherwise age out of the list like any
// other. Namespace versions share the bound; losing one is safe (see
// initialVersion).
type lru struct {
	metrics *httpmetrics.Metrics
	size    int

	mu      sync.Mutex
	entries map[string]*list.Element
	order   *list.List // front = most recently used
}

type lruEntry struct {
	key     string
	val     []byte
	version int64
	expires time.Time // zero = never
}

// NewLRU returns an in-process cache of at most size entries (at least 1),
// safe for concurrent use. m may be nil.
func NewLRU(size int, m *httpmetrics.Metrics) Cache {
	size = max(size, 1)
	return &lru{metrics: m, size: size, entries: make(map[string]*list.Element, min(size, 1024)), order: list.New()}
}

func (c *lru) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	e, ok := c.lookup(keyPrefix+key, time.Now())
	var val []byte
	if ok {
		val = append([]byte(nil), e.val...)
	}
	c.mu.Unlock()
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
func (c *lru) lookup(key string, now time.Time) (*lruEntry, bool) {
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*lruEntry)
	if !e.expires.IsZero() && !now.Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	c.order.MoveToFront(el)
	return e, true
}

func (c *lru) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	var expires time.Time
	if ttl > 0 {
		expires = time.Now().Add(ttl)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store(&lruEntry{key: keyPrefix + key, val: append([]byte(nil), val...), expires: expires})
	return nil
}

func (c *lru) store(e *lruEntry) {
	if el, ok := c.entries[e.key]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	for len(c.entries) >= c.size {
		c.remove(c.order.Back())
	}
	c.entries[e.key] = c.order.PushFront(e)
}

func (c *lru) remove(el *list.Element) {
	c.order.Remove(el)
	delete(c.entries, el.Value.(*lruEntry).key)
}

func (c *lru) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if el, ok := c.entries[keyPrefix+k]; ok {
			c.remove(el)
		}
	}
	return nil
}

func (c *lru) Version(_ context.Context, namespace string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.lookup(versionPrefix+namespace, time.Now()); ok {
		return e.version, nil
	}
	v := initialVersion()
	c.store(&lruEntry{key: versionPrefix + namespace, version: v})
	return v, nil
}

func (c *lru) Bump(_ context.Context, namespace string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.lookup(versionPrefix+namespace, time.Now()); ok {
		e.version++
		return nil
	}
	c.store(&lruEntry{key: versionPrefix + namespace, version: initialVersion()})
	return nil
}

func (c *lru) Ping(context.Context) error { return nil }
