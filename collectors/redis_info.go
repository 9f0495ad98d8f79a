package collectors

import (
	"bufio"
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// redisInfoMetric maps one INFO field to the metric redis_exporter (v1.74,
// exporter/exporter.go, metricMapGauges and metricMapCounters) exports for
// it, so dashboards and alerts written for redis_exporter work unchanged.
type redisInfoMetric struct {
	name  string
	typ   prometheus.ValueType
	scale float64 // the value is multiplied by it; 0 means 1
}

// redisInfoMetrics is the whole plain INFO field → metric mapping. Parsing
// is driven by this table: adding a field is adding a line. Fields a server
// does not have are simply absent. Fields with labels (replication, keyspace,
// commandstats, ...) are handled in parseRedisInfo.
var redisInfoMetrics = map[string]redisInfoMetric{
	"uptime_in_seconds":                          {name: "redis_uptime_in_seconds", typ: prometheus.GaugeValue},
	"process_id":                                 {name: "redis_process_id", typ: prometheus.GaugeValue},
	"io_threads_active":                          {name: "redis_io_threads_active", typ: prometheus.GaugeValue},
	"connected_clients":                          {name: "redis_connected_clients", typ: prometheus.GaugeValue},
	"blocked_clients":                            {name: "redis_blocked_clients", typ: prometheus.GaugeValue},
	"maxclients":                                 {name: "redis_max_clients", typ: prometheus.GaugeValue},
	"tracking_clients":                           {name: "redis_tracking_clients", typ: prometheus.GaugeValue},
	"clients_in_timeout_table":                   {name: "redis_clients_in_timeout_table", typ: prometheus.GaugeValue},
	"pubsub_clients":                             {name: "redis_pubsub_clients", typ: prometheus.GaugeValue},
	"watching_clients":                           {name: "redis_watching_clients", typ: prometheus.GaugeValue},
	"total_watched_keys":                         {name: "redis_total_watched_keys", typ: prometheus.GaugeValue},
	"total_blocking_keys":                        {name: "redis_total_blocking_keys", typ: prometheus.GaugeValue},
	"total_blocking_keys_on_nokey":               {name: "redis_total_blocking_keys_on_nokey", typ: prometheus.GaugeValue},
	"client_longest_output_list":                 {name: "redis_client_longest_output_list", typ: prometheus.GaugeValue},
	"client_biggest_input_buf":                   {name: "redis_client_biggest_input_buf", typ: prometheus.GaugeValue},
	"client_recent_max_output_buffer":            {name: "redis_client_recent_max_output_buffer_bytes", typ: prometheus.GaugeValue},
	"client_recent_max_input_buffer":             {name: "redis_client_recent_max_input_buffer_bytes", typ: prometheus.GaugeValue},
	"allocator_active":                           {name: "redis_allocator_active_bytes", typ: prometheus.GaugeValue},
	"allocator_allocated":                        {name: "redis_allocator_allocated_bytes", typ: prometheus.GaugeValue},
	"allocator_resident":                         {name: "redis_allocator_resident_bytes", typ: prometheus.GaugeValue},
	"allocator_frag_ratio":                       {name: "redis_allocator_frag_ratio", typ: prometheus.GaugeValue},
	"allocator_frag_bytes":                       {name: "redis_allocator_frag_bytes", typ: prometheus.GaugeValue},
	"allocator_muzzy":                            {name: "redis_allocator_muzzy_bytes", typ: prometheus.GaugeValue},
	"allocator_rss_ratio":                        {name: "redis_allocator_rss_ratio", typ: prometheus.GaugeValue},
	"allocator_rss_bytes":                        {name: "redis_allocator_rss_bytes", typ: prometheus.GaugeValue},
	"used_memory":                                {name: "redis_memory_used_bytes", typ: prometheus.GaugeValue},
	"used_memory_rss":                            {name: "redis_memory_used_rss_bytes", typ: prometheus.GaugeValue},
	"used_memory_peak":                           {name: "redis_memory_used_peak_bytes", typ: prometheus.GaugeValue},
	"used_memory_lua":                            {name: "redis_memory_used_lua_bytes", typ: prometheus.GaugeValue},
	"used_memory_vm_eval":                        {name: "redis_memory_used_vm_eval_bytes", typ: prometheus.GaugeValue},
	"used_memory_scripts_eval":                   {name: "redis_memory_used_scripts_eval_bytes", typ: prometheus.GaugeValue},
	"used_memory_overhead":                       {name: "redis_memory_used_overhead_bytes", typ: prometheus.GaugeValue},
	"used_memory_startup":                        {name: "redis_memory_used_startup_bytes", typ: prometheus.GaugeValue},
	"used_memory_dataset":                        {name: "redis_memory_used_dataset_bytes", typ: prometheus.GaugeValue},
	"number_of_cached_scripts":                   {name: "redis_number_of_cached_scripts", typ: prometheus.GaugeValue},
	"number_of_functions":                        {name: "redis_number_of_functions", typ: prometheus.GaugeValue},
	"number_of_libraries":                        {name: "redis_number_of_libraries", typ: prometheus.GaugeValue},
	"used_memory_vm_functions":                   {name: "redis_memory_used_vm_functions_bytes", typ: prometheus.GaugeValue},
	"used_memory_scripts":                        {name: "redis_memory_used_scripts_bytes", typ: prometheus.GaugeValue},
	"used_memory_functions":                      {name: "redis_memory_used_functions_bytes", typ: prometheus.GaugeValue},
	"used_memory_vm_total":                       {name: "redis_memory_used_vm_total", typ: prometheus.GaugeValue},
	"maxmemory":                                  {name: "redis_memory_max_bytes", typ: prometheus.GaugeValue},
	"maxmemory_reservation":                      {name: "redis_memory_max_reservation_bytes", typ: prometheus.GaugeValue},
	"maxmemory_desired_reservation":              {name: "redis_memory_max_reservation_desired_bytes", typ: prometheus.GaugeValue},
	"maxfragmentationmemory_reservation":         {name: "redis_memory_max_fragmentation_reservation_bytes", typ: prometheus.GaugeValue},
	"maxfragmentationmemory_desired_reservation": {name: "redis_memory_max_fragmentation_reservation_desired_bytes", typ: prometheus.GaugeValue},
	"mem_fragmentation_ratio":                    {name: "redis_mem_fragmentation_ratio", typ: prometheus.GaugeValue},
	"mem_fragmentation_bytes":                    {name: "redis_mem_fragmentation_bytes", typ: prometheus.GaugeValue},
	"mem_clients_slaves":                         {name: "redis_mem_clients_slaves", typ: prometheus.GaugeValue},
	"mem_clients_normal":                         {name: "redis_mem_clients_normal", typ: prometheus.GaugeValue},
	"mem_cluster_links":                          {name: "redis_mem_cluster_links_bytes", typ: prometheus.GaugeValue},
	"mem_aof_buffer":                             {name: "redis_mem_aof_buffer_bytes", typ: prometheus.GaugeValue},
	"mem_replication_backlog":                    {name: "redis_mem_replication_backlog_bytes", typ: prometheus.GaugeValue},
	"expired_stale_perc":                         {name: "redis_expired_stale_percentage", typ: prometheus.GaugeValue},
	"mem_not_counted_for_evict":                  {name: "redis_mem_not_counted_for_eviction_bytes", typ: prometheus.GaugeValue},
	"mem_total_replication_buffers":              {name: "redis_mem_total_replication_buffers_bytes", typ: prometheus.GaugeValue},
	"mem_overhead_db_hashtable_rehashing":        {name: "redis_mem_overhead_db_hashtable_rehashing_bytes", typ: prometheus.GaugeValue},
	"lazyfree_pending_objects":                   {name: "redis_lazyfree_pending_objects", typ: prometheus.GaugeValue},
	"lazyfreed_objects":                          {name: "redis_lazyfreed_objects", typ: prometheus.GaugeValue},
	"active_defrag_running":                      {name: "redis_active_defrag_running", typ: prometheus.GaugeValue},
	"migrate_cached_sockets":                     {name: "redis_migrate_cached_sockets_total", typ: prometheus.GaugeValue},
	"active_defrag_hits":                         {name: "redis_defrag_hits", typ: prometheus.GaugeValue},
	"active_defrag_misses":                       {name: "redis_defrag_misses", typ: prometheus.GaugeValue},
	"active_defrag_key_hits":                     {name: "redis_defrag_key_hits", typ: prometheus.GaugeValue},
	"active_defrag_key_misses":                   {name: "redis_defrag_key_misses", typ: prometheus.GaugeValue},
	"loading":                                    {name: "redis_loading_dump_file", typ: prometheus.GaugeValue},
	"async_loading":                              {name: "redis_async_loading", typ: prometheus.GaugeValue},
	"rdb_changes_since_last_save":                {name: "redis_rdb_changes_since_last_save", typ: prometheus.GaugeValue},
	"rdb_bgsave_in_progress":                     {name: "redis_rdb_bgsave_in_progress", typ: prometheus.GaugeValue},
	"rdb_last_save_time":                         {name: "redis_rdb_last_save_timestamp_seconds", typ: prometheus.GaugeValue},
	"rdb_last_bgsave_status":                     {name: "redis_rdb_last_bgsave_status", typ: prometheus.GaugeValue},
	"rdb_last_bgsave_time_sec":                   {name: "redis_rdb_last_bgsave_duration_sec", typ: prometheus.GaugeValue},
	"rdb_current_bgsave_time_sec":                {name: "redis_rdb_current_bgsave_duration_sec", typ: prometheus.GaugeValue},
	"rdb_saves":                                  {name: "redis_rdb_saves_total", typ: prometheus.GaugeValue},
	"rdb_last_cow_size":                          {name: "redis_rdb_last_cow_size_bytes", typ: prometheus.GaugeValue},
	"rdb_last_load_keys_expired":                 {name: "redis_rdb_last_load_expired_keys", typ: prometheus.GaugeValue},
	"rdb_last_load_keys_loaded":                  {name: "redis_rdb_last_load_loaded_keys", typ: prometheus.GaugeValue},
	"aof_enabled":                                {name: "redis_aof_enabled", typ: prometheus.GaugeValue},
	"aof_rewrite_in_progress":                    {name: "redis_aof_rewrite_in_progress", typ: prometheus.GaugeValue},
	"aof_rewrite_scheduled":                      {name: "redis_aof_rewrite_scheduled", typ: prometheus.GaugeValue},
	"aof_last_rewrite_time_sec":                  {name: "redis_aof_last_rewrite_duration_sec", typ: prometheus.GaugeValue},
	"aof_current_rewrite_time_sec":               {name: "redis_aof_current_rewrite_duration_sec", typ: prometheus.GaugeValue},
	"aof_last_cow_size":                          {name: "redis_aof_last_cow_size_bytes", typ: prometheus.GaugeValue},
	"aof_current_size":                           {name: "redis_aof_current_size_bytes", typ: prometheus.GaugeValue},
	"aof_base_size":                              {name: "redis_aof_base_size_bytes", typ: prometheus.GaugeValue},
	"aof_pending_rewrite":                        {name: "redis_aof_pending_rewrite", typ: prometheus.GaugeValue},
	"aof_buffer_length":                          {name: "redis_aof_buffer_length", typ: prometheus.GaugeValue},
	"aof_rewrite_buffer_length":                  {name: "redis_aof_rewrite_buffer_length", typ: prometheus.GaugeValue},
	"aof_pending_bio_fsync":                      {name: "redis_aof_pending_bio_fsync", typ: prometheus.GaugeValue},
	"aof_delayed_fsync":                          {name: "redis_aof_delayed_fsync", typ: prometheus.GaugeValue},
	"aof_last_bgrewrite_status":                  {name: "redis_aof_last_bgrewrite_status", typ: prometheus.GaugeValue},
	"aof_last_write_status":                      {name: "redis_aof_last_write_status", typ: prometheus.GaugeValue},
	"module_fork_in_progress":                    {name: "redis_module_fork_in_progress", typ: prometheus.GaugeValue},
	"module_fork_last_cow_size":                  {name: "redis_module_fork_last_cow_size", typ: prometheus.GaugeValue},
	"current_eviction_exceeded_time":             {name: "redis_current_eviction_exceeded_time_ms", typ: prometheus.GaugeValue},
	"pubsub_channels":                            {name: "redis_pubsub_channels", typ: prometheus.GaugeValue},
	"pubsub_patterns":                            {name: "redis_pubsub_patterns", typ: prometheus.GaugeValue},
	"pubsubshard_channels":                       {name: "redis_pubsubshard_channels", typ: prometheus.GaugeValue},
	"tracking_total_keys":                        {name: "redis_tracking_total_keys", typ: prometheus.GaugeValue},
	"tracking_total_items":                       {name: "redis_tracking_total_items", typ: prometheus.GaugeValue},
	"tracking_total_prefixes":                    {name: "redis_tracking_total_prefixes", typ: prometheus.GaugeValue},
	"connected_slaves":                           {name: "redis_connected_slaves", typ: prometheus.GaugeValue},
	"repl_backlog_size":                          {name: "redis_replication_backlog_bytes", typ: prometheus.GaugeValue},
	"repl_backlog_active":                        {name: "redis_repl_backlog_is_active", typ: prometheus.GaugeValue},
	"repl_backlog_first_byte_offset":             {name: "redis_repl_backlog_first_byte_offset", typ: prometheus.GaugeValue},
	"repl_backlog_histlen":                       {name: "redis_repl_backlog_history_bytes", typ: prometheus.GaugeValue},
	"master_repl_offset":                         {name: "redis_master_repl_offset", typ: prometheus.GaugeValue},
	"second_repl_offset":                         {name: "redis_second_repl_offset", typ: prometheus.GaugeValue},
	"slave_expires_tracked_keys":                 {name: "redis_slave_expires_tracked_keys", typ: prometheus.GaugeValue},
	"slave_priority":                             {name: "redis_slave_priority", typ: prometheus.GaugeValue},
	"sync_full":                                  {name: "redis_replica_resyncs_full", typ: prometheus.GaugeValue},
	"sync_partial_ok":                            {name: "redis_replica_partial_resync_accepted", typ: prometheus.GaugeValue},
	"sync_partial_err":                           {name: "redis_replica_partial_resync_denied", typ: prometheus.GaugeValue},
	"cluster_stats_messages_sent":                {name: "redis_cluster_messages_sent_total", typ: prometheus.GaugeValue},
	"cluster_stats_messages_received":            {name: "redis_cluster_messages_received_total", typ: prometheus.GaugeValue},
	"server_threads":                             {name: "redis_server_threads_total", typ: prometheus.GaugeValue},
	"long_lock_waits":                            {name: "redis_long_lock_waits_total", typ: prometheus.GaugeValue},
	"current_client_thread":                      {name: "redis_current_client_thread", typ: prometheus.GaugeValue},
	"total_connections_received":                 {name: "redis_connections_received_total", typ: prometheus.CounterValue},
	"total_commands_processed":                   {name: "redis_commands_processed_total", typ: prometheus.CounterValue},
	"rejected_connections":                       {name: "redis_rejected_connections_total", typ: prometheus.CounterValue},
	"total_net_input_bytes":                      {name: "redis_net_input_bytes_total", typ: prometheus.CounterValue},
	"total_net_output_bytes":                     {name: "redis_net_output_bytes_total", typ: prometheus.CounterValue},
	"total_net_repl_input_bytes":                 {name: "redis_net_repl_input_bytes_total", typ: prometheus.CounterValue},
	"total_net_repl_output_bytes":                {name: "redis_net_repl_output_bytes_total", typ: prometheus.CounterValue},
	"expired_subkeys":                            {name: "redis_expired_subkeys_total", typ: prometheus.CounterValue},
	"expired_keys":                               {name: "redis_expired_keys_total", typ: prometheus.CounterValue},
	"expired_time_cap_reached_count":             {name: "redis_expired_time_cap_reached_total", typ: prometheus.CounterValue},
	"expire_cycle_cpu_milliseconds":              {name: "redis_expire_cycle_cpu_time_ms_total", typ: prometheus.CounterValue},
	"evicted_keys":                               {name: "redis_evicted_keys_total", typ: prometheus.CounterValue},
	"evicted_clients":                            {name: "redis_evicted_clients_total", typ: prometheus.CounterValue},
	"evicted_scripts":                            {name: "redis_evicted_scripts_total", typ: prometheus.CounterValue},
	"total_eviction_exceeded_time":               {name: "redis_eviction_exceeded_time_ms_total", typ: prometheus.CounterValue},
	"keyspace_hits":                              {name: "redis_keyspace_hits_total", typ: prometheus.CounterValue},
	"keyspace_misses":                            {name: "redis_keyspace_misses_total", typ: prometheus.CounterValue},
	"used_cpu_sys":                               {name: "redis_cpu_sys_seconds_total", typ: prometheus.CounterValue},
	"used_cpu_user":                              {name: "redis_cpu_user_seconds_total", typ: prometheus.CounterValue},
	"used_cpu_sys_children":                      {name: "redis_cpu_sys_children_seconds_total", typ: prometheus.CounterValue},
	"used_cpu_user_children":                     {name: "redis_cpu_user_children_seconds_total", typ: prometheus.CounterValue},
	"used_cpu_sys_main_thread":                   {name: "redis_cpu_sys_main_thread_seconds_total", typ: prometheus.CounterValue},
	"used_cpu_user_main_thread":                  {name: "redis_cpu_user_main_thread_seconds_total", typ: prometheus.CounterValue},
	"unexpected_error_replies":                   {name: "redis_unexpected_error_replies", typ: prometheus.CounterValue},
	"total_error_replies":                        {name: "redis_total_error_replies", typ: prometheus.CounterValue},
	"dump_payload_sanitizations":                 {name: "redis_dump_payload_sanitizations", typ: prometheus.CounterValue},
	"total_reads_processed":                      {name: "redis_total_reads_processed", typ: prometheus.CounterValue},
	"total_writes_processed":                     {name: "redis_total_writes_processed", typ: prometheus.CounterValue},
	"io_threaded_reads_processed":                {name: "redis_io_threaded_reads_processed", typ: prometheus.CounterValue},
	"io_threaded_writes_processed":               {name: "redis_io_threaded_writes_processed", typ: prometheus.CounterValue},
	"client_query_buffer_limit_disconnections":   {name: "redis_client_query_buffer_limit_disconnections_total", typ: prometheus.CounterValue},
	"client_output_buffer_limit_disconnections":  {name: "redis_client_output_buffer_limit_disconnections_total", typ: prometheus.CounterValue},
	"reply_buffer_shrinks":                       {name: "redis_reply_buffer_shrinks_total", typ: prometheus.CounterValue},
	"reply_buffer_expands":                       {name: "redis_reply_buffer_expands_total", typ: prometheus.CounterValue},
	"acl_access_denied_auth":                     {name: "redis_acl_access_denied_auth_total", typ: prometheus.CounterValue},
	"acl_access_denied_cmd":                      {name: "redis_acl_access_denied_cmd_total", typ: prometheus.CounterValue},
	"acl_access_denied_key":                      {name: "redis_acl_access_denied_key_total", typ: prometheus.CounterValue},
	"acl_access_denied_channel":                  {name: "redis_acl_access_denied_channel_total", typ: prometheus.CounterValue},
	"cached_keys":                                {name: "redis_cached_keys_total", typ: prometheus.CounterValue},
	"storage_provider_read_hits":                 {name: "redis_storage_provider_read_hits", typ: prometheus.CounterValue},
	"storage_provider_read_misses":               {name: "redis_storage_provider_read_misses", typ: prometheus.CounterValue},
	"latest_fork_usec":                           {name: "redis_latest_fork_seconds", typ: prometheus.GaugeValue, scale: 1e-6},
	"hz":                                         {name: "redis_hz", typ: prometheus.GaugeValue},
	"configured_hz":                              {name: "redis_configured_hz", typ: prometheus.GaugeValue},
}

const (
	helpRedisInfoField = "The Redis INFO field of the same name, as redis_exporter maps it."
	helpDBKeys         = "Number of keys by database."
	helpDBExpire       = "Number of keys with an expiry by database."
)

// The replication fields redis_exporter labels with the master's address
// (KeyDB multi-master numbers them: master_1_host, ...).
var (
	reRedisMasterHost       = regexp.MustCompile(`^master(_[0-9]+)?_host`)
	reRedisMasterPort       = regexp.MustCompile(`^master(_[0-9]+)?_port`)
	reRedisMasterLinkStatus = regexp.MustCompile(`^master(_[0-9]+)?_link_status`)
	reRedisMasterDirect     = regexp.MustCompile(`^(master(_[0-9]+)?_(last_io_seconds_ago|sync_in_progress)|slave_repl_offset)`)
	reRedisSlave            = regexp.MustCompile(`^slave\d+`)
)

// redisCmdStat is one commandstats line.
type redisCmdStat struct {
	calls, usec float64
}

// parseRedisInfo adds the metrics an INFO ALL reply gives, as redis_exporter
// derives them: the table's fields, the labelled replication, keyspace,
// commandstats, errorstats and latencystats lines, redis_instance_info and
// redis_start_time_seconds. dbCount databases get redis_db_keys even when
// empty. It returns the fields, for what other commands' metrics need.
func parseRedisInfo(info string, dbCount int, now time.Time, s *sink) (fields map[string]string, cmds map[string]redisCmdStat) {
	fields = map[string]string{}
	cmds = map[string]redisCmdStat{}
	latencies := map[string]map[float64]float64{}
	seenDB := map[string]bool{}
	var section, masterHost, masterPort string
	sc := bufio.NewScanner(strings.NewReader(info))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "# ") {
			section = strings.ToLower(line[2:])
			continue
		}
		field, value, ok := strings.Cut(line, ":")
		if !ok || len(line) < 2 {
			continue
		}
		fields[field] = value
		switch section {
		case "replication":
			// Only replication lines start with master (the regexps cost a
			// tenth of a probe when run on every line).
			if strings.HasPrefix(field, "master") {
				if reRedisMasterHost.MatchString(field) {
					masterHost = value
				}
				if reRedisMasterPort.MatchString(field) {
					masterPort = value
				}
			}
			if redisReplicationLine(field, value, masterHost, masterPort, s) {
				continue
			}
		case "server":
			if field == "uptime_in_seconds" {
				if up, err := strconv.ParseFloat(value, 64); err == nil {
					s.gauge("redis_start_time_seconds", "Start time of the Redis server, seconds since the Unix epoch.", float64(now.Unix())-up)
				}
			}
		case "commandstats":
			if cmd, st, ok := redisCommandStat(field, value, s); ok {
				cmds[cmd] = st
			}
			continue
		case "latencystats":
			if cmd, ok := strings.CutPrefix(field, "latency_percentiles_usec_"); ok {
				if q, ok := redisPercentiles(value); ok {
					latencies[cmd] = q
				}
			}
			continue
		case "errorstats":
			if kind, ok := strings.CutPrefix(field, "errorstat_"); ok {
				if n, ok := redisKV(value)["count"]; ok {
					s.counter("redis_errors_total", "Error replies by error prefix.", n, "err", kind)
				}
			}
			continue
		case "sentinel":
			redisSentinelLine(field, value, s)
			continue
		case "keyspace":
			if strings.HasPrefix(field, "db") && redisKeyspaceLine(field, value, s) {
				seenDB[field] = true
				continue
			}
		}
		redisPlainField(field, value, s)
	}

	// The summary needs commandstats' count and sum beside latencystats'
	// percentiles.
	for _, cmd := range slices.Sorted(maps.Keys(latencies)) {
		if st, ok := cmds[cmd]; ok {
			sinkSummary(s, "redis_latency_percentiles_usec", "Latency percentiles per command, in microseconds (quantile labels are percents, as redis_exporter has them).",
				uint64(st.calls), st.usec, latencies[cmd], "cmd", cmd)
		}
	}
	for i := range dbCount {
		db := "db" + strconv.Itoa(i)
		if !seenDB[db] {
			s.gauge("redis_db_keys", helpDBKeys, 0, "db", db)
			s.gauge("redis_db_keys_expiring", helpDBExpire, 0, "db", db)
		}
	}

	kv := []string{
		"role", fields["role"], "redis_version", fields["redis_version"], "redis_build_id", fields["redis_build_id"],
		"redis_mode", fields["redis_mode"], "os", fields["os"], "maxmemory_policy", fields["maxmemory_policy"],
		"tcp_port", fields["tcp_port"], "run_id", fields["run_id"], "process_id", fields["process_id"],
		"master_replid", fields["master_replid"],
	}
	for _, k := range []string{"valkey_version", "valkey_release_stage"} {
		if v, ok := fields[k]; ok {
			kv = append(kv, k, v)
		}
	}
	s.gauge("redis_instance_info", "Information about the Redis server; always 1.", 1, kv...)
	if fields["role"] == "slave" {
		s.gauge("redis_slave_info", "Information about the replica's master; always 1.", 1,
			"master_host", fields["master_host"], "master_port", fields["master_port"], "read_only", fields["slave_read_only"])
	}
	return fields, cmds
}

