package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func newClient(t *testing.T, rawURL string) *redis.Client {
	t.Helper()
	opts, err := RedisOptions(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return redisClient(t, opts)
}

func redisClient(tb testing.TB, opts *redis.Options) *redis.Client {
	c := redis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

type impl struct {
	name string
	new  func(t *testing.T, m *httpmetrics.Metrics) Cache
}

func impls() []impl {
	return []impl{
		{"redis", func(t *testing.T, m *httpmetrics.Metrics) Cache {
			return NewRedis(newClient(t, testserver.Redis(t).URL()), m)
		}},
		{"lru", func(_ *testing.T, m *httpmetrics.Metrics) Cache { return NewLRU(100, m) }},
	}
}

// TestCache runs the same contract against both implementations.
func TestCache(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			m := httpmetrics.New(0)
			c := im.new(t, m)
			ctx := t.Context()

			t.Run("miss", func(t *testing.T) {
				val, ok, err := c.Get(ctx, "absent")
				if err != nil || ok || val != nil {
					t.Errorf("Get(absent) = %q, %v, %v; want nil, false, nil", val, ok, err)
				}
			})
			t.Run("set get", func(t *testing.T) {
				want := []byte(`{"id":"p1","name":"Apollo"}`)
				if err := c.Set(ctx, "project:p1", want, time.Minute); err != nil {
					t.Fatal(err)
				}
				got, ok, err := c.Get(ctx, "project:p1")
				if err != nil || !ok || !bytes.Equal(got, want) {
					t.Fatalf("Get = %q, %v, %v; want %q", got, ok, err, want)
				}
				got[0] = 'X' // the caller owns the slice
				again, _, _ := c.Get(ctx, "project:p1")
				if !bytes.Equal(again, want) {
					t.Errorf("mutating a returned value changed the cache: %q", again)
				}
			})
			t.Run("overwrite", func(t *testing.T) {
				for _, v := range []string{"one", "two"} {
					if err := c.Set(ctx, "k", []byte(v), time.Minute); err != nil {
						t.Fatal(err)
					}
				}
				if got, _, _ := c.Get(ctx, "k"); string(got) != "two" {
					t.Errorf("Get after overwrite = %q, want two", got)
				}
			})
			t.Run("empty value is a hit", func(t *testing.T) {
				if err := c.Set(ctx, "empty", []byte{}, time.Minute); err != nil {
					t.Fatal(err)
				}
				if got, ok, err := c.Get(ctx, "empty"); err != nil || !ok || len(got) != 0 {
					t.Errorf("Get(empty) = %q, %v, %v", got, ok, err)
				}
			})
			t.Run("ttl", func(t *testing.T) {
				if err := c.Set(ctx, "short", []byte("v"), 50*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				if _, ok, _ := c.Get(ctx, "short"); !ok {
					t.Fatal("value gone right after Set")
				}
				deadline := time.Now().Add(2 * time.Second)
				for {
					_, ok, err := c.Get(ctx, "short")
					if err != nil {
						t.Fatal(err)
					}
					if !ok {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("value still there 2s after a 50ms TTL")
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
			t.Run("delete", func(t *testing.T) {
				for _, k := range []string{"a", "b", "c"} {
					if err := c.Set(ctx, k, []byte(k), time.Minute); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.Delete(ctx, "a", "b", "never-set"); err != nil {
					t.Fatal(err)
				}
				if err := c.Delete(ctx); err != nil {
					t.Errorf("Delete() with no keys: %v", err)
				}
				for k, want := range map[string]bool{"a": false, "b": false, "c": true} {
					if _, ok, _ := c.Get(ctx, k); ok != want {
						t.Errorf("after Delete, %s present = %v, want %v", k, ok, want)
					}
				}
			})
			t.Run("version and bump", func(t *testing.T) {
				v1, err := c.Version(ctx, "projects:org1")
				if err != nil {
					t.Fatal(err)
				}
				if v, _ := c.Version(ctx, "projects:org1"); v != v1 {
					t.Errorf("Version changed without Bump: %d then %d", v1, v)
				}
				other, _ := c.Version(ctx, "projects:org2")
				listKey := func(v int64) string { return fmt.Sprintf("projects:org1:v%d:page1", v) }
				if err := c.Set(ctx, listKey(v1), []byte("[old]"), time.Minute); err != nil {
					t.Fatal(err)
				}
				if err := c.Bump(ctx, "projects:org1"); err != nil {
					t.Fatal(err)
				}
				v2, _ := c.Version(ctx, "projects:org1")
				if v2 <= v1 {
					t.Errorf("version after Bump = %d, want > %d", v2, v1)
				}
				if _, ok, _ := c.Get(ctx, listKey(v2)); ok {
					t.Error("list cached under the old version is visible under the new one")
				}
				if v, _ := c.Version(ctx, "projects:org2"); v != other {
					t.Errorf("Bump of org1 moved org2's version: %d -> %d", other, v)
				}
			})
			t.Run("bump before first version", func(t *testing.T) {
				if err := c.Bump(ctx, "fresh"); err != nil {
					t.Fatal(err)
				}
				v1, _ := c.Version(ctx, "fresh")
				_ = c.Bump(ctx, "fresh")
				if v2, _ := c.Version(ctx, "fresh"); v2 != v1+1 {
					t.Errorf("versions %d then %d after one Bump", v1, v2)
				}
			})
			t.Run("ping", func(t *testing.T) {
				if err := c.Ping(ctx); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

func TestCacheCountsHitsAndMisses(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			m := httpmetrics.New(0)
			c := im.new(t, m)
			ctx := t.Context()
			_ = c.Set(ctx, "k", []byte("v"), time.Minute)
			for _, k := range []string{"k", "k", "k", "x", "y"} {
				if _, _, err := c.Get(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			if h, mi := testutil.ToFloat64(m.CacheHits), testutil.ToFloat64(m.CacheMisses); h != 3 || mi != 2 {
				t.Errorf("hits, misses = %v, %v; want 3, 2", h, mi)
			}
		})
	}
}

func TestCacheNilMetrics(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			c := im.new(t, nil)
			if _, _, err := c.Get(t.Context(), "k"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRedisVersionSharedAndSurvivesLoss: replicas share versions through
// Redis, and a version lost with Redis' data restarts above the old one.
func TestRedisVersionSharedAndSurvivesLoss(t *testing.T) {
	srv := testserver.Redis(t)
	client := newClient(t, srv.URL())
	a, b := NewRedis(client, nil), NewRedis(newClient(t, srv.URL()), nil)
	ctx := t.Context()

	va, _ := a.Version(ctx, "ns")
	if vb, _ := b.Version(ctx, "ns"); vb != va {
		t.Fatalf("replicas disagree on the version: %d vs %d", va, vb)
	}
	if err := a.Bump(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	bumped, _ := b.Version(ctx, "ns")
	if bumped != va+1 {
		t.Errorf("replica b sees %d after a's Bump, want %d", bumped, va+1)
	}
	if err := client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if v, _ := b.Version(ctx, "ns"); v <= bumped {
		t.Errorf("version after loss = %d, want > %d (old keys must stay unreachable)", v, bumped)
	}
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewLRU(3, nil)
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		_ = c.Set(ctx, k, []byte(k), time.Minute)
	}
	_, _, _ = c.Get(ctx, "a")             // a is now the most recent
	_ = c.Set(ctx, "d", nil, time.Minute) // evicts b
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok, _ := c.Get(ctx, k); ok != want {
			t.Errorf("%s present = %v, want %v", k, ok, want)
		}
	}
	if n := c.(*lru).items.Len(); n != 3 {
		t.Errorf("%d entries, bound is 3", n)
	}
}

func TestLRUVersionEvictedStillMovesForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewLRU(2, nil)
		ctx := t.Context()
		v1, _ := c.Version(ctx, "ns")
		_ = c.Bump(ctx, "ns")
		time.Sleep(time.Millisecond)
		_ = c.Set(ctx, "x", nil, 0)
		_ = c.Set(ctx, "y", nil, 0) // evicts the version
		if v, _ := c.Version(ctx, "ns"); v <= v1+1 {
			t.Errorf("version after eviction = %d, want > %d", v, v1+1)
		}
	})
}

func TestLRUTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewLRU(10, nil)
		ctx := t.Context()
		_ = c.Set(ctx, "ttl", []byte("v"), time.Minute)
		_ = c.Set(ctx, "forever", []byte("v"), 0)
		tests := []struct {
			after       time.Duration // since Set
			ttl, foreve bool
		}{
			{59 * time.Second, true, true},
			{time.Minute, false, true}, // expiry is inclusive
			{24 * time.Hour, false, true},
		}
		var slept time.Duration
		for _, tt := range tests {
			time.Sleep(tt.after - slept)
			slept = tt.after
			if _, ok, _ := c.Get(ctx, "ttl"); ok != tt.ttl {
				t.Errorf("after %v: ttl entry present = %v, want %v", tt.after, ok, tt.ttl)
			}
			if _, ok, _ := c.Get(ctx, "forever"); ok != tt.foreve {
				t.Errorf("after %v: no-ttl entry present = %v, want %v", tt.after, ok, tt.foreve)
			}
		}
	})
}

func TestLRUConcurrent(t *testing.T) {
	c := NewLRU(64, httpmetrics.New(0))
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprintf("k%d", (g*31+i)%100)
				_ = c.Set(ctx, k, []byte(k), time.Minute)
				if v, ok, _ := c.Get(ctx, k); ok && string(v) != k {
					t.Errorf("Get(%s) = %q", k, v)
				}
				_ = c.Bump(ctx, "ns")
				_, _ = c.Version(ctx, "ns")
				_ = c.Delete(ctx, k)
			}
		})
	}
	wg.Wait()
	if n := c.(*lru).items.Len(); n > 64 {
		t.Errorf("%d entries, bound is 64", n)
	}
}

// TestRedisDownFailsFast: with Redis stopped mid-test every operation
// returns an error, well within a second; after a restart the cache works
// again without being rebuilt.
func TestRedisDownFailsFast(t *testing.T) {
	srv := testserver.Redis(t)
	c := NewRedis(newClient(t, srv.URL()), httpmetrics.New(0))
	ctx := t.Context()
	if err := c.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	checkAllFail(t, c)
	srv.Start()
	if err := c.Set(ctx, "k2", []byte("v"), time.Minute); err != nil {
		t.Errorf("Set after Redis came back: %v", err)
	}
}

// TestRedisHungFailsWithinTimeout: a server that accepts connections and
// never answers costs each operation OpTimeout, not go-redis' defaults.
func TestRedisHungFailsWithinTimeout(t *testing.T) {
	addr := testserver.Silent(t) // accepts, never answers
	c := NewRedis(newClient(t, "redis://"+addr+"/0"), nil)
	checkAllFail(t, c)
}

func checkAllFail(t *testing.T, c Cache) {
	t.Helper()
	ops := []struct {
		name string
		op   func(context.Context) error
	}{
		{"Get", func(ctx context.Context) error { _, _, err := c.Get(ctx, "k"); return err }},
		{"Set", func(ctx context.Context) error { return c.Set(ctx, "k", []byte("v"), time.Minute) }},
		{"Delete", func(ctx context.Context) error { return c.Delete(ctx, "k") }},
		{"Version", func(ctx context.Context) error { _, err := c.Version(ctx, "ns"); return err }},
		{"Bump", func(ctx context.Context) error { return c.Bump(ctx, "ns") }},
		{"Ping", func(ctx context.Context) error { return c.Ping(ctx) }},
		{"GetVersioned", func(ctx context.Context) error { _, _, _, err := GetVersioned(ctx, c, "ns", "k"); return err }},
	}
	for _, o := range ops {
		start := time.Now()
		err := o.op(t.Context())
		took := time.Since(start)
		if err == nil {
			t.Errorf("%s succeeded against a dead Redis", o.name)
		}
		if took > time.Second {
			t.Errorf("%s took %v against a dead Redis, want < 1s", o.name, took)
		}
		if errors.Is(err, context.Canceled) {
			t.Errorf("%s: the test's own context was cancelled: %v", o.name, err)
		}
	}
}

func TestRedisOptionsRedactsPassword(t *testing.T) {
	tests := []struct {
		url     string
		wantErr bool
	}{
		{"redis://:s3cret@127.0.0.1:6379/0", false},
		{"redis://:s3cret@127.0.0.1:notaport/0", true},
		{"http://:s3cret@127.0.0.1:6379/0", true},
	}
	for _, tt := range tests {
		opts, err := RedisOptions(tt.url)
		if (err != nil) != tt.wantErr {
			t.Errorf("RedisOptions(%s) error = %v, want error %v", Redact(tt.url), err, tt.wantErr)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), []byte("s3cret")) {
			t.Errorf("error leaks the password: %v", err)
		}
		if err == nil && (!opts.ContextTimeoutEnabled || opts.Password != "s3cret") {
			t.Errorf("options = %+v", opts)
		}
	}
}

