package api

import (
	"testing"
	"testing/synctest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestUserCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c userCache
		id := bson.NewObjectID()
		now := time.Now()
		_, epoch, ok := c.get(id, now)
		if ok {
			t.Fatal("hit in an empty cache")
		}
		c.put(id, cachedUser{role: "admin", expires: now.Add(userCheckTTL)}, epoch, now)
		if v, _, ok := c.get(id, time.Now()); !ok || v.role != "admin" {
			t.Fatalf("get after put = %+v, %v", v, ok)
		}
		time.Sleep(userCheckTTL)
		if _, _, ok := c.get(id, time.Now()); ok {
			t.Error("entry served past its TTL")
		}

		// A lookup that started before a change must not store what it
		// read: the change's forget wins.
		now = time.Now()
		_, epoch, _ = c.get(id, now)
		c.forget(id)
		c.put(id, cachedUser{role: "admin", expires: now.Add(userCheckTTL)}, epoch, now)
		if _, _, ok := c.get(id, now); ok {
			t.Error("a lookup racing a change stored the old state")
		}
	})
}