// redisPlainField adds the metric of one unlabelled INFO (or CLUSTER INFO)
// field, if redis_exporter exports it.
func redisPlainField(field, value string, s *sink) {
	m, ok := redisInfoMetrics[field]
	if !ok {
		// redis_exporter exports every cluster_* field under its own name.
		if !strings.HasPrefix(field, "cluster_") {
			return
		}
		m = redisInfoMetric{name: "redis_" + sanitizeRedisName(field), typ: prometheus.GaugeValue}
	}
	v, ok := redisInfoValue(value)
	if !ok {
		return
	}
	if m.scale != 0 {
		v *= m.scale
	}
	s.add(m.typ, m.name, helpRedisInfoField, v)
}

// parseRedisClusterInfo adds the CLUSTER INFO fields of a cluster node:
// cluster_state (ok 1), cluster_slots_*, cluster_known_nodes, ... and the
// message counters redis_exporter renames.
func parseRedisClusterInfo(info string, s *sink) {
	for line := range strings.SplitSeq(info, "\r\n") {
		field, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.Contains(value, ":") {
			redisPlainField(field, value, s)
		}
	}
}

// redisReplicationLine handles the labelled replication lines; false if
// field is not one.
func redisReplicationLine(field, value, masterHost, masterPort string, s *sink) bool {
	if reRedisMasterLinkStatus.MatchString(field) {
		s.gauge("redis_master_link_up", "1 if the replica's link to its master is up.", boolToFloat(value == "up"),
			"master_host", masterHost, "master_port", masterPort)
		return true
	}
	if reRedisMasterDirect.MatchString(field) {
		name, help := "redis_slave_repl_offset", "The replica's replication offset."
		switch {
		case strings.HasSuffix(field, "last_io_seconds_ago"):
			name, help = "redis_master_last_io_seconds_ago", "Seconds since the replica last heard from its master."
		case strings.HasSuffix(field, "sync_in_progress"):
			name, help = "redis_master_sync_in_progress", "1 if the replica is syncing from its master."
		}
		// As redis_exporter: an unparsable value (e.g. -1 is fine) counts 0.
		v, _ := strconv.Atoi(value)
		s.gauge(name, help, float64(v), "master_host", masterHost, "master_port", masterPort)
		return true
	}
	if !reRedisSlave.MatchString(field) {
		return false
	}
	// slave0:ip=10.0.0.2,port=6379,state=online,offset=4242,lag=0
	kv := map[string]string{}
	for part := range strings.SplitSeq(value, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return false
		}
		kv[k] = v
	}
	offset, err := strconv.ParseFloat(kv["offset"], 64)
	if err != nil {
		return false
	}
	labels := []string{"slave_ip", kv["ip"], "slave_port", kv["port"], "slave_state", kv["state"]}
	s.gauge("redis_connected_slave_offset_bytes", "Replication offset of a connected replica.", offset, labels...)
	if lag, err := strconv.ParseFloat(kv["lag"], 64); err == nil {
		s.gauge("redis_connected_slave_lag_seconds", "Replication lag of a connected replica.", lag, labels...)
	}
	return true
}

