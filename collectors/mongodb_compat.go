package collectors

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// mongoCompatConversions add the names of Percona's v1 exporter beside the
// flattened ones (its --compatible-mode, exporter/v1_compatibility.go):
// mongodb_connections{state}, mongodb_op_counters_total{type},
// mongodb_memory{type}, mongodb_mongod_wiredtiger_*, ... which PMM's
// dashboards and the mongodb-mixin read. Percona's list also holds entries
// that can never match (a newName with a "[r|w]" pattern, a prefix without
// suffixes, the typo "mongodb_ss_metric_document"); they are left out, since
// they add no series.
var mongoCompatConversions = []mongoConversion{
	{oldName: "mongodb_asserts_total", newName: "mongodb_ss_asserts", labelConversions: map[string]string{"assert_type": "type"}},
	{oldName: "mongodb_connections", newName: "mongodb_ss_connections", labelConversions: map[string]string{"conn_type": "state"}},
	{oldName: "mongodb_connections_metrics_created_total", newName: "mongodb_ss_connections_totalCreated"},
	{oldName: "mongodb_extra_info_page_faults_total", newName: "mongodb_ss_extra_info_page_faults"},
	{oldName: "mongodb_mongod_durability_journaled_megabytes", newName: "mongodb_ss_dur_journaledMB"},
	{oldName: "mongodb_mongod_durability_commits", newName: "mongodb_ss_dur_commits"},
	{oldName: "mongodb_mongod_background_flushing_average_milliseconds", newName: "mongodb_ss_backgroundFlushing_average_ms"},
	{oldName: "mongodb_mongod_global_lock_client", prefix: "mongodb_ss_globalLock_activeClients", suffixLabel: "type", suffixMapping: map[string]string{
		"readers": "reader", "writers": "writer", "total": "total",
	}},
	{
		oldName: "mongodb_mongod_global_lock_current_queue", newName: "mongodb_ss_globalLock_currentQueue",
		labelConversions:      map[string]string{"count_type": "type"},
		labelValueConversions: map[string]string{"readers": "reader", "writers": "writer"},
	},
	{oldName: "mongodb_mongod_instance_uptime_seconds", newName: "mongodb_ss_uptime"},
	{oldName: "mongodb_instance_uptime_seconds", newName: "mongodb_ss_uptime"},
	{oldName: "mongodb_memory", prefix: "mongodb_ss_mem", suffixLabel: "type", suffixMapping: map[string]string{
		"mapped": "mapped", "mappedWithJournal": "mapped_with_journal",
	}},
	{oldName: "mongodb_mongod_metrics_cursor_open", newName: "mongodb_ss_metrics_cursor_open", labelConversions: map[string]string{"csr_type": "state"}},
	{oldName: "mongodb_mongod_metrics_cursor_timed_out_total", newName: "mongodb_ss_metrics_cursor_timedOut"},
	{oldName: "mongodb_mongod_metrics_get_last_error_wtime_num_total", newName: "mongodb_ss_metrics_getLastError_wtime_num"},
	{oldName: "mongodb_mongod_metrics_get_last_error_wtimeouts_total", newName: "mongodb_ss_metrics_getLastError_wtimeouts"},
	{oldName: "mongodb_mongod_metrics_operation_total", prefix: "mongodb_ss_metrics_operation", suffixLabel: "state", suffixMapping: map[string]string{
		"scanAndOrder": "scanAndOrder", "writeConflicts": "writeConflicts",
	}},
	{oldName: "mongodb_mongod_metrics_record_moves_total", newName: "mongodb_ss_metrics_record_moves"},
	{oldName: "mongodb_mongod_metrics_repl_apply_batches_num_total", newName: "mongodb_ss_metrics_repl_apply_batches_num"},
	{oldName: "mongodb_mongod_metrics_repl_apply_batches_total_milliseconds", newName: "mongodb_ss_metrics_repl_apply_batches_totalMillis"},
	{oldName: "mongodb_mongod_metrics_repl_apply_ops_total", newName: "mongodb_ss_metrics_repl_apply_ops"},
	{oldName: "mongodb_mongod_metrics_repl_buffer_count", newName: "mongodb_ss_metrics_repl_buffer_count"},
	{oldName: "mongodb_mongod_metrics_repl_buffer_max_size_bytes", newName: "mongodb_ss_metrics_repl_buffer_maxSizeBytes"},
	{oldName: "mongodb_mongod_metrics_repl_buffer_size_bytes", newName: "mongodb_ss_metrics_repl_buffer_sizeBytes"},
	{oldName: "mongodb_mongod_metrics_repl_executor_unsignaled_events", newName: "mongodb_ss_metrics_repl_executor_unsignaledEvents"},
	{oldName: "mongodb_mongod_metrics_repl_network_bytes_total", newName: "mongodb_ss_metrics_repl_network_bytes"},
	{oldName: "mongodb_mongod_metrics_repl_network_getmores_num_total", newName: "mongodb_ss_metrics_repl_network_getmores_num"},
	{oldName: "mongodb_mongod_metrics_repl_network_getmores_total_milliseconds", newName: "mongodb_ss_metrics_repl_network_getmores_totalMillis"},
	{oldName: "mongodb_mongod_metrics_repl_network_ops_total", newName: "mongodb_ss_metrics_repl_network_ops"},
	{oldName: "mongodb_mongod_metrics_repl_network_readers_created_total", newName: "mongodb_ss_metrics_repl_network_readersCreated"},
	{oldName: "mongodb_mongod_metrics_ttl_deleted_documents_total", newName: "mongodb_ss_metrics_ttl_deletedDocuments"},
	{oldName: "mongodb_mongod_metrics_ttl_passes_total", newName: "mongodb_ss_metrics_ttl_passes"},
	{oldName: "mongodb_network_metrics_num_requests_total", newName: "mongodb_ss_network_numRequests"},
	{oldName: "mongodb_mongod_op_counters_repl_total", newName: "mongodb_ss_opcountersRepl", labelConversions: map[string]string{"legacy_op_type": "type"}},
	{oldName: "mongodb_op_counters_total", newName: "mongodb_ss_opcounters", labelConversions: map[string]string{"legacy_op_type": "type"}},
	{oldName: "mongodb_mongod_wiredtiger_cache_max_bytes", newName: "mongodb_ss_wt_cache_maximum_bytes_configured"},
	{oldName: "mongodb_mongod_wiredtiger_cache_overhead_percent", newName: "mongodb_ss_wt_cache_percentage_overhead"},
	{oldName: "mongodb_mongod_wiredtiger_concurrent_transactions_available_tickets", newName: "mongodb_ss_wt_concurrentTransactions_available"},
	{oldName: "mongodb_mongod_wiredtiger_concurrent_transactions_out_tickets", newName: "mongodb_ss_wt_concurrentTransactions_out"},
	{oldName: "mongodb_mongod_wiredtiger_concurrent_transactions_total_tickets", newName: "mongodb_ss_wt_concurrentTransactions_totalTickets"},
	{oldName: "mongodb_mongod_wiredtiger_log_records_scanned_total", newName: "mongodb_ss_wt_log_records_processed_by_log_scan"},
	{oldName: "mongodb_mongod_wiredtiger_session_open_cursors_total", newName: "mongodb_ss_wt_session_open_cursor_count"},
	{oldName: "mongodb_mongod_wiredtiger_session_open_sessions_total", newName: "mongodb_ss_wt_session_open_session_count"},
	{oldName: "mongodb_mongod_wiredtiger_transactions_checkpoint_milliseconds_total", newName: "mongodb_ss_wt_txn_transaction_checkpoint_total_time_msecs"},
	{oldName: "mongodb_mongod_wiredtiger_transactions_checkpoint_milliseconds_total", newName: "mongodb_ss_wt_checkpoint_total_time_msecs"},
	{oldName: "mongodb_mongod_wiredtiger_transactions_running_checkpoints", newName: "mongodb_ss_wt_txn_transaction_checkpoint_currently_running"},
	{oldName: "mongodb_mongod_wiredtiger_transactions_running_checkpoints", newName: "mongodb_ss_wt_checkpoint_currently_running"},
	{oldName: "mongodb_ss_tcmalloc_tcmalloc_thread_cache_free_bytes", newName: "mongodb_ss_tcmalloc_tcmalloc_thread_cache_free"},
	{oldName: "mongodb_mongod_wiredtiger_transactions_total", prefix: "mongodb_ss_wt_txn_transactions", suffixLabel: "type", suffixMapping: map[string]string{
		"begins": "begins", "checkpoints": "checkpoints", "committed": "committed", "rolled_back": "rolled_back",
	}},
	{oldName: "mongodb_mongod_wiredtiger_blockmanager_bytes_total", prefix: "mongodb_ss_wt_block_manager", suffixLabel: "type", suffixMapping: map[string]string{
		"bytes_read": "read", "mapped_bytes_read": "read_mapped", "bytes_written": "written",
	}},
	{oldName: "mongodb_mongod_wiredtiger_cache_bytes", prefix: "mongodb_ss_wt_cache_bytes", suffixLabel: "type", suffixMapping: map[string]string{
		// Percona's mapping, whose last two keys never match a name under
		// this prefix: only "total" appears.
		"currently_in_the_cache":                                 "total",
		"tracked_dirty_bytes_in_the_cache":                       "dirty",
		"tracked_bytes_belonging_to_internal_pages_in_the_cache": " internal_pages",
		"tracked_bytes_belonging_to_leaf_pages_in_the_cache":     "internal_pages",
	}},
	{oldName: "mongodb_mongod_wiredtiger_cache_bytes_total", prefix: "mongodb_ss_wt_cache", suffixLabel: "type", suffixMapping: map[string]string{
		"bytes_read_into_cache": "read", "bytes_written_from_cache": "written",
	}},
	{oldName: "mongodb_mongod_wiredtiger_cache_pages", prefix: "mongodb_ss_wt_cache", suffixLabel: "type", suffixMapping: map[string]string{
		"pages_currently_held_in_the_cache": "total", "tracked_dirty_pages_in_the_cache": "dirty",
	}},
	{oldName: "mongodb_mongod_wiredtiger_cache_pages_total", prefix: "mongodb_ss_wt_cache", suffixLabel: "type", suffixMapping: map[string]string{
		"pages_read_into_cache": "read", "pages_written_from_cache": "written",
	}},
	{oldName: "mongodb_mongod_wiredtiger_log_records_total", prefix: "mongodb_ss_wt_log", suffixLabel: "type", suffixMapping: map[string]string{
		"log_records_compressed": "compressed", "log_records_not_compressed": "uncompressed",
	}},
	{oldName: "mongodb_mongod_wiredtiger_log_bytes_total", prefix: "mongodb_ss_wt_log", suffixLabel: "type", suffixMapping: map[string]string{
		"log_bytes_of_payload_data": "payload", "log_bytes_written": "unwritten",
	}},
	{oldName: "mongodb_mongod_wiredtiger_log_operations_total", prefix: "mongodb_ss_wt_log", suffixLabel: "type", suffixMapping: map[string]string{
		"log_read_operations": "read", "log_write_operations": "write", "log_scan_operations": "scan",
		"log_scan_records_requiring_two_reads": "scan_double", "log_sync_operations": "sync",
		"log_sync_dir_operations": "sync_dir", "log_flush_operations": "flush",
	}},
	{oldName: "mongodb_mongod_wiredtiger_transactions_checkpoint_milliseconds", prefix: "mongodb_ss_wt_txn_transaction_checkpoint", suffixLabel: "type", suffixMapping: map[string]string{
		"min_time_msecs": "min", "max_time_msecs": "max",
	}},
	{oldName: "mongodb_mongod_wiredtiger_transactions_checkpoint_milliseconds", prefix: "mongodb_ss_wt_checkpoint", suffixLabel: "type", suffixMapping: map[string]string{
		"min_time_msecs": "min", "max_time_msecs": "max",
	}},
	{
		oldName: "mongodb_mongod_op_latencies_ops_total", newName: "mongodb_ss_opLatencies_ops",
		labelConversions:      map[string]string{"op_type": "type"},
		labelValueConversions: map[string]string{"commands": "command", "reads": "read", "writes": "write"},
	},
	{
		oldName: "mongodb_mongod_op_latencies_latency_total", newName: "mongodb_ss_opLatencies_latency",
		labelConversions:      map[string]string{"op_type": "type"},
		labelValueConversions: map[string]string{"commands": "command", "reads": "read", "writes": "write"},
	},
	{oldName: "mongodb_mongod_metrics_document_total", newName: "mongodb_ss_metrics_document", labelConversions: map[string]string{"doc_op_type": "state"}},
	{oldName: "mongodb_mongod_metrics_query_executor_total", prefix: "mongodb_ss_metrics_queryExecutor", suffixLabel: "state", suffixMapping: map[string]string{
		"scanned": "scanned", "scannedObjects": "scanned_objects",
	}},
	{oldName: "mongodb_memory", prefix: "mongodb_ss_mem", suffixLabel: "type", suffixMapping: map[string]string{
		"resident": "resident", "virtual": "virtual",
	}},
	{oldName: "mongodb_mongod_metrics_get_last_error_wtime_total_milliseconds", newName: "mongodb_ss_metrics_getLastError_wtime_totalMillis"},
	{oldName: "mongodb_mongod_db_collections_total", newName: "mongodb_dbstats_collections"},
	{oldName: "mongodb_mongod_db_data_size_bytes", newName: "mongodb_dbstats_dataSize"},
	{oldName: "mongodb_mongod_db_index_size_bytes", newName: "mongodb_dbstats_indexSize"},
	{oldName: "mongodb_mongod_db_indexes_total", newName: "mongodb_dbstats_indexes"},
	{oldName: "mongodb_mongod_db_objects_total", newName: "mongodb_dbstats_objects"},
}

