package collectors

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// perconaMongoName reports names made by Percona's naming rules, which
// promlint faults (camelCase server fields, untyped families ending in
// _total, counters without it, ms and us units) and which its dashboards
// and the mongodb-mixin select as they are.
func perconaMongoName(name string) bool {
	for _, p := range []string{"mongodb_ss_", "mongodb_rs_", "mongodb_dbstats_", "mongodb_collstats_", "mongodb_indexstats_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, c := range mongoCompatConversions {
		if c.oldName == name {
			return true
		}
	}
	for _, s := range mongoSums {
		if s.name == name {
			return true
		}
	}
	return name == "mongodb_mongod_replset_member_ping_ms"
}

// mongoNamingProblem: only findings about a name's spelling are tolerated
// for Percona's names; missing help, duplicates or bad label names are not.
func mongoNamingProblem(text string) bool {
	for _, t := range []string{
		"metric names should be written in 'snake_case' not 'camelCase'",
		`counter metrics should have "_total" suffix`,
		`non-counter metrics should not have "_total" suffix`,
		`non-histogram and non-summary metrics should not have "_count" suffix`,
		"metric names should not contain abbreviated units",
		"use base unit",
		"metric name should not include type",
	} {
		if strings.Contains(text, t) {
			return true
		}
	}
	return false
}

