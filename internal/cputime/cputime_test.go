package cputime_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/cputime"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func TestProcessCountsWork(t *testing.T) {
	before := cputime.Process()
	buf := make([]byte, 1<<20)
	for i := 0; i < 200; i++ {
		sum := sha256.Sum256(buf)
		buf[0] = sum[0]
	}
	if used := cputime.Process() - before; used <= 0 {
		t.Fatalf("hashing 200 MiB used %s of CPU", used)
	}
}

func TestRedisCountsServerWork(t *testing.T) {
	srv := testserver.Redis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	ctx := t.Context()
	before := cputime.Redis(ctx, c)
	if before <= 0 {
		t.Fatalf("Redis CPU = %s, want > 0 for a running server", before)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cputime.Redis(ctx, c) <= before && time.Now().Before(deadline) {
		for i := 0; i < 2000; i++ {
			c.Set(ctx, "k", i, 0)
		}
	}
	if after := cputime.Redis(ctx, c); after <= before {
		t.Fatalf("Redis CPU did not grow under load: %s then %s", before, after)
	}
	if got := cputime.Redis(ctx, nil); got != 0 {
		t.Errorf("Redis(nil) = %s, want 0", got)
	}
}
