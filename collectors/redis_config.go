package collectors

import (
	"fmt"
	"strconv"
	"strings"
)

// redisConfigKeys are the settings redis_exporter exports by default. One
// CONFIG GET each (rather than CONFIG GET * as redis_exporter does, or one
// multi-key CONFIG GET, which needs Redis 7): they ride in the probe's
// pipeline, so this costs no round trip and works on every version.
var redisConfigKeys = []string{"maxclients", "maxmemory", "io-threads", "databases", "client-output-buffer-limit"}

// parseRedisConfig adds redis_config_* from the CONFIG GET replies and
// returns the number of databases (0 if unknown).
func parseRedisConfig(cfg map[string]string, s *sink) (dbCount int) {
	for _, k := range []string{"maxclients", "maxmemory", "io-threads"} {
		if v, err := strconv.ParseFloat(cfg[k], 64); err == nil {
			name := "redis_config_" + strings.ReplaceAll(k, "-", "_")
			s.gauge(name, fmt.Sprintf("The %s setting (CONFIG GET).", k), v)
		}
	}
	// "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60":
	// class, hard limit, soft limit, soft seconds.
	f := strings.Fields(cfg["client-output-buffer-limit"])
	for i := 0; i+3 < len(f); i += 4 {
		class := f[i]
		if v, err := strconv.ParseFloat(f[i+1], 64); err == nil {
			s.gauge("redis_config_client_output_buffer_limit_bytes", "The client output buffer limits by client class.", v, "class", class, "limit", "hard")
		}
		if v, err := strconv.ParseFloat(f[i+2], 64); err == nil {
			s.gauge("redis_config_client_output_buffer_limit_bytes", "The client output buffer limits by client class.", v, "class", class, "limit", "soft")
		}
		if v, err := strconv.ParseFloat(f[i+3], 64); err == nil {
			s.gauge("redis_config_client_output_buffer_limit_overcome_seconds", "How long a client class may exceed its soft output buffer limit.", v, "class", class, "limit", "soft")
		}
	}
	if n, err := strconv.Atoi(cfg["databases"]); err == nil && n > 0 {
		dbCount = n
	}
	return dbCount
}

// parseRedisLatencyHistogram adds redis_commands_latencies_usec from a
// LATENCY HISTOGRAM reply (Redis 7+): per command, its calls and cumulative
// counts by power-of-two microsecond bucket. The RESP3 reply is a map, the
// RESP2 one a flat list of pairs. The sum is, as redis_exporter computes it,
// the commandstats usec of every command whose name starts with cmd.
func parseRedisLatencyHistogram(reply any, cmds map[string]redisCmdStat, s *sink) {
	perCmd, ok := redisPairs(reply)
	if !ok {
		return
	}
	for _, p := range perCmd {
		cmd, ok := p[0].(string)
		if !ok {
			continue
		}
		details, ok := redisPairs(p[1])
		if !ok {
			continue
		}
		var calls float64
		buckets := map[float64]uint64{}
		for _, d := range details {
			switch d[0] {
			case "calls":
				calls, _ = redisNumber(d[1])
			case "histogram_usec":
				bs, _ := redisPairs(d[1])
				for _, b := range bs {
					le, ok1 := redisNumber(b[0])
					n, ok2 := redisNumber(b[1])
					if ok1 && ok2 {
						buckets[le] = uint64(n)
					}
				}
			}
		}
		var sum float64
		for name, st := range cmds {
			if strings.HasPrefix(name, cmd) && redisSummedCmd(name) {
				sum += st.usec
			}
		}
		sinkHistogram(s, "redis_commands_latencies_usec", "Latency histogram per command, in microseconds (LATENCY HISTOGRAM).",
			uint64(calls), sum, buckets, "cmd", cmd)
	}
}

// redisPairs reads a RESP3 map or a RESP2 list of key, value, ... pairs.
func redisPairs(v any) ([][2]any, bool) {
	switch x := v.(type) {
	case map[any]any:
		out := make([][2]any, 0, len(x))
		for k, v := range x {
			out = append(out, [2]any{k, v})
		}
		return out, true
	case map[string]any:
		out := make([][2]any, 0, len(x))
		for k, v := range x {
			out = append(out, [2]any{k, v})
		}
		return out, true
	case []any:
		if len(x)%2 != 0 {
			return nil, false
		}
		out := make([][2]any, 0, len(x)/2)
		for i := 0; i < len(x); i += 2 {
			out = append(out, [2]any{x[i], x[i+1]})
		}
		return out, true
	}
	return nil, false
}

func redisNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// parseRedisLatencyLatest adds the latency monitor's latest spike per event
// from a LATENCY LATEST reply: [event, unix time, latest ms, max ms] each.
// Empty unless latency-monitor-threshold is set on the server.
func parseRedisLatencyLatest(reply any, s *sink) {
	events, ok := reply.([]any)
	if !ok {
		return
	}
	for _, e := range events {
		f, ok := e.([]any)
		if !ok || len(f) < 3 {
			continue
		}
		name, ok1 := f[0].(string)
		last, ok2 := redisNumber(f[1])
		dur, ok3 := redisNumber(f[2])
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		s.gauge("redis_latency_spike_last", "Unix time of the latest latency spike by event.", last, "event_name", name)
		s.gauge("redis_latency_spike_duration_seconds", "Duration of the latest latency spike by event, in seconds.", dur/1e3, "event_name", name)
	}
}