// redisKeyspaceLine handles "db0:keys=1,expires=0,avg_ttl=0[,...]".
func redisKeyspaceLine(db, value string, s *sink) bool {
	kv := redisKV(value)
	keys, ok1 := kv["keys"]
	expires, ok2 := kv["expires"]
	if !ok1 || !ok2 {
		return false
	}
	s.gauge("redis_db_keys", helpDBKeys, keys, "db", db)
	s.gauge("redis_db_keys_expiring", helpDBExpire, expires, "db", db)
	if ttl, ok := kv["avg_ttl"]; ok {
		s.gauge("redis_db_avg_ttl_seconds", "Average TTL of the keys with an expiry by database.", ttl/1000, "db", db)
	}
	if cached, ok := kv["cached_keys"]; ok {
		s.gauge("redis_db_keys_cached", "Number of cached keys by database.", cached, "db", db)
	}
	return true
}

// redisCommandStat handles
// "cmdstat_get:calls=21,usec=175,usec_per_call=8.33,rejected_calls=0,failed_calls=0";
// the last two exist from Redis 6.2.
func redisCommandStat(field, value string, s *sink) (string, redisCmdStat, bool) {
	cmd, ok := strings.CutPrefix(field, "cmdstat_")
	if !ok {
		return "", redisCmdStat{}, false
	}
	kv := redisKV(value)
	calls, ok1 := kv["calls"]
	usec, ok2 := kv["usec"]
	if !ok1 || !ok2 {
		return "", redisCmdStat{}, false
	}
	s.counter("redis_commands_total", "Calls per command.", calls, "cmd", cmd)
	s.counter("redis_commands_duration_seconds_total", "Time spent per command, in seconds.", usec/1e6, "cmd", cmd)
	rejected, ok1 := kv["rejected_calls"]
	failed, ok2 := kv["failed_calls"]
	if ok1 && ok2 {
		s.counter("redis_commands_rejected_calls_total", "Calls rejected before execution per command.", rejected, "cmd", cmd)
		s.counter("redis_commands_failed_calls_total", "Calls failed during execution per command.", failed, "cmd", cmd)
	}
	return cmd, redisCmdStat{calls: calls, usec: usec}, true
}

