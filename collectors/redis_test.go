package collectors

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// checkNoSecret asserts the secret appears neither in the error nor in any
// label or help text.
func checkNoSecret(t *testing.T, res Result, secret string) {
	t.Helper()
	if secret == "" {
		return
	}
	if res.Err != nil && strings.Contains(res.Err.Error(), secret) {
		t.Errorf("error leaks the secret: %v", res.Err)
	}
	for _, mf := range res.Families {
		if strings.Contains(mf.String(), secret) {
			t.Errorf("metric leaks the secret: %s", mf.String())
		}
	}
}

func redisTarget(name string, timeout time.Duration, rt config.RedisTarget) config.Target {
	return config.Target{
		Name:     name,
		Kind:     config.KindRedis,
		Timeout:  model.Duration(timeout),
		Interval: model.Duration(10 * time.Second),
		Redis:    &rt,
	}
}

func newTestProber(t testing.TB, target config.Target) Prober {
	t.Helper()
	p, err := New(target, nil)
	if err != nil {
		t.Fatalf("New(%s): %v", target.Name, err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func probeWithTimeout(t testing.TB, p Prober, timeout time.Duration) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return p.Probe(ctx)
}

func TestRedisProbeAuth(t *testing.T) {
	const secret = "s3cret-Pa55word"
	open := testserver.Redis(t)
	locked := testserver.Redis(t, testserver.WithPassword(secret))
	pwFile := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A TLS server whose self-signed certificate the probe must refuse.
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	untrusted := tlsSrv.Listener.Addr().String()
	wrongURL := strings.Replace(locked.URL(), secret, "not-"+secret, 1)

	tests := []struct {
		name       string
		target     config.RedisTarget
		wantOK     bool
		wantReason string
	}{
		{"no password", config.RedisTarget{Address: open.Addr}, true, ""},
		{"url without password", config.RedisTarget{Address: open.URL()}, true, ""},
		{"right password", config.RedisTarget{Address: locked.Addr, Password: secret}, true, ""},
		{"right password in url", config.RedisTarget{Address: locked.URL()}, true, ""},
		{"right password file", config.RedisTarget{Address: locked.Addr, PasswordFile: pwFile}, true, ""},
		{"no password to a locked server", config.RedisTarget{Address: locked.Addr}, false, ReasonAuth},
		{"wrong password", config.RedisTarget{Address: locked.Addr, Password: "not-" + secret}, false, ReasonAuth},
		{"wrong password in url", config.RedisTarget{Address: wrongURL}, false, ReasonAuth},
		{"wrong user", config.RedisTarget{Address: locked.Addr, Username: "nobody", Password: secret}, false, ReasonAuth},
		{"tls with an untrusted certificate", config.RedisTarget{Address: untrusted, TLS: config.TLSConfig{Enabled: true}}, false, ReasonTLS},
		{"rediss url with an untrusted certificate", config.RedisTarget{Address: "rediss://" + untrusted}, false, ReasonTLS},
		{"connection refused", config.RedisTarget{Address: testserver.Refused(t)}, false, ReasonConnect},
		{"unresolvable host", config.RedisTarget{Address: "vigil-no-such-host.invalid:6379"}, false, ReasonDNS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProber(t, redisTarget("cache", 2*time.Second, tc.target))
			res := probeWithTimeout(t, p, 2*time.Second)
			if res.Success != tc.wantOK || res.Reason != tc.wantReason {
				t.Fatalf("Probe: success=%v reason=%q err=%v; want success=%v reason=%q", res.Success, res.Reason, res.Err, tc.wantOK, tc.wantReason)
			}
			if !tc.wantOK && res.Err == nil {
				t.Errorf("failed probe without an error")
			}
			mfs := gatherProbe(t, res)
			checkNoSecret(t, res, secret)
			up := mustValue(t, mfs, "redis_up")
			if up != boolToFloat(tc.wantOK) {
				t.Errorf("redis_up = %v, want %v", up, boolToFloat(tc.wantOK))
			}
			// blackbox "probes up" counts must not include databases.
			for _, name := range []string{"probe_success", "probe_duration_seconds"} {
				if _, ok := mfs[name]; ok {
					t.Errorf("a redis probe reports %s", name)
				}
			}
			if d := res.Duration.Seconds(); d <= 0 || d > 2 {
				t.Errorf("probe duration = %v, want in (0, 2]", d)
			}
			_, havePing := sampleValue(mfs, "redis_exporter_last_scrape_ping_time_seconds")
			if havePing != tc.wantOK {
				t.Errorf("ping time present = %v, want %v", havePing, tc.wantOK)
			}
		})
	}
}

func TestRedisProbeInfo(t *testing.T) {
	srv := testserver.Redis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	t.Cleanup(func() { raw.Close() })
	ctx := t.Context()
	// Every command goes to the slow log.
	if err := raw.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Do(ctx, "NOSUCHCOMMAND").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR ") {
		t.Fatalf("unknown command: %v, want an ERR reply", err)
	}
	if err := raw.Set(ctx, "vigil:plain", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(ctx, "vigil:expiring", "y", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Get(ctx, "vigil:plain").Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.Get(ctx, "vigil:absent").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET absent key: %v", err)
	}
	if err := raw.Do(ctx, "SELECT", "3").Err(); err != nil {
		t.Fatal(err)
	}

	p := newTestProber(t, redisTarget("cache", 2*time.Second, config.RedisTarget{Address: srv.Addr}))
	res := probeWithTimeout(t, p, 2*time.Second)
	if !res.Success {
		t.Fatalf("Probe failed: %s: %v", res.Reason, res.Err)
	}
	mfs := gatherProbe(t, res)

	// Every table field the real server reports must come out, typed as
	// redis_exporter types it.
	info, err := raw.Info(ctx, "all").Result()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for line := range strings.SplitSeq(info, "\r\n") {
		field, _, _ := strings.Cut(line, ":")
		m, ok := redisInfoMetrics[field]
		if !ok {
			continue
		}
		seen++
		mf, ok := mfs[m.name]
		if !ok {
			t.Errorf("INFO field %s: metric %s missing", field, m.name)
			continue
		}
		wantType := map[prometheus.ValueType]dto.MetricType{prometheus.GaugeValue: dto.MetricType_GAUGE, prometheus.CounterValue: dto.MetricType_COUNTER}[m.typ]
		if mf.GetType() != wantType {
			t.Errorf("%s: type %v, want %v", m.name, mf.GetType(), wantType)
		}
	}
	if seen < 100 {
		t.Errorf("only %d INFO fields of the table found in the server's INFO ALL", seen)
	}
	maxclients, err := raw.ConfigGet(ctx, "maxclients").Result()
	if err != nil {
		t.Fatal(err)
	}
	wantMaxClients, _ := strconv.ParseFloat(maxclients["maxclients"], 64)
	// The test's own client adds ERR replies of its own (the unknown
	// command, and any handshake subcommand this server lacks): the probe
	// must report what the server counts, at least the unknown command.
	var wantErr float64
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "errorstat_ERR:count="); ok {
			wantErr, _ = strconv.ParseFloat(v, 64)
		}
	}
	if wantErr < 1 {
		t.Errorf("the server counted no ERR reply: %v", wantErr)
	}
	now := float64(time.Now().Unix())
	checks := []struct {
		name     string
		labels   []string
		min, max float64
	}{
		{"redis_up", nil, 1, 1},
		{"redis_db_keys", []string{"db", "db0"}, 2, 2},
		{"redis_db_keys_expiring", []string{"db", "db0"}, 1, 1},
		// Redis estimates avg_ttl lazily: 0 until its expire cycle samples.
		{"redis_db_avg_ttl_seconds", []string{"db", "db0"}, 0, 3600},
		// Empty databases have their series too, as with redis_exporter.
		{"redis_db_keys", []string{"db", "db3"}, 0, 0},
		{"redis_db_keys_expiring", []string{"db", "db15"}, 0, 0},
		{"redis_keyspace_hits_total", nil, 1, 1e9},
		{"redis_keyspace_misses_total", nil, 1, 1e9},
		{"redis_commands_processed_total", nil, 5, 1e9},
		{"redis_connections_received_total", nil, 2, 1e9},
		{"redis_net_input_bytes_total", nil, 1, 1e12},
		{"redis_net_output_bytes_total", nil, 1, 1e12},
		{"redis_cpu_sys_seconds_total", nil, 0, 3600},
		// A server started a moment ago may have used no measurable CPU
		// yet: the conversion is checked by TestParseRedisInfo.
		{"redis_cpu_user_seconds_total", nil, 0, 3600},
		{"redis_connected_clients", nil, 1, 100},
		{"redis_uptime_in_seconds", nil, 0, 3600},
		{"redis_start_time_seconds", nil, now - 3600, now + 1},
		{"redis_memory_used_bytes", nil, 1 << 10, 1 << 32},
		{"redis_memory_used_rss_bytes", nil, 1 << 10, 1 << 34},
		{"redis_mem_fragmentation_ratio", nil, 0.01, 1000},
		{"redis_memory_used_peak_bytes", nil, 1 << 10, 1 << 32},
		{"redis_memory_used_lua_bytes", nil, 1, 1 << 30},
		{"redis_rdb_changes_since_last_save", nil, 2, 1e9},
		{"redis_rdb_last_bgsave_status", nil, 1, 1},
		{"redis_aof_enabled", nil, 0, 0},
		{"redis_rdb_last_save_timestamp_seconds", nil, now - 3600, now + 60},
		{"redis_repl_backlog_is_active", nil, 0, 1},
		{"redis_cluster_enabled", nil, 0, 0},
		{"redis_config_maxclients", nil, wantMaxClients, wantMaxClients},
		{"redis_config_maxmemory", nil, 0, 0},
		{"redis_config_io_threads", nil, 1, 1},
		{"redis_config_client_output_buffer_limit_bytes", []string{"class", "slave", "limit", "hard"}, 256 << 20, 256 << 20},
		{"redis_config_client_output_buffer_limit_overcome_seconds", []string{"class", "pubsub", "limit", "soft"}, 60, 60},
		{"redis_instance_info", []string{"role", "master", "redis_mode", "standalone", "tcp_port", srv.Addr[strings.LastIndex(srv.Addr, ":")+1:]}, 1, 1},
		{"redis_commands_total", []string{"cmd", "set"}, 2, 2},
		{"redis_commands_duration_seconds_total", []string{"cmd", "set"}, 1e-7, 1},
		{"redis_commands_failed_calls_total", []string{"cmd", "set"}, 0, 0},
		{"redis_commands_rejected_calls_total", []string{"cmd", "get"}, 0, 0},
		{"redis_errors_total", []string{"err", "ERR"}, wantErr, wantErr},
		{"redis_slowlog_length", nil, 1, 128},
		{"redis_slowlog_last_id", nil, 1, 1e6},
		{"redis_last_slow_execution_duration_seconds", nil, 0, 1},
		{"redis_exporter_last_scrape_ping_time_seconds", nil, 1e-7, 1},
	}
	for _, c := range checks {
		v := mustValue(t, mfs, c.name, c.labels...)
		if v < c.min || v > c.max {
			t.Errorf("%s%v = %v, want in [%v, %v]", c.name, c.labels, v, c.min, c.max)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range mfs {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s is not in docs/metrics.md", name)
		}
	}
	// The summaries and histograms of the set calls.
	for _, name := range []string{"redis_latency_percentiles_usec", "redis_commands_latencies_usec"} {
		var found bool
		for _, m := range mfs[name].GetMetric() {
			if seriesLabels(m)["cmd"] != "set" {
				continue
			}
			found = true
			count := m.GetSummary().GetSampleCount() + m.GetHistogram().GetSampleCount()
			if count != 2 {
				t.Errorf("%s{cmd=set}: count %d, want 2", name, count)
			}
		}
		if !found {
			t.Errorf("%s{cmd=set} missing: %v", name, familyNames(mfs))
		}
	}
}

