package dashboards

import (
	"fmt"

	"github.com/vigil-sh/vigil/internal/thresholds"
)

// upStat is the stat of a boolean gauge (1 up, 0 down) per instance.
func upStat(title, description, expr, legend string, w uint32) panel {
	return panel{
		kind: kindStat, title: title, description: description,
		unit: "none", w: w, h: 6, states: upDown, below: true, steps: []step{{value: 1}},
		queries: []query{{expr: expr, legend: legend}},
	}
}

func mongoDB() spec {
	conns := func(t string) string { return sel("mongodb_ss_connections", fmt.Sprintf(`conn_type="%s"`, t)) }
	return spec{
		uid:   "vigil-mongodb",
		title: "Vigil / MongoDB",
		description: "MongoDB as the agent probes it (job mongodb, one instance per server, as the MongoDB exporter's) " +
			"and as the app sees it through its driver (job app).",
		jobs: "mongodb|app", series: "mongodb_up|app_dependency_up",
		rows: []row{
			{title: "Server", panels: []panel{
				upStat("MongoDB up", "Whether the agent's last probe could connect and ping the server (mongodb_up).",
					sel("mongodb_up"), "{{instance}}", 6),
				upStat("App's MongoDB", "Whether the app itself considers MongoDB reachable (app_dependency_up).",
					sel("app_dependency_up", `dependency="mongodb"`), "{{instance}}", 6),
				{
					kind: kindStat, title: "Uptime", description: "Seconds since the server process started (serverStatus uptime). A reset means a restart.",
					unit: "s", w: 6, h: 6,
					queries: []query{{expr: sel("mongodb_ss_uptime"), legend: "{{instance}}"}},
				},
				{
					kind: kindStat, title: "Resident memory", description: "Resident memory of the server process (serverStatus mem.resident, in MiB).",
					unit: "mbytes", w: 6, h: 6,
					queries: []query{{expr: sel("mongodb_ss_mem_resident"), legend: "{{instance}}"}},
				},
				{
					title: "Ping latency", description: "Round trip of the agent's ping command to each server.",
					unit: "s", w: 12, h: 8, min: ptr(0.0),
					queries: []query{{expr: sel("mongodb_ping_latency_seconds"), legend: "{{instance}}"}},
				},
				{
					title: "Operations by type", description: "Operations per second the server executed, by type (serverStatus opcounters).",
					unit: "ops", w: 12, h: 8, min: ptr(0.0), stacked: true,
					queries: []query{{expr: "sum by (instance, legacy_op_type) (" + rate(sel("mongodb_ss_opcounters")) + ")", legend: "{{instance}} {{legacy_op_type}}"}},
				},
			}},
			{title: "Connections and replication", panels: []panel{
				{
					title: "Connections used vs available", description: "Open client connections and how many more the server accepts (serverStatus connections).",
					unit: "short", w: 8, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: conns("current"), legend: "{{instance}} current"},
						{expr: conns("available"), legend: "{{instance}} available"},
					},
				},
				{
					title: "Connection usage",
					description: fmt.Sprintf("Share of the server's connection limit in use, current / (current + available). "+
						"MongoDBConnectionsNearLimit fires above %s.", num(thresholds.MongoConnRatio*100)+"%"),
					unit: "percentunit", w: 8, h: 8, min: ptr(0.0), max: ptr(1.0),
					steps: []step{{value: thresholds.MongoConnRatio}},
					queries: []query{{
						expr:   fmt.Sprintf("%s / ignoring (conn_type) (%s + ignoring (conn_type) %s)", conns("current"), conns("current"), conns("available")),
						legend: "{{instance}}",
					}},
				},
				{
					title: "Replication lag",
					description: fmt.Sprintf("How far each replica set member is behind the primary. MongoDBReplicationLag fires above %ss.",
						num(thresholds.ReplicationLagSeconds)),
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					steps:   []step{{value: thresholds.ReplicationLagSeconds}},
					queries: []query{{expr: "max by (instance, set, name) (" + sel("mongodb_mongod_replset_member_replication_lag") + ")", legend: "{{set}} {{name}}"}},
				},
			}},
			{title: "From the app", panels: []panel{
				{
					title: "Command latency p95", description: "95th percentile of MongoDB command duration measured by the app's driver, by command.",
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{
						expr:   "histogram_quantile(0.95, sum by (le, command) (" + rate(sel("app_mongodb_command_duration_seconds_bucket")) + "))",
						legend: "{{command}}",
					}},
				},
				{
					title: "Commands by type", description: "MongoDB commands per second the app sends, by command.",
					unit: "ops", w: 8, h: 8, min: ptr(0.0), stacked: true,
					queries: []query{{expr: "sum by (command) (" + rate(sel("app_mongodb_command_duration_seconds_count")) + ")", legend: "{{command}}"}},
				},
				{
					title: "Slow operations and failures", description: "Commands per second that failed or exceeded the app's slow-operation threshold, by command.",
					unit: "ops", w: 8, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: "sum by (command) (" + rate(sel("app_mongodb_slow_operations_total")) + ") or vector(0)", legend: "slow {{command}}"},
						{expr: "sum by (command) (" + rate(sel("app_mongodb_command_failures_total")) + ") or vector(0)", legend: "failed {{command}}"},
					},
				},
			}},
		},
	}
}
