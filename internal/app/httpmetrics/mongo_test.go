package httpmetrics

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func connect(t *testing.T, uri string, m *Metrics, maxPool uint64) *mongo.Client {
	t.Helper()
	cmd, pool := m.MongoMonitors()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).
		SetMonitor(cmd).SetPoolMonitor(pool).
		SetMaxPoolSize(maxPool).
		SetServerSelectionTimeout(2 * time.Second).
		SetTimeout(5 * time.Second))
	if err != nil {
		t.Fatalf("connecting to %s: %v", uri, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(ctx)
	})
	return client
}

func TestMongoMonitorsAgainstFerretDB(t *testing.T) {
	srv := testserver.Mongo(t)
	m := New(time.Hour) // nothing is that slow
	client := connect(t, srv.URI, m, 7)
	ctx := t.Context()
	coll := client.Database("vigil").Collection("projects")

	const inserts = 3
	for i := range inserts {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "n", Value: i}}); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	var doc bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "n", Value: 1}}).Decode(&doc); err != nil {
		t.Fatalf("find: %v", err)
	}
	// An unknown command fails on the server: counted under "other".
	if err := client.Database("vigil").RunCommand(ctx, bson.D{{Key: "noSuchCommand", Value: 1}}).Err(); err == nil {
		t.Fatal("unknown command succeeded")
	}

	if got := histCount(t, m, "insert"); got != inserts {
		t.Errorf("insert durations observed = %d, want %d", got, inserts)
	}
	if got := histCount(t, m, "find"); got != 1 {
		t.Errorf("find durations observed = %d, want 1", got)
	}
	if got := testutil.ToFloat64(m.MongoCommandFailures.WithLabelValues("other")); got != 1 {
		t.Errorf("failures{command=other} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.MongoCommandFailures.WithLabelValues("insert")); got != 0 {
		t.Errorf("failures{command=insert} = %v, want 0", got)
	}
	if n := testutil.CollectAndCount(m.MongoSlowOperations); n != 0 {
		t.Errorf("slow operations recorded under a 1h threshold: %d series", n)
	}

	if got := testutil.ToFloat64(m.MongoPoolMax); got != 7 {
		t.Errorf("pool max = %v, want 7", got)
	}
	idle := testutil.ToFloat64(m.MongoPoolConnections.WithLabelValues(poolIdle))
	inUse := testutil.ToFloat64(m.MongoPoolConnections.WithLabelValues(poolInUse))
	if inUse != 0 || idle < 1 || idle > 7 {
		t.Errorf("pool idle=%v in_use=%v after the operations, want idle in [1,7] and in_use 0", idle, inUse)
	}
	if n := m.mongo.tracked.Load(); n != 0 {
		t.Errorf("%d started commands still tracked after all finished", n)
	}

	// Disconnecting closes the pool: the gauges fall back to zero.
	if err := client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.MongoPoolMax); got != 0 {
		t.Errorf("pool max after disconnect = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.MongoPoolConnections.WithLabelValues(poolIdle)); got != 0 {
		t.Errorf("idle after disconnect = %v, want 0", got)
	}
}

func histCount(t *testing.T, m *Metrics, command string) uint64 {
	t.Helper()
	return histogramCount(t, m.MongoCommandDuration.WithLabelValues(command))
}

func TestMongoSlowOperations(t *testing.T) {
	srv := testserver.Mongo(t)
	m := New(time.Nanosecond) // every command is slow
	client := connect(t, srv.URI, m, 2)
	ctx := t.Context()
	coll := client.Database("vigil").Collection("time_entries")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "minutes", Value: 30}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.CountDocuments(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.MongoSlowOperations.WithLabelValues("insert")); got != 1 {
		t.Errorf("slow{insert} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.MongoSlowOperations.WithLabelValues("aggregate")); got != 1 { // CountDocuments is an aggregate
		t.Errorf("slow{aggregate} = %v, want 1", got)
	}
	if n := m.mongo.tracked.Load(); n != 0 {
		t.Errorf("%d started commands still tracked", n)
	}

	// A server that goes away mid-test: commands fail, none stays tracked.
	srv.Stop()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := coll.InsertOne(short, bson.D{{Key: "minutes", Value: 1}}); err == nil {
		t.Fatal("insert succeeded against a stopped server")
	}
	if n := m.mongo.tracked.Load(); n != 0 {
		t.Errorf("%d started commands still tracked after failures", n)
	}
}