// mongoLockMetric is one of Percona's lock series, taken from a fixed
// serverStatus path with fixed labels. Its table is kept as it is,
// including the second entry's resource label, so the series match the
// real exporter's; the duplicate it makes with the third entry is dropped.
type mongoLockMetric struct {
	name   string
	path   []string
	labels []string
}

var mongoLockMetrics = []mongoLockMetric{
	{"mongodb_ss_locks_acquireCount", []string{"locks", "ParallelBatchWriterMode", "acquireCount", "r"}, []string{"lock_mode", "r", "resource", "ParallelBatchWriterMode"}},
	{"mongodb_ss_locks_acquireCount", []string{"locks", "ParallelBatchWriterMode", "acquireCount", "w"}, []string{"lock_mode", "w", "resource", "ReplicationStateTransition"}},
	{"mongodb_ss_locks_acquireCount", []string{"locks", "ReplicationStateTransition", "acquireCount", "w"}, []string{"resource", "ReplicationStateTransition", "lock_mode", "w"}},
	{"mongodb_ss_locks_acquireWaitCount", []string{"locks", "ReplicationStateTransition", "acquireCount", "W"}, []string{"lock_mode", "W", "resource", "ReplicationStateTransition"}},
	{"mongodb_ss_locks_timeAcquiringMicros", []string{"locks", "ReplicationStateTransition", "timeAcquiringMicros", "w"}, []string{"lock_mode", "w", "resource", "ReplicationStateTransition"}},
	{"mongodb_ss_locks_acquireCount", []string{"locks", "Global", "acquireCount", "r"}, []string{"lock_mode", "r", "resource", "Global"}},
	{"mongodb_ss_locks_acquireCount", []string{"locks", "Global", "acquireCount", "w"}, []string{"lock_mode", "w", "resource", "Global"}},
	{"mongodb_ss_locks_acquireCount", []string{"locks", "Global", "acquireCount", "W"}, []string{"lock_mode", "W", "resource", "Global"}},
}

