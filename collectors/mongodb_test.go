package collectors

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func mongoTarget(name string, timeout time.Duration, mt config.MongoDBTarget) config.Target {
	return config.Target{
		Name:     name,
		Kind:     config.KindMongoDB,
		Timeout:  model.Duration(timeout),
		Interval: model.Duration(10 * time.Second),
		MongoDB:  &mt,
	}
}

// loadMongoFixture reads a reply kept in testdata/mongodb as Extended JSON.
func loadMongoFixture(t testing.TB, name string) bson.Raw {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "mongodb", name))
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	var doc bson.D
	if err := bson.UnmarshalExtJSON(data, false, &doc); err != nil {
		t.Fatalf("parsing fixture %s: %v", name, err)
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		t.Fatalf("marshalling fixture %s: %v", name, err)
	}
	return raw
}

func TestRedactMongoURI(t *testing.T) {
	tests := []struct {
		uri, wantSafe, wantSecret string
	}{
		{"mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/", ""},
		{"mongodb://app:hunter2@db-0:27017,db-1:27017/vigil?replicaSet=rs0&authSource=admin", "mongodb://app:xxxxx@db-0:27017,db-1:27017/vigil", "hunter2"},
		{"mongodb+srv://app:p%40ss@cluster0.example.net/?tlsCertificateKeyFilePassword=k3y", "mongodb+srv://app:xxxxx@cluster0.example.net/", "p%40ss"},
		{"mongodb://user@db-0", "mongodb://user@db-0", ""},
		{"not a uri hunter2", "<unparseable mongodb uri>", ""},
	}
	for _, tc := range tests {
		safe, secret := redactMongoURI(tc.uri)
		if safe != tc.wantSafe || secret != tc.wantSecret {
			t.Errorf("redactMongoURI(%q) = %q, %q; want %q, %q", tc.uri, safe, secret, tc.wantSafe, tc.wantSecret)
		}
	}
}