func TestNormalizeCommand(t *testing.T) {
	tests := map[string]string{
		"find": "find", "findAndModify": "findAndModify", "findandmodify": "findAndModify",
		"ismaster": "isMaster", "isMaster": "isMaster", "getMore": "getMore",
		"": "other", "$where": "other", "dropEverything": "other",
	}
	for in, want := range tests {
		if got := NormalizeCommand(in); got != want {
			t.Errorf("NormalizeCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPoolEvents drives the pool monitor with the event sequences the
// driver emits, across two servers.
func TestPoolEvents(t *testing.T) {
	type want struct{ idle, inUse, max float64 }
	ev := func(typ, addr string) *event.PoolEvent { return &event.PoolEvent{Type: typ, Address: addr} }
	created := func(addr string, max uint64) *event.PoolEvent {
		return &event.PoolEvent{Type: event.ConnectionPoolCreated, Address: addr, PoolOptions: &event.MonitorPoolOptions{MaxPoolSize: max}}
	}
	tests := []struct {
		name   string
		events []*event.PoolEvent
		want   want
	}{
		{"pool created", []*event.PoolEvent{created("a", 10)}, want{0, 0, 10}},
		{"connection checked out", []*event.PoolEvent{
			created("a", 10), ev(event.ConnectionCreated, "a"), ev(event.ConnectionReady, "a"), ev(event.ConnectionCheckedOut, "a"),
		}, want{0, 1, 10}},
		{"checked back in", []*event.PoolEvent{
			created("a", 10), ev(event.ConnectionCreated, "a"), ev(event.ConnectionCheckedOut, "a"), ev(event.ConnectionCheckedIn, "a"),
		}, want{1, 0, 10}},
		{"two servers", []*event.PoolEvent{
			created("a", 10), created("b", 5),
			ev(event.ConnectionCreated, "a"), ev(event.ConnectionCreated, "a"), ev(event.ConnectionCreated, "b"),
			ev(event.ConnectionCheckedOut, "a"), ev(event.ConnectionCheckedOut, "b"),
		}, want{1, 2, 15}},
		{"closed while idle", []*event.PoolEvent{
			created("a", 10), ev(event.ConnectionCreated, "a"), ev(event.ConnectionClosed, "a"),
		}, want{0, 0, 10}},
		{"pool closed", []*event.PoolEvent{
			created("a", 10), created("b", 5), ev(event.ConnectionCreated, "a"), ev(event.ConnectionPoolClosed, "a"),
		}, want{0, 0, 5}},
		{"unbalanced events never go negative", []*event.PoolEvent{
			created("a", 10), ev(event.ConnectionCheckedIn, "a"), ev(event.ConnectionClosed, "a"),
		}, want{0, 0, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(0)
			_, pool := m.MongoMonitors()
			for _, e := range tt.events {
				pool.Event(e)
			}
			got := want{
				testutil.ToFloat64(m.MongoPoolConnections.WithLabelValues(poolIdle)),
				testutil.ToFloat64(m.MongoPoolConnections.WithLabelValues(poolInUse)),
				testutil.ToFloat64(m.MongoPoolMax),
			}
			if got != tt.want {
				t.Errorf("idle, in_use, max = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStartedCommandsBounded(t *testing.T) {
	m := New(time.Second)
	cmd, _ := m.MongoMonitors()
	raw, _ := bson.Marshal(bson.D{{Key: "find", Value: "projects"}})
	for i := range maxTrackedCommands + 100 {
		cmd.Started(t.Context(), &event.CommandStartedEvent{Command: raw, CommandName: "find", RequestID: int64(i)})
	}
	if n := m.mongo.tracked.Load(); n > maxTrackedCommands {
		t.Errorf("tracked %d commands, bound is %d", n, maxTrackedCommands)
	}
	// Finishing them empties the table.
	for i := range maxTrackedCommands + 100 {
		cmd.Failed(t.Context(), &event.CommandFailedEvent{CommandFinishedEvent: event.CommandFinishedEvent{CommandName: "find", RequestID: int64(i)}})
	}
	if n := m.mongo.tracked.Load(); n != 0 {
		t.Errorf("tracked %d commands after all finished, want 0", n)
	}
	if got := testutil.ToFloat64(m.MongoCommandFailures.WithLabelValues("find")); got != maxTrackedCommands+100 {
		t.Errorf("failures = %v", got)
	}
}

func TestStaleStartedCommandsSwept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(time.Second)
		cmd, _ := m.MongoMonitors()
		raw, _ := bson.Marshal(bson.D{{Key: "find", Value: "projects"}})
		for i := range maxTrackedCommands {
			cmd.Started(t.Context(), &event.CommandStartedEvent{Command: raw, CommandName: "find", RequestID: int64(i)})
		}
		time.Sleep(staleCommandAge + time.Minute) // the driver never finished them
		cmd.Started(t.Context(), &event.CommandStartedEvent{Command: raw, CommandName: "find", RequestID: -1})
		if n := m.mongo.tracked.Load(); n != 1 {
			t.Errorf("tracked = %d after the sweep, want 1 (the fresh command)", n)
		}
	})
}
