package rules

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	th "github.com/vigil-sh/vigil/internal/thresholds"
)

// jobInstance names what an alert is about: the scraped (or, for the agent's
// probes, the exporter-style) job and instance, the monitored endpoint.
const jobInstance = "{{ $labels.job }} {{ $labels.instance }}"

// mongodbGroups alert on the agent's MongoDB probes (mongodb_exporter's
// names and identity: job "mongodb" by default, instance the first host of
// the seed list), one alert per instance, and on the app's own view of its database. Replica-set series are
// absent on a standalone server or FerretDB, so those alerts stay silent there.
func mongodbGroups() rulefmt.RuleGroups {
	return groups(group("mongodb",
		alert{
			name: "DatabaseDown",
			expr: `mongodb_up == 0
or
app_dependency_up{dependency="mongodb"} == 0`,
			for_:     time.Minute,
			severity: SeverityCritical,
			// Two sources: the agent's probe (mongodb_up, instance = the
			// server) and the app's own check (instance = the app).
			summary: "{{ if $labels.dependency }}MongoDB is unreachable for " + jobInstance +
				"{{ else }}MongoDB {{ $labels.instance }} is unreachable{{ end }}",
			description: "{{ if $labels.dependency }}" + jobInstance + " has not reached its MongoDB for 1 minute (app_dependency_up = {{ $value }})." +
				"{{ else }}MongoDB {{ $labels.instance }} (job {{ $labels.job }}) has been unreachable for 1 minute (mongodb_up = {{ $value }}).{{ end }}",
		}.rule(),
		alert{
			name: "MongoDBConnectionsNearLimit",
			// A server that does not report available connections
			// (FerretDB) yields no ratio rather than 100%. A replica set
			// member's series carry Percona's rs_nm and rs_state: dropped,
			// so a failover (rs_state 2 → 1) does not restart the alert.
			expr: fmt.Sprintf(`sum without (conn_type, rs_nm, rs_state) (mongodb_ss_connections{conn_type="current"})
/
(
  sum without (conn_type, rs_nm, rs_state) (mongodb_ss_connections{conn_type="current"})
+
  sum without (conn_type, rs_nm, rs_state) (mongodb_ss_connections{conn_type="available"})
)
> %s`, num(th.MongoConnRatio)),
			for_:        5 * time.Minute,
			severity:    SeverityWarning,
			summary:     "MongoDB {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its connections",
			description: "MongoDB {{ $labels.instance }} (job {{ $labels.job }}) has {{ $value | humanizePercentage }} of its connection limit in use (threshold " + pct(th.MongoConnRatio) + "); new connections will soon be refused.",
		}.rule(),
		alert{
			name: "MongoDBReplicaMemberUnhealthy",
			// The member's state label changes as it fails (SECONDARY →
			// "(not reachable/healthy)"): dropped, so the alert is one per
			// member.
			expr:        `min without (state, self) (mongodb_mongod_replset_member_health) == 0`,
			for_:        time.Minute,
			severity:    SeverityWarning,
			summary:     "MongoDB replica set {{ $labels.set }} member {{ $labels.name }} is unhealthy",
			description: "Member {{ $labels.name }} of replica set {{ $labels.set }}, seen from {{ $labels.instance }}, has been unhealthy for 1 minute (health = {{ $value }}).",
		}.rule(),
		alert{
			name:        "MongoDBReplicationLag",
			expr:        fmt.Sprintf(`mongodb_mongod_replset_member_replication_lag > %s`, num(th.ReplicationLagSeconds)),
			for_:        5 * time.Minute,
			severity:    SeverityWarning,
			summary:     "MongoDB member {{ $labels.name }} lags {{ $value | humanizeDuration }} behind",
			description: "Member {{ $labels.name }} of replica set {{ $labels.set }}, seen from {{ $labels.instance }}, lags {{ $value | humanizeDuration }} behind the primary " + fmt.Sprintf("(threshold %ss, for 5 minutes).", num(th.ReplicationLagSeconds)),
		}.rule(),
	))
}
