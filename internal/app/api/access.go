package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/store"
)

// userCheckTTL bounds how long a replica trusts what it last read of a
// user (existence, role, deactivation, token version). The replica that
// makes a change forgets its copy at once; other replicas see the change
// within this bound.
const userCheckTTL = time.Second

// maxCachedUsers bounds the cache's memory; past it the cache starts over.
const maxCachedUsers = 100_000

type cachedUser struct {
	org     bson.ObjectID
	role    string
	version int64
	active  bool
	expires time.Time
}

// userCache is a small TTL map rather than expirable.LRU, whose cleanup
// goroutine wakes every TTL/100 (every 10 ms here) and never exits.
type userCache struct {
	mu    sync.RWMutex
	m     map[bson.ObjectID]cachedUser
	epoch uint64 // bumped by forget, so a lookup racing a change is not stored
}

func (c *userCache) get(id bson.ObjectID, now time.Time) (cachedUser, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[id]
	return v, c.epoch, ok && now.Before(v.expires)
}

func (c *userCache) put(id bson.ObjectID, v cachedUser, epoch uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedUsers {
		for k, old := range c.m {
			if !now.Before(old.expires) {
				delete(c.m, k)
			}
		}
		if c.m == nil || len(c.m) >= maxCachedUsers {
			c.m = make(map[bson.ObjectID]cachedUser)
		}
	}
	c.m[id] = v
}

func (c *userCache) forget(id bson.ObjectID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.m, id)
}

// errRevoked answers a token whose user is gone, deactivated, moved or
// whose token version was bumped.
var errRevoked = errors.New("token revoked")

// currentUser checks that the token's user still exists in the token's
// organization, is active and has not had its tokens revoked, and returns
// its current role: a demoted admin's token carries "admin" for up to its
// lifetime, but only the stored role counts.
func (s *server) currentUser(ctx context.Context, id auth.Identity, user, org bson.ObjectID) (string, error) {
	if s.skipUserCheck {
		return id.Role, nil
	}
	now := time.Now()
	c, epoch, ok := s.users.get(user, now)
	if !ok {
		u, err := s.store.UserByID(ctx, user)
		if errors.Is(err, store.ErrNotFound) {
			return "", errRevoked
		}
		if err != nil {
			return "", err
		}
		c = cachedUser{org: u.Organization, role: u.Role, version: u.TokenVersion, active: !u.Deactivated, expires: now.Add(userCheckTTL)}
		s.users.put(user, c, epoch, now)
	}
	if c.org != org || !c.active || c.version != id.Version {
		return "", errRevoked
	}
	return c.role, nil
}