// redisExporterNames are redis_exporter's names that promlint faults
// (abbreviated units, counters without _total, gauges with it). They are
// kept as they are: dashboards and alerts written for redis_exporter select
// them by these names. Exact names, so every new name is still linted.
var redisExporterNames = map[string]bool{
	"redis_aof_current_rewrite_duration_sec": true, "redis_aof_last_rewrite_duration_sec": true,
	"redis_rdb_current_bgsave_duration_sec": true, "redis_rdb_last_bgsave_duration_sec": true,
	"redis_current_eviction_exceeded_time_ms": true, "redis_eviction_exceeded_time_ms_total": true,
	"redis_expire_cycle_cpu_time_ms_total": true, "redis_dump_payload_sanitizations": true,
	"redis_io_threaded_reads_processed": true, "redis_io_threaded_writes_processed": true,
	"redis_total_error_replies": true, "redis_total_reads_processed": true, "redis_total_writes_processed": true,
	"redis_unexpected_error_replies": true, "redis_memory_used_vm_total": true,
	"redis_migrate_cached_sockets_total": true, "redis_rdb_saves_total": true,
	"redis_cluster_messages_sent_total": true, "redis_cluster_messages_received_total": true,
	"redis_sentinel_master_setting_down_after_milliseconds": true,
}