// TestMongoClusterRole: mongodb_up's cluster_role as Percona's exporter
// derives it from isMaster, here from the replies the probe has anyway.
func TestMongoClusterRole(t *testing.T) {
	doc := func(d bson.D) bson.Raw {
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name       string
		status, rs bson.Raw
		want       string
	}{
		{"standalone mongod", loadMongoFixture(t, "server_status.json"), nil, "mongod"},
		{"replica set primary", loadMongoFixture(t, "server_status.json"), loadMongoFixture(t, "replset_status.json"), "mongod"},
		{"replica set secondary", loadMongoFixture(t, "server_status.json"), loadMongoFixture(t, "replset_status_from_secondary.json"), "mongod"},
		{"arbiter", doc(bson.D{{Key: "process", Value: "mongod"}}), doc(bson.D{{Key: "set", Value: "rs0"}, {Key: "myState", Value: int32(7)}}), "arbiter"},
		{"mongos", doc(bson.D{{Key: "process", Value: "mongos"}}), nil, "mongos"},
		{"FerretDB", loadMongoFixture(t, "server_status_ferretdb.json"), nil, "mongod"},
		{"no serverStatus", nil, nil, "mongod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := clusterRole(tc.status, tc.rs); got != tc.want {
				t.Errorf("clusterRole = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMongoConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		target config.MongoDBTarget
		want   string
	}{
		{"empty uri", config.MongoDBTarget{}, "empty"},
		{"missing uri file", config.MongoDBTarget{URIFile: "/nonexistent/mongo-uri"}, "/nonexistent/mongo-uri"},
		{"bad scheme keeps password out", config.MongoDBTarget{URI: "mongo://app:hunter2@db-0/"}, "parsing mongodb uri"},
		{"bad option keeps password out", config.MongoDBTarget{URI: "mongodb://app:hunter2@db-0/?connectTimeoutMS=soon"}, "mongodb://app:xxxxx@db-0/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(mongoTarget("db", time.Second, tc.target), nil)
			if err == nil {
				t.Fatalf("New succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q: want it to contain %q and no password", err, tc.want)
			}
		})
	}
}

func TestMongoProbeFerretDB(t *testing.T) {
	srv := testserver.Mongo(t)
	uriFile := filepath.Join(t.TempDir(), "mongo-uri")
	if err := os.WriteFile(uriFile, []byte(srv.URI+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target config.MongoDBTarget
	}{
		{"uri", config.MongoDBTarget{URI: srv.URI}},
		{"uri file", config.MongoDBTarget{URIFile: uriFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProber(t, mongoTarget("db", 5*time.Second, tc.target))
			for i := range 2 { // the second probe reuses the pooled client
				res := probeWithTimeout(t, p, 5*time.Second)
				if !res.Success || res.Err != nil || res.Reason != "" {
					t.Fatalf("probe %d: success=%v reason=%q err=%v", i, res.Success, res.Reason, res.Err)
				}
				mfs := gatherProbe(t, res)
				// Percona's exporter says mongod for FerretDB too.
				if up := mustValue(t, mfs, "mongodb_up", "cluster_role", "mongod"); up != 1 {
					t.Errorf("mongodb_up = %v", up)
				}
				// blackbox "probes up" counts must not include databases.
				if _, ok := mfs["probe_success"]; ok {
					t.Errorf("a mongodb probe reports probe_success")
				}
				if l := mustValue(t, mfs, "mongodb_ping_latency_seconds"); l <= 0 || l > 5 {
					t.Errorf("mongodb_ping_latency_seconds = %v", l)
				}
				if u := mustValue(t, mfs, "mongodb_ss_uptime"); u < 0 || u > 600 {
					t.Errorf("mongodb_ss_uptime = %v", u)
				}
				// Percona's compatible-mode names, from what FerretDB answers.
				if u := mustValue(t, mfs, "mongodb_instance_uptime_seconds"); u != mustValue(t, mfs, "mongodb_ss_uptime") {
					t.Errorf("mongodb_instance_uptime_seconds = %v, want mongodb_ss_uptime's", u)
				}
				if v := mustValue(t, mfs, "mongodb_version_info", "edition", "Community", "vendor", "MongoDB"); v != 1 {
					t.Errorf("mongodb_version_info = %v", v)
				}
				for name := range mfs {
					if strings.HasPrefix(name, "mongodb_mongod_replset_") {
						t.Errorf("%s present for a server without replica set", name)
					}
				}
			}
		})
	}
}

func TestMongoProbeOutage(t *testing.T) {
	srv := testserver.Mongo(t)
	const timeout = 2 * time.Second
	p := newTestProber(t, mongoTarget("db", timeout, config.MongoDBTarget{URI: srv.URI}))
	steps := []struct {
		name   string
		action func()
		wantUp float64
	}{
		{"running", func() {}, 1},
		{"stopped", srv.Stop, 0},
		{"restarted", srv.Start, 1},
		// Restarted between two probes: the pooled connections are dead
		// and the probe must not report the client's problem as an outage.
		{"bounced", func() { srv.Stop(); srv.Start() }, 1},
	}
	for _, st := range steps {
		st.action()
		start := time.Now()
		res := probeWithTimeout(t, p, timeout)
		t.Logf("%s: probe took %v", st.name, time.Since(start))
		if took := time.Since(start); took > timeout+500*time.Millisecond {
			t.Errorf("%s: probe took %v, timeout %v", st.name, took, timeout)
		}
		mfs := gatherProbe(t, res)
		if up := mustValue(t, mfs, "mongodb_up"); up != st.wantUp {
			t.Fatalf("%s: mongodb_up = %v, want %v (reason %q, err %v)", st.name, up, st.wantUp, res.Reason, res.Err)
		}
		// The role is known only from a server that answered.
		if role := seriesLabels(mfs["mongodb_up"].GetMetric()[0])["cluster_role"]; (role == "mongod") != (st.wantUp == 1) || (role != "" && role != "mongod") {
			t.Errorf("%s: mongodb_up has cluster_role %q with value %v", st.name, role, st.wantUp)
		}
		if res.Success != (st.wantUp == 1) {
			t.Errorf("%s: success = %v", st.name, res.Success)
		}
		if st.wantUp == 0 {
			if res.Reason != ReasonConnect {
				t.Errorf("%s: reason %q, want %q (err %v)", st.name, res.Reason, ReasonConnect, res.Err)
			}
			if _, ok := mfs["mongodb_ping_latency_seconds"]; ok {
				t.Errorf("%s: ping latency reported for a failed ping", st.name)
			}
		}
	}
}

func TestMongoProbeHungServer(t *testing.T) {
	addr := testserver.Silent(t)
	const secret = "hunter2"
	tests := []struct {
		name     string
		uri      string
		deadline time.Duration
		timeout  time.Duration
	}{
		{"caller deadline", "mongodb://app:" + secret + "@" + addr + "/?directConnection=true", 400 * time.Millisecond, 10 * time.Second},
		{"target timeout", "mongodb://" + addr + "/", 10 * time.Second, 400 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProber(t, mongoTarget("db", tc.timeout, config.MongoDBTarget{URI: tc.uri}))
			limit := min(tc.deadline, tc.timeout)
			start := time.Now()
			res := probeWithTimeout(t, p, tc.deadline)
			if took := time.Since(start); took > limit+300*time.Millisecond {
				t.Errorf("probe took %v, limit %v", took, limit)
			}
			if res.Success || res.Reason != ReasonTimeout {
				t.Errorf("success=%v reason=%q err=%v, want a timeout", res.Success, res.Reason, res.Err)
			}
			checkNoSecret(t, res, secret)
			mfs := gatherProbe(t, res)
			if up := mustValue(t, mfs, "mongodb_up"); up != 0 {
				t.Errorf("mongodb_up = %v", up)
			}
		})
	}
}

// TestMongoProbeRefusedRedacts checks a failing probe names the server
// without the URI's password.
func TestMongoProbeRefusedRedacts(t *testing.T) {
	const secret = "s3cret-Pa55word"
	addr := testserver.Refused(t)
	p := newTestProber(t, mongoTarget("db", time.Second, config.MongoDBTarget{URI: "mongodb://app:" + secret + "@" + addr + "/admin"}))
	res := probeWithTimeout(t, p, time.Second)
	if res.Success || res.Reason != ReasonConnect {
		t.Fatalf("success=%v reason=%q err=%v, want connect", res.Success, res.Reason, res.Err)
	}
	if !strings.Contains(res.Err.Error(), addr) {
		t.Errorf("error %q does not name the server %s", res.Err, addr)
	}
	checkNoSecret(t, res, secret)
	if up := mustValue(t, gatherProbe(t, res), "mongodb_up"); up != 0 {
		t.Errorf("mongodb_up = %v", up)
	}
}

func TestMongoClientOptions(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		uri        string
		wantDirect *bool
	}{
		{"mongodb://db-0:27017/", &yes},
		{"mongodb://db-0:27017/?directConnection=false", &no},
		{"mongodb://db-0:27017/?replicaSet=rs0", nil},
		{"mongodb://db-0:27017,db-1:27017/", nil},
		{"mongodb://db-0:27017/?loadBalanced=true", nil},
		{"mongodb+srv://cluster0.example.net/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			pr, err := newMongoDB(mongoTarget("db", time.Second, config.MongoDBTarget{URI: tc.uri}), slog.Default())
			if err != nil {
				t.Fatal(err)
			}
			got := pr.(*mongoProber).clientOptions().Direct
			if (got == nil) != (tc.wantDirect == nil) || (got != nil && *got != *tc.wantDirect) {
				t.Errorf("Direct = %v, want %v", fmtBoolPtr(got), fmtBoolPtr(tc.wantDirect))
			}
			if mps := pr.(*mongoProber).clientOptions().MaxPoolSize; mps == nil || *mps != mongoPoolSize {
				t.Errorf("MaxPoolSize = %v, want %d", mps, mongoPoolSize)
			}
		})
	}
}

