package testserver_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func TestRedisStopStart(t *testing.T) {
	for _, pw := range []string{"", "s3cret"} {
		t.Run("password="+pw, func(t *testing.T) {
			var opts []testserver.RedisOption
			if pw != "" {
				opts = append(opts, testserver.WithPassword(pw))
			}
			srv := testserver.Redis(t, opts...)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: srv.Password, DialTimeout: time.Second, ReadTimeout: time.Second})
			defer rdb.Close()
			ctx := t.Context()
			if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			srv.Stop()
			if err := rdb.Ping(ctx).Err(); err == nil {
				t.Fatal("PING succeeded on a stopped server")
			}
			srv.Start()
			if err := rdb.Ping(ctx).Err(); err != nil {
				t.Fatalf("PING after restart: %v", err)
			}
			if pw != "" {
				bad := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "wrong"})
				defer bad.Close()
				if err := bad.Ping(ctx).Err(); err == nil {
					t.Fatal("wrong password accepted")
				}
			}
		})
	}
}

// TestRedisSentinel: WithSentinel starts a sentinel that monitors the
// master (and, through it, finds its replica).
func TestRedisSentinel(t *testing.T) {
	master := testserver.Redis(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	testserver.Redis(t, testserver.WithConfig("replicaof "+host+" "+port))
	sentinel := testserver.Redis(t, testserver.WithSentinel("cache", master))
	rdb := redis.NewClient(&redis.Options{Addr: sentinel.Addr, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer rdb.Close()
	want := "master0:name=cache,status=ok,address=" + master.Addr + ",slaves=1,sentinels=1"
	var info string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if info, err = rdb.Info(t.Context(), "sentinel").Result(); err == nil && strings.Contains(info, want) {
			return
		}
	}
	t.Fatalf("the sentinel's INFO sentinel never said %q; last:\n%s", want, info)
}

func TestMongoStopStartKeepsData(t *testing.T) {
	srv := testserver.Mongo(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	opts := options.Client().ApplyURI(srv.URI).SetServerSelectionTimeout(2 * time.Second)
	c, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	coll := c.Database("t").Collection("c")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "x", Value: 1}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	srv.Stop()
	if _, err := net.DialTimeout("tcp", srv.Addr, 200*time.Millisecond); err == nil {
		t.Fatal("stopped FerretDB still accepts connections")
	}
	srv.Start()
	n, err := coll.CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatalf("count after restart: %v", err)
	}
	if n != 1 {
		t.Fatalf("documents after restart = %d, want 1", n)
	}
}