// TestRedisDocsListEveryFamily: docs/metrics.md (which the rules and
// dashboards tests read as the list of known names) names every family the
// INFO table can produce.
func TestRedisDocsListEveryFamily(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	for field, m := range redisInfoMetrics {
		if !strings.Contains(string(doc), "`"+m.name+"`") {
			t.Errorf("INFO field %s: %s is not in docs/metrics.md", field, m.name)
		}
	}
}

func TestParseRedisInfo(t *testing.T) {
	info := strings.Join([]string{
		"# Server", "redis_version:7.2.4", "redis_mode:standalone", "os:Linux", "process_id:42", "run_id:abc", "tcp_port:6380",
		"uptime_in_seconds:1234", "hz:10", "configured_hz:10",
		"# Clients", "connected_clients:7", "blocked_clients:2", "maxclients:10000",
		"# Memory", "used_memory:1048576", "used_memory_human:1.00M", "used_memory_rss:2097152", "maxmemory:0",
		"maxmemory_policy:noeviction", "mem_fragmentation_ratio:2.5", "used_memory_lua:31744",
		"# Persistence", "loading:0", "rdb_changes_since_last_save:17", "rdb_last_bgsave_status:err", "rdb_last_save_time:1700000000",
		"aof_enabled:1", "aof_last_write_status:ok", "aof_rewrite_scheduled:false",
		"# Stats", "total_connections_received:8", "keyspace_hits:10", "keyspace_misses:3", "evicted_keys:4",
		"rejected_connections:5", "total_commands_processed:99", "expired_keys:6", "total_net_input_bytes:1000",
		"total_net_output_bytes:2000", "latest_fork_usec:1500", "expired_time_cap_reached_count:3",
		"# Replication", "role:master", "connected_slaves:1", "master_replid:r1",
		"slave0:ip=10.0.0.2,port=6379,state=online,offset=4242,lag=1", "master_repl_offset:4242",
		"# CPU", "used_cpu_sys:1.5", "used_cpu_user:2.25",
		"# Commandstats",
		"cmdstat_get:calls=21,usec=175,usec_per_call=8.33,rejected_calls=1,failed_calls=2",
		"cmdstat_config|get:calls=4,usec=40,usec_per_call=10.00",
		"# Errorstats", "errorstat_ERR:count=4", "errorstat_NOAUTH:count=3",
		"# Latencystats", "latency_percentiles_usec_get:p50=1.003,p99=2.007,p99.9=4.015",
		"# Cluster", "cluster_enabled:0",
		"# Keyspace", "db0:keys=12,expires=3,avg_ttl=1000,subexpiry=0", "db5:keys=1,expires=0,avg_ttl=0",
		"",
	}, "\r\n")
	s := newSink()
	now := time.Unix(1_700_001_234, 0)
	fields, cmds := parseRedisInfo(info, 8, now, s)
	if fields["role"] != "master" || cmds["get"].calls != 21 || cmds["config|get"].usec != 40 {
		t.Errorf("fields role %q, commandstats %+v", fields["role"], cmds)
	}
	mfs := gatherProbe(t, Result{Families: s.families})

	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"redis_uptime_in_seconds", nil, 1234},
		{"redis_start_time_seconds", nil, 1_700_000_000},
		{"redis_hz", nil, 10},
		{"redis_configured_hz", nil, 10},
		{"redis_process_id", nil, 42},
		{"redis_connected_clients", nil, 7},
		{"redis_blocked_clients", nil, 2},
		{"redis_max_clients", nil, 10000},
		{"redis_memory_used_bytes", nil, 1048576},
		{"redis_memory_used_rss_bytes", nil, 2097152},
		{"redis_memory_used_lua_bytes", nil, 31744},
		{"redis_mem_fragmentation_ratio", nil, 2.5},
		{"redis_memory_max_bytes", nil, 0},
		{"redis_loading_dump_file", nil, 0},
		{"redis_rdb_changes_since_last_save", nil, 17},
		{"redis_rdb_last_bgsave_status", nil, 0},
		{"redis_rdb_last_save_timestamp_seconds", nil, 1700000000},
		{"redis_aof_enabled", nil, 1},
		{"redis_aof_last_write_status", nil, 1},
		{"redis_aof_rewrite_scheduled", nil, 0},
		{"redis_connections_received_total", nil, 8},
		{"redis_keyspace_hits_total", nil, 10},
		{"redis_keyspace_misses_total", nil, 3},
		{"redis_evicted_keys_total", nil, 4},
		{"redis_expired_keys_total", nil, 6},
		{"redis_net_input_bytes_total", nil, 1000},
		{"redis_net_output_bytes_total", nil, 2000},
		{"redis_latest_fork_seconds", nil, 0.0015},
		{"redis_expired_time_cap_reached_total", nil, 3},
		{"redis_rejected_connections_total", nil, 5},
		{"redis_commands_processed_total", nil, 99},
		{"redis_connected_slaves", nil, 1},
		{"redis_master_repl_offset", nil, 4242},
		{"redis_connected_slave_offset_bytes", []string{"slave_ip", "10.0.0.2", "slave_port", "6379", "slave_state", "online"}, 4242},
		{"redis_connected_slave_lag_seconds", []string{"slave_ip", "10.0.0.2", "slave_port", "6379", "slave_state", "online"}, 1},
		{"redis_cpu_sys_seconds_total", nil, 1.5},
		{"redis_cpu_user_seconds_total", nil, 2.25},
		{"redis_commands_total", []string{"cmd", "get"}, 21},
		{"redis_commands_duration_seconds_total", []string{"cmd", "get"}, 175e-6},
		{"redis_commands_rejected_calls_total", []string{"cmd", "get"}, 1},
		{"redis_commands_failed_calls_total", []string{"cmd", "get"}, 2},
		{"redis_commands_total", []string{"cmd", "config|get"}, 4},
		{"redis_errors_total", []string{"err", "ERR"}, 4},
		{"redis_errors_total", []string{"err", "NOAUTH"}, 3},
		{"redis_cluster_enabled", nil, 0},
		{"redis_db_keys", []string{"db", "db0"}, 12},
		{"redis_db_keys_expiring", []string{"db", "db0"}, 3},
		{"redis_db_avg_ttl_seconds", []string{"db", "db0"}, 1},
		{"redis_db_keys", []string{"db", "db5"}, 1},
		{"redis_db_keys_expiring", []string{"db", "db5"}, 0},
		{"redis_db_keys", []string{"db", "db7"}, 0},
		{"redis_instance_info", []string{"role", "master", "redis_version", "7.2.4", "redis_mode", "standalone", "os", "Linux",
			"maxmemory_policy", "noeviction", "tcp_port", "6380", "run_id", "abc", "process_id", "42", "master_replid", "r1", "redis_build_id", ""}, 1},
	}
	for _, tc := range tests {
		if got := mustValue(t, mfs, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// Only configured databases: 8 here.
	if n := len(mfs["redis_db_keys"].GetMetric()); n != 8 {
		t.Errorf("redis_db_keys: %d series, want 8", n)
	}
	// Pre-6.2 commandstats lines have no rejected/failed calls.
	if _, ok := sampleValue(mfs, "redis_commands_failed_calls_total", "cmd", "config|get"); ok {
		t.Errorf("redis_commands_failed_calls_total{cmd=config|get} present without failed_calls in INFO")
	}
	// The summary joins latencystats with commandstats' count and sum.
	sum := mfs["redis_latency_percentiles_usec"].GetMetric()
	if len(sum) != 1 || sum[0].GetSummary().GetSampleCount() != 21 || sum[0].GetSummary().GetSampleSum() != 175 ||
		len(sum[0].GetSummary().GetQuantile()) != 3 || sum[0].GetSummary().GetQuantile()[2].GetQuantile() != 99.9 ||
		sum[0].GetSummary().GetQuantile()[2].GetValue() != 4.015 {
		t.Errorf("redis_latency_percentiles_usec = %v", sum)
	}
	// Not a replica: no master-labelled series.
	for _, name := range []string{"redis_slave_info", "redis_master_link_up", "redis_slave_repl_offset"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s present on a master", name)
		}
	}
	// Fields outside the table are not exported, whatever they look like.
	for _, name := range []string{"redis_used_memory_human", "redis_redis_version", "redis_maxmemory_policy", "redis_role"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s exported", name)
		}
	}
}

