package rules

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	th "github.com/vigil-sh/vigil/internal/thresholds"
)

// agentGroups alert on the agent's endpoint probes (blackbox_exporter's
// names and identity: instance is the probed URL or host:port) and on the
// agent itself, as the prometheus-mixin does for Prometheus. The agent's
// self-metrics (vigil_*) keep the configured target name and kind.
func agentGroups() rulefmt.RuleGroups {
	certSeconds := num(float64(th.CertExpiryDays * 24 * 3600))
	return groups(
		group("endpoints",
			alert{
				// Only the blackbox-style kinds (http, tcp) report
				// probe_success; MongoDB and Redis have their own Down
				// alerts on mongodb_up and redis_up.
				name:        "EndpointProbeFailing",
				expr:        `probe_success == 0`,
				for_:        2 * time.Minute,
				severity:    SeverityCritical,
				summary:     "Probe of {{ $labels.instance }} is failing",
				description: "The probe of {{ $labels.instance }} (job {{ $labels.job }}) has failed for 2 minutes (probe_success = {{ $value }}).",
			}.rule(),
			alert{
				name: "TLSCertificateExpiringSoon",
				expr: fmt.Sprintf(`probe_ssl_earliest_cert_expiry - time() < %s
and
probe_ssl_earliest_cert_expiry > 0`, certSeconds),
				for_:        10 * time.Minute,
				severity:    SeverityWarning,
				summary:     "TLS certificate of {{ $labels.instance }} expires in {{ $value | humanizeDuration }}",
				description: "The earliest-expiring certificate served by {{ $labels.instance }} (job {{ $labels.job }}) expires in {{ $value | humanizeDuration }} " + fmt.Sprintf("(threshold %d days); renew it.", th.CertExpiryDays),
			}.rule(),
		),
		group("agent",
			alert{
				name:        "AgentDown",
				expr:        `up{job="agent"} == 0`,
				for_:        time.Minute,
				severity:    SeverityCritical,
				summary:     "Vigil agent {{ $labels.instance }} is down",
				description: "Scrapes of the Vigil agent at {{ $labels.instance }} (job {{ $labels.job }}) have failed for 1 minute (up = {{ $value }}); nothing it watches is being probed or alerted on.",
			}.rule(),
			alert{
				name: "VigilProbeFailures",
				expr: fmt.Sprintf(`sum by (job, instance, target, kind) (rate(vigil_probe_failures_total[5m]))
/
sum by (job, instance, target, kind) (rate(vigil_probes_total[5m]))
> %s`, num(th.ProbeFailureRatio)),
				for_:        15 * time.Minute,
				severity:    SeverityWarning,
				summary:     "{{ $value | humanizePercentage }} of probes of {{ $labels.target }} fail",
				description: "{{ $value | humanizePercentage }} of the {{ $labels.kind }} probes of target {{ $labels.target }} by agent {{ $labels.instance }} failed over the last 5 minutes (threshold " + pct(th.ProbeFailureRatio) + ", for 15 minutes).",
			}.rule(),
			alert{
				// Per-target health from the agent's self-metrics, for the
				// kinds without an up-style series of their own (host,
				// cgroup): without it a host whose probe fails loses its
				// memory and filesystem alerts silently. http, tcp, redis
				// and mongodb page through EndpointProbeFailing, RedisDown
				// and DatabaseDown instead.
				name:        "VigilTargetDown",
				expr:        `vigil_target_up{kind!~"http|tcp|redis|mongodb"} == 0`,
				for_:        5 * time.Minute,
				severity:    SeverityWarning,
				summary:     "Agent {{ $labels.instance }} cannot probe {{ $labels.kind }} target {{ $labels.target }}",
				description: "Every {{ $labels.kind }} probe of target {{ $labels.target }} by agent {{ $labels.instance }} has failed for 5 minutes (vigil_target_up = {{ $value }}): its metrics are missing and the alerts on them cannot fire.",
			}.rule(),
			alert{
				name:        "VigilConfigReloadFailed",
				expr:        `vigil_config_last_reload_successful == 0`,
				for_:        10 * time.Minute,
				severity:    SeverityWarning,
				summary:     "Vigil agent {{ $labels.instance }} failed to reload its configuration",
				description: "The last configuration reload of agent {{ $labels.instance }} failed (vigil_config_last_reload_successful = {{ $value }}); it still runs the previous configuration.",
			}.rule(),
			alert{
				name: "VigilNotificationsFailing",
				expr: fmt.Sprintf(`sum by (job, instance, alertmanager) (rate(vigil_notifications_errors_total[5m]))
/
sum by (job, instance, alertmanager) (rate(vigil_notifications_sent_total[5m]))
> %s`, num(th.NotificationErrorRatio)),
				for_:        15 * time.Minute,
				severity:    SeverityWarning,
				summary:     "Agent {{ $labels.instance }} fails to send {{ $value | humanizePercentage }} of notifications to {{ $labels.alertmanager }}",
				description: "{{ $value | humanizePercentage }} of the notifications from agent {{ $labels.instance }} to Alertmanager {{ $labels.alertmanager }} failed over the last 5 minutes (threshold " + pct(th.NotificationErrorRatio) + ", for 15 minutes).",
			}.rule(),
			alert{
				name:        "VigilNotificationsDropped",
				expr:        `increase(vigil_notifications_dropped_total[5m]) > 0`,
				severity:    SeverityCritical,
				summary:     "Agent {{ $labels.instance }} dropped alert notifications",
				description: "Agent {{ $labels.instance }} dropped {{ $value | humanize }} notifications for Alertmanager {{ $labels.alertmanager }} in the last 5 minutes: alerts were lost.",
			}.rule(),
			alert{
				name:        "VigilRuleEvaluationFailures",
				expr:        `increase(prometheus_rule_evaluation_failures_total[5m]) > 0`,
				for_:        15 * time.Minute,
				severity:    SeverityWarning,
				summary:     "Agent {{ $labels.instance }} fails to evaluate rules of {{ $labels.rule_group }}",
				description: "Agent {{ $labels.instance }} failed {{ $value | humanize }} rule evaluations of group {{ $labels.rule_group }} in the last 5 minutes: some alerts may not fire.",
			}.rule(),
		),
	)
}