// TestMongoMetricName checks Percona's naming rules (prometheusize).
func TestMongoMetricName(t *testing.T) {
	tests := []struct{ path, want string }{
		{"serverStatus.uptime", "mongodb_ss_uptime"},
		{"serverStatus.wiredTiger.cache.bytes currently in the cache", "mongodb_ss_wt_cache_bytes_currently_in_the_cache"},
		{"serverStatus.wiredTiger.transaction.transaction begins", "mongodb_ss_wt_txn_transaction_begins"},
		{"serverStatus.wiredTiger.checkpoint.max time (msecs)", "mongodb_ss_wt_checkpoint_max_time_msecs"},
		{"serverStatus.queues.execution.read.out", "mongodb_ss_wt_concurrentTransactions_read_out"},
		{"serverStatus.metrics.aggStageCounters.$match", "mongodb_ss_metrics_aggStageCounters_match"},
		{"serverStatus.metrics.commands.<UNKNOWN>", "mongodb_ss_metrics_commands_UNKNOWN"},
		{"replSetGetStatus.members.health", "mongodb_rs_members_health"},
		{"dbstats.dataSize", "mongodb_dbstats_dataSize"},
		{"collstats.storageStats.size", "mongodb_collstats_storageStats_size"},
		{"_weird__path_", "mongodb_weird_path"},
		// The cases of Percona's own TestPrometeusize and TestMetricName.
		{"serverStatus.wiredTiger.transaction.transaction checkpoint most recent time (msecs)", "mongodb_ss_wt_txn_transaction_checkpoint_most_recent_time_msecs"},
		{"serverStatus.wiredTiger.thread-yield.page acquire time sleeping (usecs)", "mongodb_ss_wt_thread_yield_page_acquire_time_sleeping_usecs"},
		{"serverStatus.opLatencies.reads.latency", "mongodb_ss_opLatencies_reads_latency"},
		{"replSetGetStatus.optimes.lastCommittedOpTime.t", "mongodb_rs_optimes_lastCommittedOpTime_t"},
		{"systemMetrics.memory.Active_kb", "mongodb_sys_memory_Active_kb"},
		{"local.oplog.rs.stats.wiredTiger.block-manager.checkpoint size", "mongodb_oplog_stats_wt_block_manager_checkpoint_size"},
		{"local.oplog.rs.stats.storageSize", "mongodb_oplog_stats_storageSize"},
		{"collstats_storage.wiredTiger.xxx", "mongodb_collstats_storage_wt_xxx"},
		{"collstats_storage.indexDetails.xxx", "mongodb_collstats_storage_idx_xxx"},
		{"collStats.storageStats.xxx", "mongodb_collstats_storage_xxx"},
		{"collStats.latencyStats.xxx", "mongodb_collstats_latency_xxx"},
		{"serverStatus.metrics.commands.saslStart.total", "mongodb_ss_metrics_commands_saslStart_total"},
		{"serverStatus.metrics.commands._configsvrShardCollection.failed", "mongodb_ss_metrics_commands_configsvrShardCollection_failed"},
		{"serverStatus.wiredTiger.lock.metadata lock acquisitions", "mongodb_ss_wt_lock_metadata_lock_acquisitions"},
	}
	for _, tc := range tests {
		if got := mongoMetricName(tc.path); got != tc.want {
			t.Errorf("mongoMetricName(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

type mongoWant struct {
	name   string
	labels []string
	value  float64
}

func checkMongoSeries(t *testing.T, s *sink, want []mongoWant, absent []string) map[string]bool {
	t.Helper()
	mfs := gatherProbe(t, Result{Families: s.families})
	for _, w := range want {
		if got := mustValue(t, mfs, w.name, w.labels...); got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
	for _, name := range absent {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s present", name)
		}
	}
	names := map[string]bool{}
	for n := range mfs {
		names[n] = true
	}
	return names
}

// TestMongoReplyMetrics feeds recorded MongoDB 7 replies through the code
// the probe runs on the server's answers and checks the series dashboards
// and alerts read, by name, labels and value.
func TestMongoReplyMetrics(t *testing.T) {
	rs := []string{"rs_nm", "rs0", "rs_state", "1"}
	l := func(kv ...string) []string { return append(slices.Clone(rs), kv...) }
	member := func(name, state, self string) []string {
		return []string{"name", name, "state", state, "set", "rs0", "self", self}
	}
	s := newSink()
	out := newMongoSeries(s)
	base := mongoReplyMetrics(out, loadMongoFixture(t, "server_status.json"), loadMongoFixture(t, "replset_status_arbiter.json"),
		&mongoBuild{version: "7.0.14", edition: "Community", vendor: "MongoDB"})
	if !slices.Equal(base, rs) {
		t.Errorf("topology labels %v, want %v", base, rs)
	}
	want := []mongoWant{
		// Flattened serverStatus (mongodb_ss_*), with the topology labels.
		{"mongodb_ss_uptime", l(), 86400},
		{"mongodb_ss_mem_resident", l(), 512},
		{"mongodb_ss_connections", l("conn_type", "current"), 42},
		{"mongodb_ss_connections", l("conn_type", "available"), 838818},
		{"mongodb_ss_opcounters", l("legacy_op_type", "query"), 1200000},
		{"mongodb_ss_opcountersRepl", l("legacy_op_type", "insert"), 0},
		{"mongodb_ss_asserts", l("assert_type", "user"), 57},
		{"mongodb_ss_network_bytesIn", l(), 987654321},
		{"mongodb_ss_globalLock_currentQueue", l("count_type", "writers"), 3},
		{"mongodb_ss_globalLock_activeClients_readers", l(), 3},
		{"mongodb_ss_metrics_document", l("doc_op_type", "returned"), 3400000},
		{"mongodb_ss_metrics_cursor_open", l("csr_type", "total"), 4},
		{"mongodb_ss_metrics_commands_find_total", l(), 1200000},
		{"mongodb_ss_metrics_queryExecutor_scannedObjects", l(), 9800000},
		{"mongodb_ss_metrics_aggStageCounters_match", l(), 4000},
		{"mongodb_ss_transactions_totalCommitted", l(), 40},
		{"mongodb_ss_transactions_commitTypes_noShards_successful", l(), 40},
		{"mongodb_ss_repl_isWritablePrimary", l(), 1},
		{"mongodb_ss_localTime", l(), 1795608000000}, // dates in ms, as Percona
		{"mongodb_ss_wt_cache_bytes_currently_in_the_cache", l(), 268435456},
		{"mongodb_ss_wt_cache_maximum_bytes_configured", l(), 1073741824},
		{"mongodb_ss_wt_txn_transactions_committed", l(), 300000},
		{"mongodb_ss_wt_perf", l("perf_bucket", "file system read latency histogram (bucket 1) - 10-49ms"), 3},
		{"mongodb_ss_tcmalloc_generic_heap_size", l(), 460000000},
		{"mongodb_ss_locks_Global_acquireCount_r", l(), 1700000},
		// Percona's special conversions: label instead of name suffix.
		{"mongodb_ss_opLatencies_latency", []string{"op_type", "reads"}, 123456789},
		{"mongodb_ss_opLatencies_ops", []string{"op_type", "writes"}, 250000},
		{"mongodb_ss_wt_concurrentTransactions_available", []string{"txn_rw", "write"}, 125},
		{"mongodb_ss_wt_concurrentTransactions_out", []string{"txn_rw", "read"}, 2},
		{"mongodb_ss_wt_concurrentTransactions_totalTickets", []string{"txn_rw", "read"}, 128},
		// Lock series from Percona's fixed table.
		{"mongodb_ss_locks_acquireCount", []string{"lock_mode", "W", "resource", "Global"}, 5},
		{"mongodb_ss_locks_timeAcquiringMicros", []string{"lock_mode", "w", "resource", "ReplicationStateTransition"}, 250},
		// Compatible mode: the v1 names the mixin and PMM dashboards read.
		{"mongodb_connections", l("state", "current"), 42},
		{"mongodb_connections", l("state", "available"), 838818},
		{"mongodb_op_counters_total", l("type", "insert"), 250000},
		{"mongodb_op_counters_total", l("type", "command"), 2800000},
		{"mongodb_mongod_op_counters_repl_total", l("type", "update"), 0},
		{"mongodb_memory", []string{"type", "resident"}, 512},
		{"mongodb_memory", []string{"type", "virtual"}, 3072},
		{"mongodb_instance_uptime_seconds", l(), 86400},
		{"mongodb_mongod_instance_uptime_seconds", l(), 86400},
		{"mongodb_asserts_total", l("type", "user"), 57},
		{"mongodb_extra_info_page_faults_total", l(), 12},
		{"mongodb_network_metrics_num_requests_total", l(), 4567890},
		{"mongodb_mongod_global_lock_current_queue", l("type", "reader"), 2},
		{"mongodb_mongod_global_lock_client", []string{"type", "writer"}, 1},
		{"mongodb_mongod_metrics_document_total", l("state", "inserted"), 250000},
		{"mongodb_mongod_metrics_cursor_open", l("state", "pinned"), 1},
		{"mongodb_mongod_metrics_cursor_timed_out_total", l(), 7},
		{"mongodb_mongod_metrics_operation_total", []string{"state", "scanAndOrder"}, 321},
		{"mongodb_mongod_metrics_query_executor_total", []string{"state", "scanned_objects"}, 9800000},
		{"mongodb_mongod_metrics_ttl_deleted_documents_total", l(), 900},
		{"mongodb_mongod_metrics_repl_buffer_max_size_bytes", l(), 268435456},
		{"mongodb_mongod_op_latencies_latency_total", []string{"type", "read"}, 123456789},
		{"mongodb_mongod_op_latencies_ops_total", []string{"type", "command"}, 2800000},
		{"mongodb_mongod_wiredtiger_cache_bytes", []string{"type", "total"}, 268435456},
		{"mongodb_mongod_wiredtiger_cache_max_bytes", l(), 1073741824},
		{"mongodb_mongod_wiredtiger_cache_bytes_total", []string{"type", "written"}, 2147483648},
		{"mongodb_mongod_wiredtiger_cache_pages", []string{"type", "dirty"}, 40},
		{"mongodb_mongod_wiredtiger_cache_pages_total", []string{"type", "read"}, 70000},
		{"mongodb_mongod_wiredtiger_cache_overhead_percent", l(), 8},
		{"mongodb_mongod_wiredtiger_cache_evicted_total", nil, 10000},
		{"mongodb_mongod_wiredtiger_concurrent_transactions_available_tickets", []string{"txn_rw", "read"}, 126},
		{"mongodb_mongod_wiredtiger_concurrent_transactions_out_tickets", []string{"txn_rw", "write"}, 3},
		{"mongodb_mongod_wiredtiger_concurrent_transactions_total_tickets", []string{"txn_rw", "write"}, 128},
		{"mongodb_mongod_wiredtiger_transactions_total", []string{"type", "rolled_back"}, 30000},
		{"mongodb_mongod_wiredtiger_transactions_checkpoint_milliseconds_total", l(), 57600},
		{"mongodb_mongod_wiredtiger_transactions_checkpoint_milliseconds", []string{"type", "max"}, 310},
		{"mongodb_mongod_wiredtiger_blockmanager_bytes_total", []string{"type", "read"}, 61440000},
		{"mongodb_mongod_wiredtiger_log_operations_total", []string{"type", "write"}, 250000},
		{"mongodb_mongod_wiredtiger_log_bytes_total", []string{"type", "payload"}, 90000000},
		{"mongodb_mongod_wiredtiger_session_open_sessions_total", l(), 18},
		{"mongodb_mongod_locks_time_acquiring_global_microseconds_total", nil, 1000},
		{"mongodb_mongod_storage_engine", []string{"engine", "wiredTiger"}, 1},
		{"mongodb_version_info", []string{"mongodb", "7.0.14", "edition", "Community", "vendor", "MongoDB"}, 1},
		// Replica set: flattened (mongodb_rs_*) and compatible.
		{"mongodb_rs_myState", l(), 1},
		{"mongodb_rs_members_health", l("member_idx", "mongo-arb.mongo:27017", "member_state", "ARBITER"), 1},
		{"mongodb_rs_members_state", l("member_idx", "mongo-1.mongo:27017", "member_state", "SECONDARY"), 2},
		{"mongodb_rs_members_optimeDate", l("member_idx", "mongo-1.mongo:27017"), 1795607987000},
		{"mongodb_rs_members_pingMs", l("member_idx", "mongo-2.mongo:27017"), 2},
		{"mongodb_mongod_replset_number_of_members", []string{"set", "rs0"}, 4},
		{"mongodb_mongod_replset_my_state", []string{"set", "rs0"}, 1},
		{"mongodb_mongod_replset_my_name", member("mongo-0.mongo:27017", "PRIMARY", "1"), 1},
		{"mongodb_mongod_replset_member_state", member("mongo-arb.mongo:27017", "ARBITER", "0"), 7},
		{"mongodb_mongod_replset_member_health", member("mongo-arb.mongo:27017", "ARBITER", "0"), 1},
		{"mongodb_mongod_replset_member_ping_ms", member("mongo-1.mongo:27017", "SECONDARY", "0"), 1},
		{"mongodb_mongod_replset_member_election_date", member("mongo-0.mongo:27017", "PRIMARY", "1"), 1795521600},
		{"mongodb_mongod_replset_member_config_version", member("mongo-arb.mongo:27017", "ARBITER", "0"), 2},
		// Lag from the primary's optime (11:59:59): the lagging secondary
		// 12 s, the caught-up one 0.
		{"mongodb_mongod_replset_member_replication_lag", member("mongo-1.mongo:27017", "SECONDARY", "0"), 12},
		{"mongodb_mongod_replset_member_replication_lag", member("mongo-2.mongo:27017", "SECONDARY", "0"), 0},
	}
	absent := []string{
		// The reply's envelope is not server status.
		"mongodb_ss_clusterTime_clusterTime", "mongodb_ss_operationTime",
		// Percona's conversions that can never match.
		"mongodb_mongod_durability_commits", "mongodb_instance_local_time",
	}
	checkMongoSeries(t, s, want, absent)

	// Lag for secondaries only: not the primary, not the arbiter.
	mfs := gatherProbe(t, Result{Families: s.families})
	var lagged []string
	for _, m := range mfs["mongodb_mongod_replset_member_replication_lag"].GetMetric() {
		lagged = append(lagged, seriesLabels(m)["name"])
	}
	slices.Sort(lagged)
	if want := []string{"mongo-1.mongo:27017", "mongo-2.mongo:27017"}; !slices.Equal(lagged, want) {
		t.Errorf("members with a lag series: %v, want %v", lagged, want)
	}
	// Every family of Percona's names carries one label set.
	for name, mf := range mfs {
		sets := map[string]bool{}
		for _, m := range mf.GetMetric() {
			sets[strings.Join(slices.Sorted(maps.Keys(seriesLabels(m))), ",")] = true
		}
		if len(sets) > 1 {
			t.Errorf("%s: label sets %v", name, slices.Sorted(maps.Keys(sets)))
		}
	}
}

// TestMongoReplyMetricsFerretDB: a server that reports little (FerretDB,
// no replica set) yields the few series it can, without topology labels.
func TestMongoReplyMetricsFerretDB(t *testing.T) {
	s := newSink()
	base := mongoReplyMetrics(newMongoSeries(s), loadMongoFixture(t, "server_status_ferretdb.json"), nil, nil)
	if base != nil {
		t.Errorf("topology labels %v for a standalone server", base)
	}
	names := checkMongoSeries(t, s, []mongoWant{
		{"mongodb_ss_uptime", nil, 12.5},
		{"mongodb_instance_uptime_seconds", nil, 12.5},
		{"mongodb_mongod_instance_uptime_seconds", nil, 12.5},
		{"mongodb_ss_metrics_commands_ping_total", nil, 3},
	}, []string{
		"mongodb_ss_connections", "mongodb_connections", "mongodb_memory", "mongodb_mongod_storage_engine",
		"mongodb_mongod_wiredtiger_cache_evicted_total", "mongodb_mongod_locks_time_acquiring_global_microseconds_total",
		"mongodb_version_info", "mongodb_mongod_replset_number_of_members", "mongodb_mongod_replset_my_state",
	})
	for n := range names {
		if strings.HasPrefix(n, "mongodb_rs_") || strings.HasPrefix(n, "mongodb_mongod_replset_") {
			t.Errorf("%s for a server without replica set", n)
		}
	}
}

// TestMongoTicketsBeforeQueues: a 6.0 server reports tickets under
// wiredTiger.concurrentTransactions, a 7.0 one under queues.execution;
// both give the same families.
func TestMongoTicketsBeforeQueues(t *testing.T) {
	tickets := bson.D{{Key: "out", Value: int32(1)}, {Key: "available", Value: int32(127)}, {Key: "totalTickets", Value: int32(128)}}
	doc, err := bson.Marshal(bson.D{{Key: "wiredTiger", Value: bson.D{{Key: "concurrentTransactions", Value: bson.D{
		{Key: "write", Value: tickets}, {Key: "read", Value: tickets},
	}}}}})
	if err != nil {
		t.Fatal(err)
	}
	s := newSink()
	mongoReplyMetrics(newMongoSeries(s), doc, nil, nil)
	checkMongoSeries(t, s, []mongoWant{
		{"mongodb_ss_wt_concurrentTransactions_available", []string{"txn_rw", "read"}, 127},
		{"mongodb_ss_wt_concurrentTransactions_out", []string{"txn_rw", "write"}, 1},
		{"mongodb_mongod_wiredtiger_concurrent_transactions_total_tickets", []string{"txn_rw", "write"}, 128},
	}, nil)
}

// TestMongoStatsMetrics feeds recorded dbStats, $collStats and $indexStats
// documents through the functions the probe calls for each.
func TestMongoStatsMetrics(t *testing.T) {
	s := newSink()
	out := newMongoSeries(s)
	db := []string{"database", "vigil"}
	coll := []string{"database", "vigil", "collection", "projects"}
	dbStatsMetrics(loadMongoFixture(t, "dbstats.json"), out, db)
	collStatsMetrics(loadMongoFixture(t, "collstats.json"), out, coll)
	indexStatsMetrics(loadMongoFixture(t, "indexstats.json"), out, coll)
	checkMongoSeries(t, s, []mongoWant{
		{"mongodb_dbstats_collections", db, 6},
		{"mongodb_dbstats_objects", db, 125000},
		{"mongodb_dbstats_dataSize", db, 51562500},
		{"mongodb_dbstats_storageSize", db, 20480000},
		{"mongodb_dbstats_indexes", db, 14},
		{"mongodb_dbstats_indexSize", db, 6291456},
		{"mongodb_dbstats_fsTotalSize", db, 107374182400},
		{"mongodb_mongod_db_collections_total", db, 6},
		{"mongodb_mongod_db_data_size_bytes", db, 51562500},
		{"mongodb_mongod_db_index_size_bytes", db, 6291456},
		{"mongodb_mongod_db_indexes_total", db, 14},
		{"mongodb_mongod_db_objects_total", db, 125000},
		{"mongodb_collstats_storageStats_count", coll, 5000},
		{"mongodb_collstats_storageStats_size", coll, 2048000},
		{"mongodb_collstats_storageStats_indexSizes", append(slices.Clone(coll), "index_name", "tenant_1_name_1"), 81920},
		{"mongodb_collstats_latencyStats_reads_ops", coll, 4200},
		{"mongodb_collstats_latencyStats_writes_latency", coll, 51000},
		{"mongodb_indexstats_accesses_ops", append(slices.Clone(coll), "key_name", "tenant_1_name_1"), 1532},
	}, []string{"mongodb_dbstats_operationTime", "mongodb_dbstats_clusterTime_clusterTime", "mongodb_indexstats_accesses_since"})
}

// TestMongoCollStatsShards: through mongos, $collStats and $indexStats
// answer one document per shard, told apart by a shard label.
func TestMongoCollStatsShards(t *testing.T) {
	s := newSink()
	out := newMongoSeries(s)
	coll := []string{"database", "vigil", "collection", "projects"}
	for _, shard := range []string{"shard-a", "shard-b"} {
		for _, doc := range []bson.D{
			{{Key: "shard", Value: shard}, {Key: "storageStats", Value: bson.D{{Key: "size", Value: int64(len(shard))}}}},
		} {
			raw, err := bson.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			collStatsMetrics(raw, out, coll)
		}
		raw, err := bson.Marshal(bson.D{{Key: "name", Value: "_id_"}, {Key: "shard", Value: shard}, {Key: "accesses", Value: bson.D{{Key: "ops", Value: int64(7)}}}})
		if err != nil {
			t.Fatal(err)
		}
		indexStatsMetrics(raw, out, coll)
	}
	checkMongoSeries(t, s, []mongoWant{
		{"mongodb_collstats_storageStats_size", append(slices.Clone(coll), "shard", "shard-a"), 7},
		{"mongodb_collstats_storageStats_size", append(slices.Clone(coll), "shard", "shard-b"), 7},
		{"mongodb_indexstats_accesses_ops", append(slices.Clone(coll), "shard", "shard-b", "key_name", "_id_"), 7},
	}, nil)
}

// TestMongoProbeStatsFerretDB probes a real FerretDB with databases and
// collections: dbStats by default within its limit, $collStats only when
// asked and only for the first collstats_limit collections, the rest
// counted in the debug log; what FerretDB cannot answer ($indexStats)
// leaves series out without failing the probe or using up its time.
func TestMongoProbeStatsFerretDB(t *testing.T) {
	srv := testserver.Mongo(t)
	c, err := mongo.Connect(options.Client().ApplyURI(srv.URI).SetDirect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	for _, ns := range []mongoNamespace{{"app", "a"}, {"app", "b"}, {"app", "c"}, {"other", "z"}} {
		if _, err := c.Database(ns.db).Collection(ns.coll).InsertOne(t.Context(), bson.D{{Key: "x", Value: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	no := false
	tests := []struct {
		name      string
		stats     config.MongoDBStats
		databases []string // with mongodb_dbstats_collections
		colls     []string // with mongodb_collstats_storageStats_count
		log       string   // in the debug log
	}{
		{name: "defaults", databases: []string{"app", "other"}},
		{name: "dbstats off", stats: config.MongoDBStats{DBStats: &no}},
		{name: "dbstats limit", stats: config.MongoDBStats{DBStatsLimit: 1}, databases: []string{"app"}, log: "skipped=1"},
		{
			name: "collstats limit", stats: config.MongoDBStats{DBStats: &no, CollStats: true, IndexStats: true, CollStatsLimit: 2},
			colls: []string{"app.a", "app.b"}, log: "skipped_collections=1 unlisted_databases=1",
		},
		{name: "collstats", stats: config.MongoDBStats{CollStats: true}, databases: []string{"app", "other"}, colls: []string{"app.a", "app.b", "app.c", "other.z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &testserver.LogBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p, err := New(mongoTarget("db", 5*time.Second, config.MongoDBTarget{URI: srv.URI, Stats: tc.stats}), logger)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			start := time.Now()
			res := probeWithTimeout(t, p, 5*time.Second)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("probe took %v", took)
			}
			if !res.Success {
				t.Fatalf("probe failed: %s: %v", res.Reason, res.Err)
			}
			mfs := gatherProbe(t, res)
			var dbs, colls []string
			for _, m := range mfs["mongodb_dbstats_collections"].GetMetric() {
				dbs = append(dbs, seriesLabels(m)["database"])
			}
			for _, m := range mfs["mongodb_collstats_storageStats_count"].GetMetric() {
				l := seriesLabels(m)
				colls = append(colls, l["database"]+"."+l["collection"])
			}
			slices.Sort(dbs)
			slices.Sort(colls)
			// FerretDB may list its own databases too; only ours count.
			dbs = slices.DeleteFunc(dbs, func(db string) bool { return db != "app" && db != "other" })
			if !slices.Equal(dbs, tc.databases) {
				t.Errorf("dbStats for %v, want %v", dbs, tc.databases)
			}
			if !slices.Equal(colls, tc.colls) {
				t.Errorf("$collStats for %v, want %v", colls, tc.colls)
			}
			if tc.databases != nil {
				if v := mustValue(t, mfs, "mongodb_dbstats_collections", "database", "app"); v != 3 {
					t.Errorf("mongodb_dbstats_collections{database=app} = %v, want 3", v)
				}
				if v := mustValue(t, mfs, "mongodb_mongod_db_collections_total", "database", "app"); v != 3 {
					t.Errorf("mongodb_mongod_db_collections_total{database=app} = %v, want 3", v)
				}
			}
			if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
				t.Errorf("debug log lacks %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

// TestMongoDocsListEveryFamily: docs/metrics.md (which the rules and
// dashboards tests read as the list of known names) names every family
// the recorded replies produce, or a documented name_* prefix covers it.
func TestMongoDocsListEveryFamily(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := newSink()
	out := newMongoSeries(s)
	base := mongoReplyMetrics(out, loadMongoFixture(t, "server_status.json"), loadMongoFixture(t, "replset_status_arbiter.json"), &mongoBuild{version: "7.0.14"})
	dbStatsMetrics(loadMongoFixture(t, "dbstats.json"), out, withLabel(base, "database", "vigil"))
	collStatsMetrics(loadMongoFixture(t, "collstats.json"), out, withLabel(base, "database", "vigil"))
	indexStatsMetrics(loadMongoFixture(t, "indexstats.json"), out, withLabel(base, "database", "vigil"))
	prefixes := regexp.MustCompile("`(mongodb_[a-z_]*_)\\*`").FindAllStringSubmatch(string(doc), -1)
	if len(prefixes) < 5 {
		t.Fatalf("found only %d mongodb_*_* prefixes in docs/metrics.md", len(prefixes))
	}
next:
	for _, mf := range s.families {
		name := mf.GetName()
		for _, p := range prefixes {
			if strings.HasPrefix(name, p[1]) {
				continue next
			}
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s is not in docs/metrics.md", name)
		}
	}
}

// BenchmarkMongoServerStatus compares turning a MongoDB 7 serverStatus into
// series with decoding the same reply into a bson.M, the first step of a
// map-based flattener such as Percona's, in the same run.
func BenchmarkMongoServerStatus(b *testing.B) {
	raw := loadMongoFixture(b, "server_status.json")
	var flat, decode time.Duration
	series := 0
	odd := false
	for b.Loop() {
		run := func() {
			start := time.Now()
			s := newSink()
			mongoReplyMetrics(newMongoSeries(s), raw, nil, nil)
			flat += time.Since(start)
			series = 0
			for _, mf := range s.families {
				series += len(mf.GetMetric())
			}
		}
		dec := func() {
			start := time.Now()
			var m bson.M
			if err := bson.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
			decode += time.Since(start)
		}
		if odd {
			run()
			dec()
		} else {
			dec()
			run()
		}
		odd = !odd
	}
	n := float64(b.N)
	b.ReportMetric(float64(flat.Nanoseconds())/n, "series-ns/op")
	b.ReportMetric(float64(decode.Nanoseconds())/n, "bson.M-ns/op")
	b.ReportMetric(float64(flat)/float64(decode), "series/bson.M")
	b.ReportMetric(float64(series), "series")
}

// TestMongoSeriesFamilies: one series per name and labels, and a family
// keeps its first series' label names and type, so gathering never fails
// and no value is read from the wrong field.
func TestMongoSeriesFamilies(t *testing.T) {
	s := newSink()
	out := newMongoSeries(s)
	// A labelled family whose fields' names would type them differently.
	doc, err := bson.Marshal(bson.D{{Key: "asserts", Value: bson.D{
		{Key: "regular", Value: int32(1)}, {Key: "rolloverCount", Value: int32(2)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	(&mongoFlattener{out: out}).reply("serverStatus", doc, nil)
	out.add(prometheus.GaugeValue, "mongodb_x", "x", 1, "a", "1")
	out.add(prometheus.GaugeValue, "mongodb_x", "x", 2, "a", "1")           // duplicate: dropped
	out.add(prometheus.GaugeValue, "mongodb_x", "x", 3, "a", "2", "b", "3") // other label names: dropped
	out.add(prometheus.GaugeValue, "mongodb_x", "x", 4, "a", "3", "b", "")  // an empty label is none
	checkMongoSeries(t, s, []mongoWant{
		{"mongodb_ss_asserts", []string{"assert_type", "regular"}, 1},
		{"mongodb_ss_asserts", []string{"assert_type", "rolloverCount"}, 2},
		{"mongodb_x", []string{"a", "1"}, 1},
		{"mongodb_x", []string{"a", "3"}, 4},
	}, nil)
	for _, mf := range s.families {
		if mf.GetName() == "mongodb_x" && len(mf.GetMetric()) != 2 {
			t.Errorf("mongodb_x has %d series, want 2", len(mf.GetMetric()))
		}
	}
}