func TestParseRedisInfoReplica(t *testing.T) {
	info := strings.Join([]string{
		"# Replication", "role:slave", "master_host:10.0.0.1", "master_port:6379", "master_link_status:down",
		"master_last_io_seconds_ago:-1", "master_sync_in_progress:0", "slave_read_only:1", "slave_repl_offset:77",
		"connected_slaves:0", "",
	}, "\r\n")
	s := newSink()
	parseRedisInfo(info, 1, time.Now(), s)
	mfs := gatherProbe(t, Result{Families: s.families})
	master := []string{"master_host", "10.0.0.1", "master_port", "6379"}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"redis_master_link_up", master, 0},
		{"redis_master_last_io_seconds_ago", master, -1},
		{"redis_master_sync_in_progress", master, 0},
		{"redis_slave_repl_offset", master, 77},
		{"redis_slave_info", append(master, "read_only", "1"), 1},
		{"redis_instance_info", []string{"role", "slave"}, 1},
		{"redis_db_keys", []string{"db", "db0"}, 0},
	} {
		if got := mustValue(t, mfs, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

// TestRedisProbeReplication runs a real master and replica.
func TestRedisProbeReplication(t *testing.T) {
	master := testserver.Redis(t)
	replica := testserver.Redis(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	raw := redis.NewClient(&redis.Options{Addr: replica.Addr, DisableIdentity: true})
	t.Cleanup(func() { raw.Close() })
	if err := raw.Do(t.Context(), "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	pm := newTestProber(t, redisTarget("master", 2*time.Second, config.RedisTarget{Address: master.Addr}))
	pr := newTestProber(t, redisTarget("replica", 2*time.Second, config.RedisTarget{Address: replica.Addr}))
	deadline := time.Now().Add(20 * time.Second)
	for {
		mm := gatherProbe(t, probeWithTimeout(t, pm, 2*time.Second))
		rm := gatherProbe(t, probeWithTimeout(t, pr, 2*time.Second))
		up, _ := sampleValue(rm, "redis_master_link_up", "master_host", host, "master_port", port)
		_, online := sampleValue(mm, "redis_connected_slave_offset_bytes", "slave_state", "online")
		if up == 1 && online {
			mustValue(t, rm, "redis_slave_info", "master_host", host, "master_port", port, "read_only", "1")
			mustValue(t, rm, "redis_instance_info", "role", "slave")
			mustValue(t, rm, "redis_slave_repl_offset", "master_host", host, "master_port", port)
			if n := mustValue(t, mm, "redis_connected_slaves"); n != 1 {
				t.Errorf("redis_connected_slaves = %v, want 1", n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica never reported in sync: master_link_up %v, master families %v", up, familyNames(mm))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRedisProbeCommandRefused: a user refused one of the probe's commands
// (ACL here; rename-command alike) still gets a successful probe, just
// without that command's series.
func TestRedisProbeCommandRefused(t *testing.T) {
	srv := testserver.Redis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	t.Cleanup(func() { raw.Close() })
	tests := []struct {
		deny        string
		gone, still []string
	}{
		{"config", []string{"redis_config_maxclients", "redis_config_maxmemory", "redis_config_io_threads", "redis_config_client_output_buffer_limit_bytes"},
			[]string{"redis_instance_info", "redis_slowlog_length", "redis_commands_latencies_usec"}},
		{"info", []string{"redis_instance_info", "redis_db_keys", "redis_uptime_in_seconds", "redis_commands_total", "redis_commands_latencies_usec"},
			[]string{"redis_config_maxclients", "redis_slowlog_length"}},
		{"slowlog", []string{"redis_slowlog_length", "redis_slowlog_last_id", "redis_last_slow_execution_duration_seconds"},
			[]string{"redis_instance_info", "redis_config_maxclients"}},
		{"latency", []string{"redis_commands_latencies_usec"},
			[]string{"redis_instance_info", "redis_latency_percentiles_usec", "redis_config_maxclients"}},
	}
	for _, tc := range tests {
		t.Run(tc.deny, func(t *testing.T) {
			user := "no-" + tc.deny
			if err := raw.Do(t.Context(), "ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all", "-"+tc.deny).Err(); err != nil {
				t.Fatal(err)
			}
			p := newTestProber(t, redisTarget("cache", 2*time.Second, config.RedisTarget{Address: srv.Addr, Username: user, Password: "pw"}))
			res := probeWithTimeout(t, p, 2*time.Second)
			if !res.Success {
				t.Fatalf("Probe failed: %s: %v", res.Reason, res.Err)
			}
			mfs := gatherProbe(t, res)
			for _, name := range tc.gone {
				if _, ok := mfs[name]; ok {
					t.Errorf("%s present though %s is refused", name, tc.deny)
				}
			}
			for _, name := range append(tc.still, "redis_up", "redis_exporter_last_scrape_ping_time_seconds") {
				if _, ok := mfs[name]; !ok {
					t.Errorf("%s missing: only %s is refused", name, tc.deny)
				}
			}
			if tc.deny == "config" {
				// Without CONFIG GET databases, Redis's default of 16.
				mustValue(t, mfs, "redis_db_keys", "db", "db15")
			}
		})
	}
}

// TestRedisProbeOutage proves the pooled client survives a server restart:
// the same Prober reports the outage, then reconnects.
func TestRedisProbeOutage(t *testing.T) {
	srv := testserver.Redis(t)
	p := newTestProber(t, redisTarget("cache", time.Second, config.RedisTarget{Address: srv.Addr}))

	steps := []struct {
		name   string
		action func()
		wantUp float64
	}{
		{"running", func() {}, 1},
		{"stopped", srv.Stop, 0},
		{"still stopped", func() {}, 0},
		{"restarted", srv.Start, 1},
		{"running again", func() {}, 1},
		// Restarted between two probes: the pooled connections are dead
		// and the probe must not report the client's problem as an outage.
		{"bounced", func() { srv.Stop(); srv.Start() }, 1},
	}
	for _, st := range steps {
		st.action()
		start := time.Now()
		res := probeWithTimeout(t, p, time.Second)
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("%s: probe took %v, timeout 1s", st.name, took)
		}
		mfs := gatherProbe(t, res)
		if up := mustValue(t, mfs, "redis_up"); up != st.wantUp {
			t.Fatalf("%s: redis_up = %v, want %v (reason %q, err %v)", st.name, up, st.wantUp, res.Reason, res.Err)
		}
		if res.Success != (st.wantUp == 1) {
			t.Errorf("%s: success = %v", st.name, res.Success)
		}
		if st.wantUp == 0 && res.Reason != ReasonConnect {
			t.Errorf("%s: reason %q, want %q (err %v)", st.name, res.Reason, ReasonConnect, res.Err)
		}
	}
}

func TestRedisProbeHungServer(t *testing.T) {
	addr := testserver.Silent(t)
	tests := []struct {
		name    string
		address string
		timeout time.Duration
	}{
		{"host:port", addr, 300 * time.Millisecond},
		{"url", "redis://:hunter2@" + addr + "/0", 500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A long configured timeout: the caller's context must win.
			p := newTestProber(t, redisTarget("cache", 10*time.Second, config.RedisTarget{Address: tc.address}))
			start := time.Now()
			res := probeWithTimeout(t, p, tc.timeout)
			took := time.Since(start)
			if took > tc.timeout+250*time.Millisecond {
				t.Errorf("probe took %v with a %v deadline", took, tc.timeout)
			}
			if res.Success || res.Reason != ReasonTimeout {
				t.Errorf("success=%v reason=%q err=%v, want a timeout", res.Success, res.Reason, res.Err)
			}
			checkNoSecret(t, res, "hunter2")
			mfs := gatherProbe(t, res)
			if up := mustValue(t, mfs, "redis_up"); up != 0 {
				t.Errorf("redis_up = %v", up)
			}
		})
	}
}

func TestRedisConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		target config.RedisTarget
		want   string
	}{
		{"empty address", config.RedisTarget{}, "empty"},
		{"bad url keeps password out", config.RedisTarget{Address: "redis://:hunter2@[::1"}, "parsing redis address"},
		{"missing password file", config.RedisTarget{Address: "127.0.0.1:6379", PasswordFile: "/nonexistent/pw"}, "/nonexistent/pw"},
		{"missing ca file", config.RedisTarget{Address: "127.0.0.1:6379", TLS: config.TLSConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"}}, "/nonexistent/ca.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(redisTarget("cache", time.Second, tc.target), nil)
			if err == nil {
				t.Fatalf("New succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q: want it to contain %q and no password", err, tc.want)
			}
		})
	}
}

// BenchmarkRedisProbeOverhead compares the PING latency the probe reports
// with a bare go-redis PING on a warm connection against the same server.
func BenchmarkRedisProbeOverhead(b *testing.B) {
	srv := testserver.Redis(b)
	ctx := b.Context()
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1, DisableIdentity: true})
	b.Cleanup(func() { raw.Close() })
	if err := raw.Ping(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	p := newTestProber(b, redisTarget("cache", 2*time.Second, config.RedisTarget{Address: srv.Addr}))
	_ = probeWithTimeout(b, p, 2*time.Second) // warm the pool

	var rawTotal, reported, probeTotal time.Duration
	rawPing := func() {
		start := time.Now()
		if err := raw.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		rawTotal += time.Since(start)
	}
	probe := func() {
		start := time.Now()
		res := probeWithTimeout(b, p, 2*time.Second)
		probeTotal += time.Since(start)
		if !res.Success {
			b.Fatalf("probe failed: %v", res.Err)
		}
		if v, ok := sampleValue(families(res), "redis_exporter_last_scrape_ping_time_seconds"); ok {
			reported += time.Duration(v * float64(time.Second))
		}
	}
	// Alternate which goes first so neither always meets a cold server.
	odd := false
	for b.Loop() {
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
	b.ReportMetric(float64(probeTotal.Nanoseconds())/n, "whole-probe-ns/op")
	b.ReportMetric(float64(reported)/float64(rawTotal), "reported/raw")
}

// tlsRedis starts a redis-server that speaks only TLS and requires client
// certificates. testserver.Redis has no TLS mode.
func tlsRedis(t *testing.T, f *testPKI) string {
	t.Helper()
	bin := testserver.LookBinary(t, "redis-server", "redis-server")
	port := testserver.FreePort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin,
		"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", f.serverCertFile, "--tls-key-file", f.serverKeyFile,
		"--tls-ca-cert-file", f.caFile, "--tls-auth-clients", "yes",
		"--dir", dir, "--save", "", "--appendonly", "no", "--loglevel", "warning",
	)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server with TLS: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("TLS redis-server on %s did not start: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisProbeTLS(t *testing.T) {
	f := newTestPKI(t, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	addr := tlsRedis(t, f)
	mtls := config.TLSConfig{Enabled: true, CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.keyFile}
	withName := func(c config.TLSConfig, name string) config.TLSConfig { c.ServerName = name; return c }
	insecure := config.TLSConfig{Enabled: true, InsecureSkipVerify: true, CertFile: f.certFile, KeyFile: f.keyFile}

	tests := []struct {
		name       string
		target     config.RedisTarget
		wantReason string // "" for success
	}{
		{"ca and client certificate", config.RedisTarget{Address: addr, TLS: mtls}, ""},
		{"server name localhost", config.RedisTarget{Address: addr, TLS: withName(mtls, "localhost")}, ""},
		{"rediss url with tls files", config.RedisTarget{Address: "rediss://" + addr + "/0", TLS: mtls}, ""},
		{"insecure skip verify", config.RedisTarget{Address: addr, TLS: insecure}, ""},
		{"wrong server name", config.RedisTarget{Address: addr, TLS: withName(mtls, "redis.example.com")}, ReasonTLS},
		{"no client certificate", config.RedisTarget{Address: addr, TLS: config.TLSConfig{Enabled: true, CAFile: f.caFile}}, ReasonTLS},
		{"untrusted server", config.RedisTarget{Address: addr, TLS: config.TLSConfig{Enabled: true, CertFile: f.certFile, KeyFile: f.keyFile}}, ReasonTLS},
		{"plaintext to a tls server", config.RedisTarget{Address: addr}, ReasonConnect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProber(t, redisTarget("cache", 2*time.Second, tc.target))
			res := probeWithTimeout(t, p, 2*time.Second)
			if res.Success != (tc.wantReason == "") || res.Reason != tc.wantReason {
				t.Fatalf("success=%v reason=%q err=%v; want reason %q", res.Success, res.Reason, res.Err, tc.wantReason)
			}
			if up := mustValue(t, gatherProbe(t, res), "redis_up"); up != boolToFloat(res.Success) {
				t.Errorf("redis_up = %v", up)
			}
		})
	}
}

// TestRedisPasswordFileRotation proves the password file is read again for
// new connections: a rotated secret needs no agent restart.
func TestRedisPasswordFileRotation(t *testing.T) {
	const oldPW, newPW = "old-Pa55word", "new-Pa55word"
	srv := testserver.Redis(t, testserver.WithPassword(oldPW))
	pwFile := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pwFile, []byte(oldPW), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newTestProber(t, redisTarget("cache", 2*time.Second, config.RedisTarget{Address: srv.Addr, PasswordFile: pwFile}))
	if res := probeWithTimeout(t, p, 2*time.Second); !res.Success {
		t.Fatalf("probe with the old password: %s: %v", res.Reason, res.Err)
	}

	// Rotate: the server's password, the file, and drop every connection.
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: oldPW, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { admin.Close() })
	ctx := t.Context()
	if err := admin.ConfigSet(ctx, "requirepass", newPW).Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte(newPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = admin.Do(ctx, "CLIENT", "KILL", "TYPE", "normal").Err() // kills admin's own connection too

	res := probeWithTimeout(t, p, 2*time.Second)
	if !res.Success {
		t.Fatalf("probe after rotation: %s: %v", res.Reason, res.Err)
	}
	checkNoSecret(t, res, newPW)
}

// connCounter is a TCP proxy in front of a server that counts the
// connections clients open through it.
type connCounter struct {
	Addr           string
	accepted, open atomic.Int64
}

func newConnCounter(t *testing.T, upstream string) *connCounter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cc := &connCounter{Addr: l.Addr().String()}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			cc.accepted.Add(1)
			cc.open.Add(1)
			wg.Go(func() {
				defer cc.open.Add(-1)
				defer c.Close()
				up, err := net.DialTimeout("tcp", upstream, time.Second)
				if err != nil {
					return
				}
				defer up.Close()
				go func() {
					<-done
					c.Close()
					up.Close()
				}()
				copied := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, c); copied <- struct{}{} }()
				go func() { _, _ = io.Copy(c, up); copied <- struct{}{} }()
				<-copied // either side closing ends the pair
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		close(done)
		wg.Wait()
	})
	return cc
}

// waitOpen waits until the proxy has n open connections.
func (cc *connCounter) waitOpen(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for cc.open.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", cc.open.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisConnectionReuse proves probes share a small pool rather than
// connecting each time, and that Close releases it.
func TestRedisConnectionReuse(t *testing.T) {
	srv := testserver.Redis(t)
	cc := newConnCounter(t, srv.Addr)
	p, err := New(redisTarget("cache", 2*time.Second, config.RedisTarget{Address: cc.Addr}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if res := probeWithTimeout(t, p, 2*time.Second); !res.Success {
			t.Fatalf("probe %d: %s: %v", i, res.Reason, res.Err)
		}
	}
	if n := cc.accepted.Load(); n < 1 || n > redisPoolSize {
		t.Errorf("20 probes opened %d connections, want 1..%d", n, redisPoolSize)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cc.waitOpen(t, 0)
	if res := p.Probe(t.Context()); res.Success {
		t.Errorf("probe after Close succeeded")
	}
}

// TestParseRedisLatencyHistogram reads both reply shapes: RESP3 maps (what
// go-redis negotiates with Redis 6+) and RESP2 flat lists.
func TestParseRedisLatencyHistogram(t *testing.T) {
	cmds := map[string]redisCmdStat{
		"set": {calls: 3, usec: 30}, "setex": {calls: 1, usec: 5}, "config|get": {calls: 2, usec: 8}, "client-x": {calls: 1, usec: 1000},
	}
	resp3 := map[any]any{
		"set":        map[any]any{"calls": int64(3), "histogram_usec": map[any]any{int64(1): int64(2), int64(4): int64(3)}},
		"config|get": map[any]any{"calls": int64(2), "histogram_usec": map[any]any{int64(8): int64(2)}},
	}
	resp2 := []any{
		"set", []any{"calls", int64(3), "histogram_usec", []any{int64(1), int64(2), int64(4), int64(3)}},
		"config|get", []any{"calls", int64(2), "histogram_usec", []any{int64(8), int64(2)}},
	}
	for name, reply := range map[string]any{"resp3": resp3, "resp2": resp2} {
		t.Run(name, func(t *testing.T) {
			s := newSink()
			parseRedisLatencyHistogram(reply, cmds, s)
			mfs := gatherProbe(t, Result{Families: s.families})
			got := map[string]string{}
			for _, m := range mfs["redis_commands_latencies_usec"].GetMetric() {
				h := m.GetHistogram()
				var bs []string
				for _, b := range h.GetBucket() {
					bs = append(bs, strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)+":"+strconv.FormatUint(b.GetCumulativeCount(), 10))
				}
				got[seriesLabels(m)["cmd"]] = strconv.FormatUint(h.GetSampleCount(), 10) + " " + strconv.FormatFloat(h.GetSampleSum(), 'g', -1, 64) + " " + strings.Join(bs, ",")
			}
			// As redis_exporter: the sum is the usec of every command the
			// name prefixes (set and setex), names with other characters
			// than [a-zA-Z0-9|] left out.
			want := map[string]string{"set": "3 35 1:2,4:3", "config|get": "2 8 8:2"}
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q", k, got[k], v)
				}
			}
		})
	}
	s := newSink()
	parseRedisLatencyHistogram("not a histogram", cmds, s)
	if len(s.families) != 0 {
		t.Errorf("a malformed reply gave %d families", len(s.families))
	}
}

// TestRedisProbeConfigCommand: a server whose CONFIG is renamed (as
// hardened setups do) answers the configured name; "-" sends no CONFIG.
func TestRedisProbeConfigCommand(t *testing.T) {
	renamed := testserver.Redis(t, testserver.WithConfig("rename-command CONFIG vigil-config")).Addr
	plain := testserver.Redis(t)

	tests := []struct {
		name, addr, configCommand string
		wantConfig                bool
	}{
		{"renamed, configured", renamed, "vigil-config", true},
		{"renamed, default name", renamed, "", false},
		{"plain, default name", plain.Addr, "", true},
		{"plain, skipped", plain.Addr, "-", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProber(t, redisTarget("cache", 2*time.Second, config.RedisTarget{Address: tc.addr, ConfigCommand: tc.configCommand}))
			res := probeWithTimeout(t, p, 2*time.Second)
			if !res.Success {
				t.Fatalf("Probe failed: %s: %v", res.Reason, res.Err)
			}
			mfs := gatherProbe(t, res)
			_, got := mfs["redis_config_maxclients"]
			if got != tc.wantConfig {
				t.Errorf("redis_config_maxclients present %v, want %v", got, tc.wantConfig)
			}
			mustValue(t, mfs, "redis_instance_info", "role", "master")
		})
	}
	// "-" sent no CONFIG at all: the plain server counted only the probe
	// with the default name.
	raw := redis.NewClient(&redis.Options{Addr: plain.Addr, DisableIdentity: true})
	t.Cleanup(func() { raw.Close() })
	stats, err := raw.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := "cmdstat_config|get:calls=" + strconv.Itoa(len(redisConfigKeys)) + ","
	if !strings.Contains(stats, want) {
		t.Errorf("commandstats %q lacks %q: one probe's CONFIG GETs", stats, want)
	}
}

// TestRedisProbeLatencyLatest: with the latency monitor on, a slow script
// is a spike the probe reports.
func TestRedisProbeLatencyLatest(t *testing.T) {
	srv := testserver.Redis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	t.Cleanup(func() { raw.Close() })
	ctx := t.Context()
	p := newTestProber(t, redisTarget("cache", 2*time.Second, config.RedisTarget{Address: srv.Addr}))
	if _, ok := gatherProbe(t, probeWithTimeout(t, p, 2*time.Second))["redis_latency_spike_last"]; ok {
		t.Fatalf("redis_latency_spike_last without the latency monitor")
	}
	if err := raw.ConfigSet(ctx, "latency-monitor-threshold", "1").Err(); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	start := time.Now()
	if err := raw.Eval(ctx, "local i = 0 while i < 5000000 do i = i + 1 end return i", nil).Err(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	res := probeWithTimeout(t, p, 2*time.Second)
	if !res.Success {
		t.Fatalf("Probe failed: %s: %v", res.Reason, res.Err)
	}
	mfs := gatherProbe(t, res)
	last := mustValue(t, mfs, "redis_latency_spike_last", "event_name", "command")
	if last < float64(before) || last > float64(time.Now().Unix()) {
		t.Errorf("redis_latency_spike_last = %v, want in [%d, now]", last, before)
	}
	dur := mustValue(t, mfs, "redis_latency_spike_duration_seconds", "event_name", "command")
	if dur < 0.001 || dur > took.Seconds()+0.001 {
		t.Errorf("redis_latency_spike_duration_seconds = %v, want in [1ms, %v]", dur, took)
	}
}

// TestRedisProbeCluster: a cluster node (one, without slots) adds its
// CLUSTER INFO and has only db0, as redis_exporter reports it.
func TestRedisProbeCluster(t *testing.T) {
	dir := t.TempDir()
	addr := testserver.Redis(t, testserver.WithConfig("cluster-enabled yes", "cluster-config-file "+filepath.Join(dir, "nodes.conf"))).Addr
	p := newTestProber(t, redisTarget("node", 2*time.Second, config.RedisTarget{Address: addr}))
	res := probeWithTimeout(t, p, 2*time.Second)
	if !res.Success {
		t.Fatalf("Probe failed: %s: %v", res.Reason, res.Err)
	}
	mfs := gatherProbe(t, res)
	for _, c := range []struct {
		name string
		want float64
	}{
		{"redis_cluster_enabled", 1},
		{"redis_cluster_state", 0}, // "fail": no slot is assigned
		{"redis_cluster_slots_assigned", 0},
		{"redis_cluster_known_nodes", 1},
	} {
		if got := mustValue(t, mfs, c.name); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if n := len(mfs["redis_db_keys"].GetMetric()); n != 1 {
		t.Errorf("redis_db_keys: %d series, want 1 (db0)", n)
	}
	mustValue(t, mfs, "redis_instance_info", "redis_mode", "cluster")
}

func TestParseRedisClusterInfo(t *testing.T) {
	s := newSink()
	parseRedisClusterInfo("cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_stats_messages_sent:10\r\n"+
		"cluster_stats_messages_ping_sent:4\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n", s)
	mfs := gatherProbe(t, Result{Families: s.families})
	for name, want := range map[string]float64{
		"redis_cluster_state": 1, "redis_cluster_slots_assigned": 16384,
		"redis_cluster_messages_sent_total": 10, "redis_cluster_stats_messages_ping_sent": 4,
	} {
		if got := mustValue(t, mfs, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if len(mfs) != 4 {
		t.Errorf("families %v, want 4", familyNames(mfs))
	}
}