// redisPercentiles parses "p50=0.001,p99=1.003,p99.9=4.015" into
// percent → value.
func redisPercentiles(value string) (map[float64]float64, bool) {
	q := map[float64]float64{}
	for part := range strings.SplitSeq(value, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || !strings.HasPrefix(k, "p") {
			return nil, false
		}
		p, err1 := strconv.ParseFloat(k[1:], 64)
		f, err2 := strconv.ParseFloat(v, 64)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		q[p] = f
	}
	return q, len(q) > 0
}

// redisKV parses "a=1,b=2", keeping the numeric values.
func redisKV(value string) map[string]float64 {
	out := map[string]float64{}
	for part := range strings.SplitSeq(value, ",") {
		k, v, _ := strings.Cut(part, "=")
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		}
	}
	return out
}

// redisInfoValue parses a number, or a status or flag as redis_exporter does.
func redisInfoValue(s string) (float64, bool) {
	switch s {
	case "ok", "true":
		return 1, true
	case "err", "fail", "false":
		return 0, true
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// redisSummedCmd reports whether redis_exporter's regexp for the usec sum
// of its latency histograms, cmdstat_([a-zA-Z0-9|]+):, matches the command.
func redisSummedCmd(name string) bool {
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '|') {
			return false
		}
	}
	return name != ""
}

