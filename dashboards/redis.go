package dashboards

import (
	"fmt"

	"github.com/vigil-sh/vigil/internal/thresholds"
)

func redisDashboard() spec {
	return spec{
		uid:   "vigil-redis",
		title: "Vigil / Redis",
		description: "Redis as the agent probes it (job redis, one instance per server, as redis_exporter's) and the " +
			"app's cache in front of it (job app).",
		jobs: "redis|app", series: "redis_up|app_dependency_up",
		rows: []row{
			{title: "Server", panels: []panel{
				upStat("Redis up", "Whether the agent's last probe could connect to Redis and read INFO (redis_up).",
					sel("redis_up"), "{{instance}}", 6),
				upStat("App's Redis", "Whether the app itself considers Redis reachable (app_dependency_up).",
					sel("app_dependency_up", `dependency="redis"`), "{{instance}}", 6),
				{
					kind: kindStat, title: "Uptime", description: "Seconds since the Redis server started. A reset means a restart and, without persistence, an empty cache.",
					unit: "s", w: 6, h: 6,
					queries: []query{{expr: sel("redis_uptime_in_seconds"), legend: "{{instance}}"}},
				},
				{
					kind: kindStat, title: "Keys", description: "Keys stored, summed over the databases.",
					unit: "short", w: 6, h: 6,
					queries: []query{{expr: "sum by (instance) (" + sel("redis_db_keys") + ") or sum by (instance) (" + sel("redis_up") + " * 0)", legend: "{{instance}}"}},
				},
				{
					title: "Latency", description: "Round trip of the agent's PING to each server.",
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: sel("redis_exporter_last_scrape_ping_time_seconds"), legend: "{{instance}}"}},
				},
				{
					title: "Commands per second", description: "Commands Redis processed per second.",
					unit: "ops", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: rate(sel("redis_commands_processed_total")), legend: "{{instance}}"}},
				},
				{
					title: "Clients", description: "Connected clients, and clients blocked in a blocking command.",
					unit: "short", w: 8, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: sel("redis_connected_clients"), legend: "{{instance}} connected"},
						{expr: sel("redis_blocked_clients"), legend: "{{instance}} blocked"},
					},
				},
			}},
			{title: "Memory and cache", panels: []panel{
				{
					title: "Memory used vs max", description: "Memory Redis uses and its maxmemory limit (0 means no limit).",
					unit: "bytes", w: 8, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: sel("redis_memory_used_bytes"), legend: "{{instance}} used"},
						{expr: sel("redis_memory_max_bytes"), legend: "{{instance}} max"},
					},
				},
				{
					title: "Memory usage",
					description: fmt.Sprintf("Used memory as a share of maxmemory; RedisMemoryNearMax fires above %s. Empty when no maxmemory is set.",
						num(thresholds.RedisMemoryRatio*100)+"%"),
					unit: "percentunit", w: 8, h: 8, min: ptr(0.0), max: ptr(1.0),
					steps:   []step{{value: thresholds.RedisMemoryRatio}},
					queries: []query{{expr: sel("redis_memory_used_bytes") + " / (" + sel("redis_memory_max_bytes") + " > 0)", legend: "{{instance}}"}},
				},
				{
					title: "Hit ratio", description: "Share of key lookups that found the key, server side and in the app's cache.",
					unit: "percentunit", w: 8, h: 8, min: ptr(0.0), max: ptr(1.0),
					queries: []query{
						{
							expr: rate(sel("redis_keyspace_hits_total")) + " / (" + rate(sel("redis_keyspace_hits_total")) + " + " +
								rate(sel("redis_keyspace_misses_total")) + ")",
							legend: "{{instance}} keyspace",
						},
						{
							expr: "sum(" + rate(sel("app_cache_hits_total")) + ") / (sum(" + rate(sel("app_cache_hits_total")) + ") + sum(" +
								rate(sel("app_cache_misses_total")) + "))",
							legend: "app cache",
						},
					},
				},
				{
					title: "Evictions and rejections", description: "Keys evicted under maxmemory pressure and connections refused at maxclients, per second.",
					unit: "ops", w: 12, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: rate(sel("redis_evicted_keys_total")), legend: "{{instance}} evicted"},
						{expr: rate(sel("redis_rejected_connections_total")), legend: "{{instance}} rejected"},
					},
				},
				{
					title: "Keys by database", description: "Keys stored per logical database.",
					unit: "short", w: 12, h: 8, min: ptr(0.0),
					queries: []query{{expr: "sum by (instance, db) (" + sel("redis_db_keys") + ")", legend: "{{instance}} {{db}}"}},
				},
			}},
			{title: "Persistence and replication", panels: []panel{
				{
					kind: kindStat, title: "Last RDB save", description: "Whether the last background save (BGSAVE) succeeded.",
					unit: "none", w: 6, h: 6, states: okFailed, below: true, steps: []step{{value: 1}},
					queries: []query{{expr: sel("redis_rdb_last_bgsave_status"), legend: "{{instance}}"}},
				},
				{
					kind: kindStat, title: "Time since last save", description: "Seconds since Redis last saved an RDB snapshot: what a crash would lose without AOF.",
					unit: "s", w: 6, h: 6,
					queries: []query{{expr: "time() - " + sel("redis_rdb_last_save_timestamp_seconds"), legend: "{{instance}}"}},
				},
				{
					kind: kindStat, title: "AOF", description: "Whether the append-only file is enabled and its last write succeeded (1 = enabled and OK).",
					unit: "none", w: 6, h: 6, states: okFailed, below: true, steps: []step{{value: 1}},
					queries: []query{{expr: sel("redis_aof_enabled") + " * " + sel("redis_aof_last_write_status"), legend: "{{instance}}"}},
				},
				{
					kind: kindStat, title: "Connected replicas", description: "Replicas attached to this server (0 on a standalone server).",
					unit: "short", w: 6, h: 6,
					queries: []query{{expr: sel("redis_connected_slaves"), legend: "{{instance}}"}},
				},
			}},
		},
	}
}