// mongoSum is a sum of serverStatus fields, added only when the section
// holding them is there (Percona adds 0 for a missing section; a server
// without WiredTiger or lock statistics gets no series here).
type mongoSum struct {
	name, help string
	section    string
	paths      [][]string
}

var mongoSums = []mongoSum{
	{
		name: "mongodb_mongod_locks_time_acquiring_global_microseconds_total", help: "sum of serverStatus.locks.Global.timeAcquiringMicros.[r|w]",
		section: "locks",
		paths:   [][]string{{"locks", "Global", "timeAcquiringMicros", "r"}, {"locks", "Global", "timeAcquiringMicros", "w"}},
	},
	{
		name: "mongodb_mongod_wiredtiger_cache_evicted_total", help: "wiredtiger cache evicted total",
		section: "wiredTiger",
		paths:   [][]string{{"wiredTiger", "cache", "modified pages evicted"}, {"wiredTiger", "cache", "unmodified pages evicted"}},
	},
}

// serverStatusMetrics adds the series of a serverStatus reply: the
// flattened document, Percona's lock series and, in compatible mode, its v1
// names and sums. base are the topology labels (rs_nm, rs_state) Percona
// puts on every flattened series.
func serverStatusMetrics(doc bson.Raw, out *mongoSeries, base []string) {
	f := &mongoFlattener{out: out, compatible: true}
	f.reply("serverStatus", doc, base)
	for _, lm := range mongoLockMetrics {
		if v, ok := mongoFloat(lookupRaw(doc, lm.path...)); ok {
			out.add(prometheus.UntypedValue, lm.name, lm.name, v, lm.labels...)
		}
	}
	for _, sm := range mongoSums {
		if _, ok := doc.Lookup(sm.section).DocumentOK(); !ok {
			continue
		}
		total := 0.0
		for _, p := range sm.paths {
			if v, ok := mongoFloat(lookupRaw(doc, p...)); ok {
				total += v
			}
		}
		out.add(prometheus.GaugeValue, sm.name, sm.help, total)
	}
	if engine, ok := lookupRaw(doc, "storageEngine", "name").StringValueOK(); ok && engine != "" {
		out.add(prometheus.GaugeValue, "mongodb_mongod_storage_engine", "The storage engine used by the MongoDB instance", 1, "engine", engine)
	}
}

