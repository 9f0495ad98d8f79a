package dashboards

import (
	"fmt"

	"github.com/vigil-sh/vigil/internal/thresholds"
)

// alertsDashboard shows the alerts the agent evaluates and the agent's own
// health. ALERTS carries the labels of each alert, not the agent's
// job/instance, so its panels are excluded from the linter's job/instance
// matcher rules (see lint/vigil-alerts.lint).
func alertsDashboard() spec {
	return spec{
		uid:   "vigil-alerts",
		title: "Vigil / Alerts and agent",
		description: "Alerts firing and pending, their delivery to Alertmanager, and the health of the Vigil agent " +
			"(job agent): probes, rule evaluation, configuration.",
		jobs: "agent",
		rows: []row{
			{title: "Alerts", panels: []panel{
				{
					kind: kindStat, title: "Firing alerts", description: "Alerts firing now, over all severities.",
					unit: "short", w: 6, h: 6, steps: []step{{value: 1}},
					queries: []query{{expr: `count(ALERTS{alertstate="firing"}) or vector(0)`, legend: "firing"}},
				},
				{
					kind: kindStat, title: "Pending alerts", description: "Alerts whose condition holds but whose 'for' duration has not yet passed.",
					unit: "short", w: 6, h: 6, steps: []step{{value: 1, color: "orange"}},
					queries: []query{{expr: `count(ALERTS{alertstate="pending"}) or vector(0)`, legend: "pending"}},
				},
				{
					kind: kindStat, title: "Alertmanagers", description: "Alertmanagers the agent currently sends to. 0 means alerts go nowhere.",
					unit: "short", w: 6, h: 6, below: true, steps: []step{{value: 1}},
					queries: []query{{expr: "sum(" + sel("vigil_alertmanagers_discovered") + ")", legend: "alertmanagers"}},
				},
				{
					kind: kindStat, title: "Configuration reload", description: "Whether the agent's last configuration reload succeeded; a failed one keeps the previous configuration running.",
					unit: "none", w: 6, h: 6, states: okFailed, below: true, steps: []step{{value: 1}},
					queries: []query{{expr: "min(" + sel("vigil_config_last_reload_successful") + ")", legend: "reload"}},
				},
				{
					title: "Alerts by severity", description: "Firing and pending alerts over time, by severity.",
					unit: "short", w: 24, h: 8, min: ptr(0.0), stacked: true,
					queries: []query{
						{expr: `count by (severity) (ALERTS{alertstate="firing"}) or vector(0)`, legend: "firing {{severity}}"},
						{expr: `count by (severity) (ALERTS{alertstate="pending"}) or vector(0)`, legend: "pending {{severity}}"},
					},
				},
			}},
			{title: "Notifications", panels: []panel{
				{
					title: "Notifications sent", description: "Alert batches per second delivered to each Alertmanager.",
					unit: "ops", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: "sum by (alertmanager) (" + rate(sel("vigil_notifications_sent_total")) + ")", legend: "{{alertmanager}}"}},
				},
				{
					title: "Notification errors and drops",
					description: fmt.Sprintf("Failed deliveries per Alertmanager and alerts dropped on a full queue. "+
						"VigilNotificationsFailing fires when more than %s of deliveries fail.", num(thresholds.NotificationErrorRatio*100)+"%"),
					unit: "ops", w: 8, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: "sum by (alertmanager) (" + rate(sel("vigil_notifications_errors_total")) + ") or vector(0)", legend: "errors {{alertmanager}}"},
						{expr: "sum by (alertmanager) (" + rate(sel("vigil_notifications_dropped_total")) + ") or vector(0)", legend: "dropped {{alertmanager}}"},
					},
				},
				{
					title: "Notification latency p99", description: "99th percentile of the time to deliver a batch to each Alertmanager.",
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{
						expr:   "histogram_quantile(0.99, sum by (le, alertmanager) (" + rate(sel("vigil_notification_latency_seconds_bucket")) + "))",
						legend: "{{alertmanager}}",
					}},
				},
				{
					title: "Notification queue", description: "Alerts waiting to be sent, against the queue's capacity: a full queue drops alerts.",
					unit: "short", w: 24, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: sel("vigil_notifications_queue_length"), legend: "{{instance}} {{alertmanager}} queued"},
						{expr: sel("vigil_notifications_queue_capacity"), legend: "{{instance}} {{alertmanager}} capacity"},
					},
				},
			}},
			{title: "Agent", panels: []panel{
				upStat("Agent up", "Whether Prometheus can scrape the agent's /metrics.", sel("up"), "{{instance}}", 6),
				{
					title: "Probes by kind", description: "Probes per second the agent runs, by kind (http, tcp, redis, mongodb, host, cgroup).",
					unit: "ops", w: 9, h: 6, min: ptr(0.0), stacked: true,
					queries: []query{{expr: "sum by (kind) (" + rate(sel("vigil_probes_total")) + ")", legend: "{{kind}}"}},
				},
				{
					title: "Probe failures by reason", description: "Failed probes per second by kind and reason.",
					unit: "ops", w: 9, h: 6, min: ptr(0.0),
					queries: []query{{expr: "sum by (kind, reason) (" + rate(sel("vigil_probe_failures_total")) + ") or vector(0)", legend: "{{kind}} {{reason}}"}},
				},
				{
					title: "Probe duration p95", description: "95th percentile of probe duration by kind.",
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{
						expr:   "histogram_quantile(0.95, sum by (le, kind) (" + rate(sel("vigil_probe_duration_seconds_bucket")) + "))",
						legend: "{{kind}}",
					}},
				},
				{
					title: "Rule evaluation failures", description: "Failed rule evaluations per second by rule group.",
					unit: "ops", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: "sum by (rule_group) (" + rate(sel("prometheus_rule_evaluation_failures_total")) + ")", legend: "{{rule_group}}"}},
				},
				{
					title: "Rule group evaluation time", description: "How long the last evaluation of each rule group took; close to the interval means groups start skipping.",
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: "max by (rule_group) (" + sel("prometheus_rule_group_last_duration_seconds") + ")", legend: "{{rule_group}}"}},
				},
			}},
		},
	}
}
