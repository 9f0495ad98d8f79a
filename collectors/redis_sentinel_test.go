package collectors

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// TestRedisProbeSentinel probes a real Redis Sentinel monitoring a real
// master with one replica, then stops the replica: the sentinel flags it
// down and redis_sentinel_master_ok_slaves drops while _slaves stays.
func TestRedisProbeSentinel(t *testing.T) {
	master := testserver.Redis(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	replica := testserver.Redis(t, testserver.WithConfig("replicaof "+host+" "+port))
	waitReplicaOnline(t, master.Addr)
	sentinel := testserver.Redis(t, testserver.WithSentinel("cache", master),
		testserver.WithConfig("sentinel down-after-milliseconds cache 500"))
	p := newTestProber(t, redisTarget("sentinel", 2*time.Second, config.RedisTarget{Address: sentinel.Addr}))

	probe := func() map[string]float64 {
		t.Helper()
		res := probeWithTimeout(t, p, 2*time.Second)
		if !res.Success {
			t.Fatalf("probe of the sentinel failed: %s: %v", res.Reason, res.Err)
		}
		mfs := gatherProbe(t, res)
		mustValue(t, mfs, "redis_instance_info", "redis_mode", "sentinel")
		byMaster := []string{"master_name", "cache", "master_address", master.Addr}
		out := map[string]float64{}
		for _, name := range []string{"redis_sentinel_master_slaves", "redis_sentinel_master_sentinels", "redis_sentinel_master_ok_slaves",
			"redis_sentinel_master_ok_sentinels", "redis_sentinel_master_setting_ckquorum", "redis_sentinel_master_setting_failover_timeout",
			"redis_sentinel_master_setting_parallel_syncs", "redis_sentinel_master_setting_down_after_milliseconds"} {
			out[name] = mustValue(t, mfs, name, byMaster...)
		}
		out["redis_sentinel_master_status"] = mustValue(t, mfs, "redis_sentinel_master_status", append(byMaster, "master_status", "ok")...)
		for _, name := range []string{"redis_sentinel_masters", "redis_sentinel_tilt", "redis_sentinel_running_scripts", "redis_sentinel_scripts_queue_length", "redis_sentinel_simulate_failure_flags"} {
			out[name] = mustValue(t, mfs, name)
		}
		for _, m := range mfs["redis_sentinel_master_ckquorum_status"].GetMetric() {
			l := seriesLabels(m)
			if l["master_name"] != "cache" || !strings.HasPrefix(l["message"], "OK 1 usable Sentinels") {
				t.Errorf("redis_sentinel_master_ckquorum_status%v: want master cache and SENTINEL CKQUORUM's OK message", l)
			}
			out["ckquorum"] = m.GetGauge().GetValue()
		}
		return out
	}
	want := map[string]float64{
		"redis_sentinel_masters": 1, "redis_sentinel_tilt": 0, "redis_sentinel_running_scripts": 0, "redis_sentinel_scripts_queue_length": 0,
		"redis_sentinel_simulate_failure_flags": 0, "redis_sentinel_master_status": 1, "ckquorum": 1,
		"redis_sentinel_master_slaves": 1, "redis_sentinel_master_ok_slaves": 1,
		"redis_sentinel_master_sentinels": 1, "redis_sentinel_master_ok_sentinels": 1, // itself
		"redis_sentinel_master_setting_ckquorum": 1, "redis_sentinel_master_setting_failover_timeout": 180000,
		"redis_sentinel_master_setting_parallel_syncs": 1, "redis_sentinel_master_setting_down_after_milliseconds": 500,
	}
	waitSentinel(t, probe, want, "with the replica up")

	replica.Stop()
	want["redis_sentinel_master_ok_slaves"] = 0 // s_down after 500 ms, still known
	waitSentinel(t, probe, want, "after the replica stopped")
}

// waitSentinel probes until the values are want: the sentinel learns of
// the replica from the master's INFO, and of its death after
// down-after-milliseconds.
func waitSentinel(t *testing.T, probe func() map[string]float64, want map[string]float64, when string) {
	t.Helper()
	var got map[string]float64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got = probe()
		diff := false
		for k, v := range want {
			if got[k] != v {
				diff = true
			}
		}
		if !diff {
			return
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %v, want %v", when, k, got[k], v)
		}
	}
}

func waitReplicaOnline(t *testing.T, masterAddr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: masterAddr, DisableIdentity: true})
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if info, err := c.Info(t.Context(), "replication").Result(); err == nil && strings.Contains(info, "state=online") {
			return
		}
	}
	t.Fatal("the replica never came online on the master")
}

// TestRedisSentinelLine: INFO sentinel's master lines, as redis_exporter
// parses them; a line without numeric slaves/sentinels yields nothing.
func TestRedisSentinelLine(t *testing.T) {
	s := newSink()
	info := "# Sentinel\r\nsentinel_masters:2\r\nsentinel_tilt:1\r\nsentinel_running_scripts:0\r\n" +
		"master0:name=user03,status=sdown,address=192.169.2.52:6381,slaves=1,sentinels=5\r\n" +
		"master1:name=user02,status=ok,address=192.169.2.54:6380,slaves=2,sentinels=5\r\n" +
		"master2:name=broken,status=ok,address=10.0.0.1:6379,slaves=x,sentinels=5\r\n"
	parseRedisInfo(info, 0, time.Now(), s)
	mfs := gatherProbe(t, Result{Families: s.families})
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"redis_sentinel_masters", nil, 2},
		{"redis_sentinel_tilt", nil, 1},
		{"redis_sentinel_master_status", []string{"master_name", "user03", "master_address", "192.169.2.52:6381", "master_status", "sdown"}, 0},
		{"redis_sentinel_master_status", []string{"master_name", "user02", "master_status", "ok"}, 1},
		{"redis_sentinel_master_slaves", []string{"master_name", "user02", "master_address", "192.169.2.54:6380"}, 2},
		{"redis_sentinel_master_sentinels", []string{"master_name", "user03"}, 5},
	}
	for _, tt := range tests {
		if got := mustValue(t, mfs, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if _, ok := sampleValue(mfs, "redis_sentinel_master_status", "master_name", "broken"); ok {
		t.Error("a master line with a non-numeric slaves count was reported")
	}
}