// lookupRaw returns the value at path, or a zero RawValue.
func lookupRaw(doc bson.Raw, path ...string) bson.RawValue {
	v, err := doc.LookupErr(path...)
	if err != nil {
		return bson.RawValue{}
	}
	return v
}

// mongoBuild is what mongodb_version_info says of the server, from
// buildInfo as Percona reads it.
type mongoBuild struct {
	version, edition, vendor string
}

func parseBuildInfo(doc bson.Raw) mongoBuild {
	b := mongoBuild{edition: "Community", vendor: "MongoDB"}
	b.version, _ = doc.Lookup("version").StringValueOK()
	if mods, ok := doc.Lookup("modules").ArrayOK(); ok {
		if vals, err := mods.Values(); err == nil && len(vals) > 0 {
			if m, _ := vals[0].StringValueOK(); m == "enterprise" {
				b.edition = "Enterprise"
			}
		}
	}
	if v, _ := doc.Lookup("psmdbVersion").StringValueOK(); v != "" {
		b.vendor = "Percona"
	}
	return b
}

func (b mongoBuild) add(out *mongoSeries) {
	out.add(prometheus.GaugeValue, "mongodb_version_info", "The server version", 1, "mongodb", b.version, "edition", b.edition, "vendor", b.vendor)
}
