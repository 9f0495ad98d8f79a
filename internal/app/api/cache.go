package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cacheOpTimeout)
	defer cancel()
	if err := s.cache.Bump(cctx, orgNamespace(org)); err != nil {
		// Entries under the old version may still be served by the cache
		// once it is back, until they expire: this replica reads the
		// organization from the database for a TTL.
		s.log.WarnContext(ctx, "cache invalidation failed; bypassing the cache for the organization", "err", err)
		s.uncached.Store(org, time.Now().Add(s.cacheTTL))
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
