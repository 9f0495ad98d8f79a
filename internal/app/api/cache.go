package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vigil-sh/vigil/internal/app/cache"
)

// cacheOpTimeout bounds one cache call: a slow cache must cost less than
// the database read it saves.
const cacheOpTimeout = 250 * time.Millisecond

// Cached reads are keyed under the organization's version, and every write
// in the organization bumps it: a read after a write can never see the old
// value, and no write has to know which list pages it affected.
func orgNamespace(org bson.ObjectID) string { return "org:" + org.Hex() }

// cachedJSON answers from the cache when it can, else from load, storing
// what load returned. Cache failures are logged and fall through.
func (s *server) cachedJSON(w http.ResponseWriter, r *http.Request, org bson.ObjectID, key string, load func(ctx context.Context) (any, error)) {
	ctx := r.Context()
	fullKey := ""
	if s.cache != nil && !s.suspect(org) {
		cctx, cancel := context.WithTimeout(ctx, cacheOpTimeout)
		// The version and the entry under it in one round trip.
		b, k, hit, err := cache.GetVersioned(cctx, s.cache, orgNamespace(org), key)
		cancel()
		switch {
		case err != nil:
			s.log.DebugContext(ctx, "cache unavailable, reading through", "err", err)
		case hit:
			w.Header().Set("X-Cache", "hit")
			writeRaw(w, http.StatusOK, b)
			return
		default:
			fullKey = k
		}
	}
	v, err := load(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.fail(w, r, fmt.Errorf("encoding %s: %w", key, err))
		return
	}
	if fullKey != "" {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cacheOpTimeout)
		if err := s.cache.Set(cctx, fullKey, b, s.cacheTTL); err != nil {
			s.log.DebugContext(ctx, "cache set failed", "err", err)
		}
		cancel()
		w.Header().Set("X-Cache", "miss")
	}
	writeRaw(w, http.StatusOK, b)
}

// invalidate bumps the organization's cache version after a write.
func (s *server) invalidate(ctx context.Context, org bson.ObjectID) {
	if s.cache == nil {
		return
	}
	if err := s.bump(ctx, org); err != nil {
		// Other replicas may serve entries cached before the write until
		// the bump gets through: it is retried in the background until it
		// does or the entries have expired (one TTL), and this replica
		// reads the organization from the database meanwhile.
		s.log.WarnContext(ctx, "cache invalidation failed; bypassing the cache for the organization and retrying", "err", err)
		s.pending.failed(s, org)
	}
}

func (s *server) bump(ctx context.Context, org bson.ObjectID) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cacheOpTimeout)
	defer cancel()
	return s.cache.Bump(cctx, orgNamespace(org))
}

// Retries of a failed invalidation back off from invalidationRetryMin to
// invalidationRetryMax: the latter bounds how long other replicas keep
// serving the old value once Redis is reachable again.
const (
	invalidationRetryMin = 100 * time.Millisecond
	invalidationRetryMax = time.Second
)

// pendingInvalidations are the organizations whose last bump failed. Each
// has at most one retry loop; gen counts failed writes, so that a retry
// which succeeded before a later write failed does not clear that write's
// bypass.
type pendingInvalidations struct {
	mu sync.Mutex
	m  map[bson.ObjectID]*pendingInvalidation
}

type pendingInvalidation struct {
	gen   uint64
	until time.Time // the entries cached before the last failed write have expired
}

func (p *pendingInvalidations) failed(s *server, org bson.ObjectID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	until := time.Now().Add(s.cacheTTL)
	s.uncached.Store(org, until)
	if p.m == nil {
		p.m = map[bson.ObjectID]*pendingInvalidation{}
	}
	if pi := p.m[org]; pi != nil {
		pi.gen++
		pi.until = until
		return
	}
	pi := &pendingInvalidation{gen: 1, until: until}
	p.m[org] = pi
	go p.retry(s, org, pi)
}

func (p *pendingInvalidations) retry(s *server, org bson.ObjectID, pi *pendingInvalidation) {
	backoff := invalidationRetryMin
	for {
		time.Sleep(backoff)
		backoff = min(2*backoff, invalidationRetryMax)
		p.mu.Lock()
		gen, until := pi.gen, pi.until
		if !time.Now().Before(until) {
			// Whatever was cached before the failed writes has expired.
			delete(p.m, org)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if err := s.bump(context.Background(), org); err != nil {
			continue
		}
		p.mu.Lock()
		if pi.gen == gen {
			delete(p.m, org)
			s.uncached.Delete(org)
			p.mu.Unlock()
			s.log.Info("cache invalidation retried successfully", "organization", org.Hex())
			return
		}
		p.mu.Unlock() // another write failed meanwhile: bump again
	}
}

// suspect reports whether org's cache entries may be stale because an
// invalidation failed within the last TTL.
func (s *server) suspect(org bson.ObjectID) bool {
	v, ok := s.uncached.Load(org)
	if !ok {
		return false
	}
	if time.Now().Before(v.(time.Time)) {
		return true
	}
	s.uncached.CompareAndDelete(org, v)
	return false
}
