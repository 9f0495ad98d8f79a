package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/vigil-sh/vigil/internal/app/cache"
)

// A read-through list under a namespace version: a write bumps the
// namespace, and the next read misses without any key being deleted.
func ExampleGetVersioned() {
	ctx := context.Background()
	c := cache.NewLRU(1000, nil) // or cache.NewRedis(client, metrics)
	const org = "org:6b06cbaaa0cb10465c2c5fb6"

	read := func() {
		val, key, hit, err := cache.GetVersioned(ctx, c, org, "projects:page=1")
		if err != nil {
			fmt.Println("cache unavailable, reading the database:", err)
			return
		}
		if hit {
			fmt.Printf("hit: %s\n", val)
			return
		}
		fmt.Println("miss: reading the database")
		_ = c.Set(ctx, key, []byte(`[{"name":"Apollo"}]`), time.Minute)
	}

	read()
	read()
	_ = c.Bump(ctx, org) // a project was created
	read()
	// Output:
	// miss: reading the database
	// hit: [{"name":"Apollo"}]
	// miss: reading the database
}
