package rules

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	th "github.com/vigil-sh/vigil/internal/thresholds"
)

// appGroups alert on the app's own request metrics (job="app"), per job so
// that one noisy route does not page on its own.
func appGroups() rulefmt.RuleGroups {
	return groups(group("app",
		alert{
			name:        "AppDown",
			expr:        `up{job="app"} == 0`,
			for_:        time.Minute,
			severity:    SeverityCritical,
			summary:     "App instance {{ $labels.instance }} is down",
			description: "Scrapes of the app at {{ $labels.instance }} (job {{ $labels.job }}) have failed for 1 minute (up = {{ $value }}).",
		}.rule(),
		alert{
			name: "HighErrorRate",
			expr: fmt.Sprintf(`(
  sum by (job) (rate(http_requests_total{status=~"5.."}[5m]))
/
  sum by (job) (rate(http_requests_total[5m]))
) > %s
and
sum by (job) (rate(http_requests_total[5m])) > %s`, num(th.ErrorRatio), num(th.MinRequestRate)),
			for_:     5 * time.Minute,
			severity: SeverityCritical,
			summary:  "{{ $labels.job }}: {{ $value | humanizePercentage }} of requests fail",
			description: "{{ $value | humanizePercentage }} of the requests to job {{ $labels.job }} were answered with a 5xx status over the last 5 minutes " +
				"(threshold " + pct(th.ErrorRatio) + ", for 5 minutes).",
		}.rule(),
		alert{
			name: "HighResponseTime",
			expr: fmt.Sprintf(`histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m]))) > %s
and
sum by (job) (rate(http_request_duration_seconds_count[5m])) > %s`, num(th.LatencyP95Seconds), num(th.MinRequestRate)),
			for_:     5 * time.Minute,
			severity: SeverityWarning,
			summary:  "{{ $labels.job }}: p95 latency is {{ $value | humanizeDuration }}",
			description: "The 95th percentile latency of job {{ $labels.job }} is {{ $value | humanizeDuration }} over the last 5 minutes " +
				fmt.Sprintf("(threshold %ss, for 5 minutes).", num(th.LatencyP95Seconds)),
		}.rule(),
	))
}