func fmtBoolPtr(b *bool) string {
	if b == nil {
		return "unset"
	}
	return strconv.FormatBool(*b)
}

func TestMongoProbeUnresolvable(t *testing.T) {
	tests := []struct{ name, uri string }{
		{"host", "mongodb://vigil-no-such-host.invalid:27017/"},
		{"srv", "mongodb+srv://app:hunter2@vigil-no-such-host.invalid/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProber(t, mongoTarget("db", time.Second, config.MongoDBTarget{URI: tc.uri}))
			start := time.Now()
			res := probeWithTimeout(t, p, time.Second)
			if took := time.Since(start); took > 1300*time.Millisecond {
				t.Errorf("probe took %v, timeout 1s", took)
			}
			if res.Success || res.Reason != ReasonDNS {
				t.Errorf("success=%v reason=%q err=%v, want dns", res.Success, res.Reason, res.Err)
			}
			checkNoSecret(t, res, "hunter2")
		})
	}
}

// TestMongoConnectionReuse proves probes share one client — the driver's
// monitoring connections plus a pool of at most mongoPoolSize — instead of
// connecting each time, and that Close releases them.
func TestMongoConnectionReuse(t *testing.T) {
	srv := testserver.Mongo(t)
	cc := newConnCounter(t, srv.Addr)
	p, err := New(mongoTarget("db", 5*time.Second, config.MongoDBTarget{URI: "mongodb://" + cc.Addr + "/"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	probe := func(n int) {
		for i := range n {
			if res := probeWithTimeout(t, p, 5*time.Second); !res.Success {
				t.Fatalf("probe %d: %s: %v", i, res.Reason, res.Err)
			}
		}
	}
	probe(5)
	after5 := cc.accepted.Load()
	probe(20)
	after25 := cc.accepted.Load()
	// Monitoring takes up to two connections (heartbeat and RTT), the pool
	// up to mongoPoolSize.
	if after25 != after5 || after25 > 2+mongoPoolSize {
		t.Errorf("connections opened: %d after 5 probes, %d after 25; want no growth and at most %d", after5, after25, 2+mongoPoolSize)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cc.waitOpen(t, 0)
}

// BenchmarkMongoProbeOverhead compares the ping latency the probe reports
// with a bare driver ping on a warm client against the same server.
func BenchmarkMongoProbeOverhead(b *testing.B) {
	srv := testserver.Mongo(b)
	ctx := b.Context()
	raw, err := mongo.Connect(options.Client().ApplyURI(srv.URI).SetMaxPoolSize(1).SetDirect(true))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = raw.Disconnect(context.Background()) })
	ping := bson.D{{Key: "ping", Value: 1}}
	if err := raw.Database("admin").RunCommand(ctx, ping).Err(); err != nil {
		b.Fatal(err)
	}
	p := newTestProber(b, mongoTarget("db", 5*time.Second, config.MongoDBTarget{URI: srv.URI}))
	_ = probeWithTimeout(b, p, 5*time.Second) // warm the client

	var rawTotal, reported time.Duration
	odd := false
	for b.Loop() {
		rawPing := func() {
			start := time.Now()
			if err := raw.Database("admin").RunCommand(ctx, ping).Err(); err != nil {
				b.Fatal(err)
			}
			rawTotal += time.Since(start)
		}
		probe := func() {
			res := probeWithTimeout(b, p, 5*time.Second)
			if !res.Success {
				b.Fatalf("probe failed: %v", res.Err)
			}
			if v, ok := sampleValue(families(res), "mongodb_ping_latency_seconds"); ok {
				reported += time.Duration(v * float64(time.Second))
			}
		}
		if odd {
			probe()
			rawPing()
		} else {
			rawPing()
			probe()
		}
		odd = !odd
	}
	n := float64(b.N)
	b.ReportMetric(float64(rawTotal.Nanoseconds())/n, "raw-ping-ns/op")
	b.ReportMetric(float64(reported.Nanoseconds())/n, "reported-ping-ns/op")
	b.ReportMetric(float64(reported)/float64(rawTotal), "reported/raw")
}
