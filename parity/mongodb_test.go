package parity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func init() {
	// FerretDB has no getDiagnosticData, through which the exporter reads
	// serverStatus ("failed to run command: getDiagnosticData" in its log),
	// while the agent asks serverStatus itself: on FerretDB only the agent
	// has the serverStatus families. Against MongoDB both have them, as
	// collectors/ tests with recorded replies. FerretDB has no
	// replSetGetStatus either (CommandNotFound, for both), so no mongodb_rs_*.
	allow["mongodb"] = []Allowed{
		{"collector_scrape_time_ms", MissingInVigil, "the exporter's own timing of its collectors; Vigil reports vigil_probe_duration_seconds"},
		{"mongodb_ss_*", ExtraInVigil, "serverStatus, which the exporter reads through getDiagnosticData, a command FerretDB lacks"},
		{"mongodb_instance_uptime_seconds", ExtraInVigil, "compatible-mode name of serverStatus.uptime, which the exporter reads through getDiagnosticData, a command FerretDB lacks"},
		{"mongodb_mongod_instance_uptime_seconds", ExtraInVigil, "compatible-mode name of serverStatus.uptime, which the exporter reads through getDiagnosticData, a command FerretDB lacks"},
		{"mongodb_ping_latency_seconds", ExtraInVigil, "the round trip of the ping that decides mongodb_up; the exporter times no command"},
	}
	// What does not move between the exporter's scrape and the agent's
	// probe of an idle FerretDB: its answer to ping, buildInfo and dbStats.
	stable["mongodb"] = []string{"mongodb_up", "mongodb_version_info", "mongodb_dbstats_*", "mongodb_mongod_db_*"}
}

// mongodbExporterArgs are the Percona exporter's collectors that the
// agent's mongodb kind has on by default: serverStatus (its diagnosticdata
// collector), replSetGetStatus and dbStats, under the compatible mode's
// names. Its own go_* and process_* are not the server's.
var mongodbExporterArgs = []string{"--compatible-mode", "--collector.diagnosticdata", "--collector.replicasetstatus",
	"--collector.dbstats", "--no-collector.exporter-metrics"}

// TestParityMongoDB runs Percona's mongodb_exporter and the agent's mongodb
// kind with its default statistics against the same embedded FerretDB,
// holding a database with one collection so that dbStats has something to
// report. FerretDB answers little of serverStatus and has no replica set,
// so this covers what both get from it; the full mapping is tested against
// recorded MongoDB 7 documents in collectors/.
func TestParityMongoDB(t *testing.T) {
	server := testserver.Mongo(t)
	seedMongo(t, server.URI)
	exp := testserver.MongoDBExporter(t, server.URI, mongodbExporterArgs...)
	agent := startAgent(t, fmt.Sprintf(`global: {interval: 2s, timeout: 1s}
disable_default_rules: true
targets:
  - name: db
    kind: mongodb
    mongodb: {uri: %q}
`, server.URI))
	compareTarget(t, agent.URL, comparison{name: "mongodb", agentName: "db", exporterURL: exp.URL + "/metrics",
		job: "mongodb", instance: server.Addr, healthy: "mongodb_up"}, nil)
}

// seedMongo writes one small collection into the database parity.
func seedMongo(t testing.TB, uri string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	docs := []any{bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: "a"}}, bson.D{{Key: "_id", Value: 2}, {Key: "name", Value: "b"}}}
	if _, err := c.Database("parity").Collection("items").InsertMany(ctx, docs); err != nil {
		t.Fatalf("seeding %s: %v", uri, err)
	}
}