func TestGetVersioned(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			m := httpmetrics.New(0)
			c := im.new(t, m)
			ctx := t.Context()
			const ns, suffix = "org:abc", "project:p1"

			val, key, hit, err := GetVersioned(ctx, c, ns, suffix)
			if err != nil || hit || val != nil {
				t.Fatalf("first GetVersioned = %q, %v, %v; want a miss", val, hit, err)
			}
			v, err := c.Version(ctx, ns)
			if err != nil {
				t.Fatal(err)
			}
			if want := VersionedKey(ns, v, suffix); key != want {
				t.Errorf("key = %q, want %q (the version Version reports)", key, want)
			}
			if err := c.Set(ctx, key, []byte(`{"id":"p1"}`), time.Minute); err != nil {
				t.Fatal(err)
			}
			val, key2, hit, err := GetVersioned(ctx, c, ns, suffix)
			if err != nil || !hit || string(val) != `{"id":"p1"}` || key2 != key {
				t.Errorf("after Set: %q, %q, %v, %v", val, key2, hit, err)
			}
			if err := c.Bump(ctx, ns); err != nil {
				t.Fatal(err)
			}
			val, key3, hit, err := GetVersioned(ctx, c, ns, suffix)
			if err != nil || hit || key3 != VersionedKey(ns, v+1, suffix) {
				t.Errorf("after Bump: %q, %q, %v, %v; want a miss under v%d", val, key3, hit, err, v+1)
			}
			if h, mi := testutil.ToFloat64(m.CacheHits), testutil.ToFloat64(m.CacheMisses); h != 1 || mi != 2 {
				t.Errorf("hits, misses = %v, %v; want 1, 2", h, mi)
			}
		})
	}
}

func TestVersionedKey(t *testing.T) {
	// The format the API used before GetVersioned: keys must not change.
	if got, want := VersionedKey("org:1", 42, "projects:page=1"), fmt.Sprintf("%s:v%d:%s", "org:1", 42, "projects:page=1"); got != want {
		t.Errorf("VersionedKey = %q, want %q", got, want)
	}
}
