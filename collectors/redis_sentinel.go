package collectors

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisSentinelFields are the INFO sentinel fields redis_exporter exports
// as gauges of their own name (sentinel_tilt -> redis_sentinel_tilt).
var redisSentinelFields = map[string]string{
	"sentinel_masters":                "The number of masters this sentinel is watching",
	"sentinel_tilt":                   "Sentinel is in TILT mode",
	"sentinel_running_scripts":        "Number of scripts in execution right now",
	"sentinel_scripts_queue_length":   "Queue of user scripts to execute",
	"sentinel_simulate_failure_flags": "Failures simulations",
}

var reRedisSentinelMaster = regexp.MustCompile(`^master\d+`)

// redisSentinelLine adds the metrics of one INFO sentinel line: the plain
// fields, and per master0:name=…,status=…,address=…,slaves=…,sentinels=…
// its status, replica and sentinel counts.
func redisSentinelLine(field, value string, s *sink) {
	if help, ok := redisSentinelFields[field]; ok {
		v, _ := strconv.Atoi(value) // as redis_exporter: 0 when unparsable
		s.gauge("redis_"+field, help, float64(v))
		return
	}
	if !reRedisSentinelMaster.MatchString(field) {
		return
	}
	kv := map[string]string{}
	for part := range strings.SplitSeq(value, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && !strings.Contains(v, "=") {
			kv[k] = v
		}
	}
	slaves, err1 := strconv.ParseFloat(kv["slaves"], 64)
	sentinels, err2 := strconv.ParseFloat(kv["sentinels"], 64)
	if err1 != nil || err2 != nil {
		return
	}
	name, addr, status := kv["name"], kv["address"], kv["status"]
	s.gauge("redis_sentinel_master_status", "Master status on Sentinel", boolToFloat(status == "ok"),
		"master_name", name, "master_address", addr, "master_status", status)
	s.gauge("redis_sentinel_master_slaves", "The number of slaves of the master", slaves, "master_name", name, "master_address", addr)
	s.gauge("redis_sentinel_master_sentinels", "The number of sentinels monitoring this master", sentinels, "master_name", name, "master_address", addr)
}

// redisSentinelSettings are SENTINEL MASTERS fields redis_exporter exports
// per master.
var redisSentinelSettings = []struct{ field, name, help string }{
	{"quorum", "redis_sentinel_master_setting_ckquorum", "Show the current ckquorum config for each master"},
	{"failover-timeout", "redis_sentinel_master_setting_failover_timeout", "Show the current failover-timeout config for each master"},
	{"parallel-syncs", "redis_sentinel_master_setting_parallel_syncs", "Show the current parallel-syncs config for each master"},
	{"down-after-milliseconds", "redis_sentinel_master_setting_down_after_milliseconds", "Show the current down-after-milliseconds config for each master"},
}

// probeSentinel adds what a sentinel says of its masters, as redis_exporter:
// SENTINEL MASTERS, then for every master CKQUORUM, SENTINELS and SLAVES,
// pipelined in one round trip. A refused command costs its series; an
// error talking to the server is returned.
func (p *redisProber) probeSentinel(ctx context.Context, c *redis.Client, s *sink, refused func(string, error)) error {
	reply, err := c.Do(ctx, "SENTINEL", "MASTERS").Slice()
	if err != nil {
		if !isRedisReply(err) {
			return fmt.Errorf("SENTINEL MASTERS: %w", err)
		}
		refused("SENTINEL MASTERS", err)
		return nil
	}
	type master struct {
		name, addr                  string
		fields                      map[string]string
		ckquorum, sentinels, slaves *redis.Cmd
	}
	var masters []*master
	for _, r := range reply {
		f := redisStringMap(r)
		name, okName := f["name"]
		ip, okIP := f["ip"]
		port, okPort := f["port"]
		if !okName || !okIP || !okPort {
			continue
		}
		masters = append(masters, &master{name: name, addr: ip + ":" + port, fields: f})
	}
	if len(masters) == 0 {
		return nil
	}
	_, _ = c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, m := range masters {
			m.ckquorum = pipe.Do(ctx, "SENTINEL", "CKQUORUM", m.name)
			m.sentinels = pipe.Do(ctx, "SENTINEL", "SENTINELS", m.name)
			m.slaves = pipe.Do(ctx, "SENTINEL", "SLAVES", m.name)
		}
		return nil
	})
	for _, m := range masters {
		msg, err := m.ckquorum.Text()
		if err != nil && !isRedisReply(err) {
			return fmt.Errorf("SENTINEL CKQUORUM %s: %w", m.name, err)
		}
		// NOQUORUM is an error reply whose text is the message.
		if err != nil {
			msg = err.Error()
		}
		s.gauge("redis_sentinel_master_ckquorum_status", "Master ckquorum status", boolToFloat(err == nil), "master_name", m.name, "message", msg)
		for _, st := range redisSentinelSettings {
			v, _ := strconv.ParseFloat(m.fields[st.field], 64)
			s.gauge(st.name, st.help, v, "master_name", m.name, "master_address", m.addr)
		}
		// The master is counted among its own ok sentinels' peers: this
		// sentinel answering is one, as redis_exporter counts it.
		if n, ok := redisOKPeers(m.sentinels, "SENTINEL SENTINELS "+m.name, refused); ok {
			s.gauge("redis_sentinel_master_ok_sentinels", "The number of okay sentinels monitoring this master", float64(n+1), "master_name", m.name, "master_address", m.addr)
		}
		if n, ok := redisOKPeers(m.slaves, "SENTINEL SLAVES "+m.name, refused); ok {
			s.gauge("redis_sentinel_master_ok_slaves", "The number of okay slaves of the master", float64(n), "master_name", m.name, "master_address", m.addr)
		}
	}
	return nil
}

// redisOKPeers counts the sentinels or replicas of a SENTINEL SENTINELS or
// SLAVES reply that are neither subjectively nor objectively down.
func redisOKPeers(cmd *redis.Cmd, name string, refused func(string, error)) (int, bool) {
	peers, err := cmd.Slice()
	if err != nil {
		refused(name, err)
		return 0, false
	}
	n := 0
	for _, p := range peers {
		flags, ok := redisStringMap(p)["flags"]
		if ok && !strings.Contains(flags, "o_down") && !strings.Contains(flags, "s_down") {
			n++
		}
	}
	return n, true
}

// redisStringMap reads a RESP3 map or RESP2 flat list of field, value, …
// as strings.
func redisStringMap(v any) map[string]string {
	pairs, _ := redisPairs(v)
	out := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		out[fmt.Sprint(kv[0])] = fmt.Sprint(kv[1])
	}
	return out
}
