package rules

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	th "github.com/vigil-sh/vigil/internal/thresholds"
)

// redisGroups alert on the agent's Redis probes (redis_exporter's names and
// identity: job "redis" by default, instance the server's host:port), one
// alert per instance: the expressions keep every label of the series.
func redisGroups() rulefmt.RuleGroups {
	return groups(group("redis",
		alert{
			name:        "RedisDown",
			expr:        `redis_up == 0`,
			for_:        time.Minute,
			severity:    SeverityCritical,
			summary:     "Redis {{ $labels.instance }} is down",
			description: "Redis {{ $labels.instance }} (job {{ $labels.job }}) has been unreachable for 1 minute (redis_up = {{ $value }}).",
		}.rule(),
		alert{
			name:        "RedisMemoryNearMax",
			expr:        fmt.Sprintf(`redis_memory_used_bytes / (redis_memory_max_bytes > 0) > %s`, num(th.RedisMemoryRatio)),
			for_:        5 * time.Minute,
			severity:    SeverityWarning,
			summary:     "Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of maxmemory",
			description: "Redis {{ $labels.instance }} (job {{ $labels.job }}) uses {{ $value | humanizePercentage }} of its maxmemory (threshold " + pct(th.RedisMemoryRatio) + "); it will soon evict keys or reject writes.",
		}.rule(),
		alert{
			name:        "RedisRejectingConnections",
			expr:        `increase(redis_rejected_connections_total[5m]) > 0`,
			severity:    SeverityWarning,
			summary:     "Redis {{ $labels.instance }} rejects connections",
			description: "Redis {{ $labels.instance }} (job {{ $labels.job }}) rejected {{ $value | humanize }} connections in the last 5 minutes (maxclients reached).",
		}.rule(),
		alert{
			name:        "RedisEvictingKeys",
			expr:        `increase(redis_evicted_keys_total[5m]) > 0`,
			for_:        10 * time.Minute,
			severity:    SeverityWarning,
			summary:     "Redis {{ $labels.instance }} evicts keys",
			description: "Redis {{ $labels.instance }} (job {{ $labels.job }}) evicted {{ $value | humanize }} keys in the last 5 minutes and has kept evicting for 10 minutes: it is at maxmemory.",
		}.rule(),
	))
}
