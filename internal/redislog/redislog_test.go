package redislog_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/redislog"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func TestInstallRoutesGoRedisLogs(t *testing.T) {
	var buf testserver.LogBuffer
	redislog.Install(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))

	srv := testserver.Redis(t)
	srv.Stop() // a dial that fails makes go-redis log
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i := 0; i < 3 && !strings.Contains(buf.String(), "go-redis"); i++ {
		_ = c.Ping(ctx).Err()
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(buf.String(), `"component":"go-redis"`) || !strings.Contains(buf.String(), `"level":"DEBUG"`) {
		t.Fatalf("go-redis did not log through slog at debug; got %q", buf.String())
	}
}