var reRedisBadName = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func sanitizeRedisName(n string) string { return reRedisBadName.ReplaceAllString(n, "_") }

// sinkFamily returns the family name of s, creating it with typ.
func sinkFamily(s *sink, name, help string, typ dto.MetricType) *dto.MetricFamily {
	i, ok := s.index[name]
	if !ok {
		i = len(s.families)
		s.index[name] = i
		s.families = append(s.families, &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: typ.Enum()})
	}
	return s.families[i]
}

func sinkLabels(kv []string) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(kv)/2)
	for j := 0; j+1 < len(kv); j += 2 {
		out = append(out, &dto.LabelPair{Name: proto.String(kv[j]), Value: proto.String(kv[j+1])})
	}
	slices.SortFunc(out, func(a, b *dto.LabelPair) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out
}

// sinkSummary adds a summary sample (quantile → value).
func sinkSummary(s *sink, name, help string, count uint64, sum float64, quantiles map[float64]float64, kv ...string) {
	f := sinkFamily(s, name, help, dto.MetricType_SUMMARY)
	sm := &dto.Summary{SampleCount: proto.Uint64(count), SampleSum: proto.Float64(sum)}
	for _, q := range slices.Sorted(maps.Keys(quantiles)) {
		sm.Quantile = append(sm.Quantile, &dto.Quantile{Quantile: proto.Float64(q), Value: proto.Float64(quantiles[q])})
	}
	f.Metric = append(f.Metric, &dto.Metric{Label: sinkLabels(kv), Summary: sm})
}

// sinkHistogram adds a histogram sample (upper bound → cumulative count).
func sinkHistogram(s *sink, name, help string, count uint64, sum float64, buckets map[float64]uint64, kv ...string) {
	f := sinkFamily(s, name, help, dto.MetricType_HISTOGRAM)
	h := &dto.Histogram{SampleCount: proto.Uint64(count), SampleSum: proto.Float64(sum)}
	for _, le := range slices.Sorted(maps.Keys(buckets)) {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(le), CumulativeCount: proto.Uint64(buckets[le])})
	}
	f.Metric = append(f.Metric, &dto.Metric{Label: sinkLabels(kv), Histogram: h})
}
