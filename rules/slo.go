package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	th "github.com/vigil-sh/vigil/internal/thresholds"
)

// SLOWindows are the windows the SLO ratios are recorded over: every long and
// short window of thresholds.BurnRates.
var SLOWindows = []time.Duration{
	5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	6 * time.Hour, 24 * time.Hour, 72 * time.Hour,
}

// AvailabilityErrorRatio names the recording rule holding the share of the
// app's requests answered with a 5xx over window, per job.
func AvailabilityErrorRatio(window time.Duration) string {
	return "job:http_requests_errors:ratio_rate" + dur(window)
}

// LatencySlowRatio names the recording rule holding the share of the app's
// requests slower than thresholds.LatencySLOSeconds over window, per job.
func LatencySlowRatio(window time.Duration) string {
	return "job:http_requests_slow:ratio_rate" + dur(window)
}

// sloGroups implement the Google SRE workbook's multi-window, multi-burn-rate
// alerts (chapter 5, "Alerting on SLOs") for the app's availability and
// latency objectives.
func sloGroups() rulefmt.RuleGroups {
	var avail, lat []rulefmt.Rule
	for _, w := range SLOWindows {
		r := dur(w)
		// A job that has never answered with a 5xx has no 5xx series: the
		// `or` gives it a 0 numerator (per job, from its total), so the
		// ratio is 0 rather than absent and the burn-rate panels draw it.
		avail = append(avail, record(AvailabilityErrorRatio(w), fmt.Sprintf(`(
  sum by (job) (rate(http_requests_total{status=~"5.."}[%[1]s]))
or
  0 * sum by (job) (rate(http_requests_total[%[1]s]))
)
/
sum by (job) (rate(http_requests_total[%[1]s]))`, r)))
		lat = append(lat, record(LatencySlowRatio(w), fmt.Sprintf(`1 - (
  sum by (job) (rate(http_request_duration_seconds_bucket{le="%[2]s"}[%[1]s]))
/
  sum by (job) (rate(http_request_duration_seconds_count[%[1]s]))
)`, r, num(th.LatencySLOSeconds))))
	}
	availObjective := pct(th.AvailabilitySLO) + " availability"
	latObjective := fmt.Sprintf("%s of requests within %ss", pct(th.LatencySLO), num(th.LatencySLOSeconds))
	avail = append(avail, burnAlerts("Availability", AvailabilityErrorRatio, num(1-th.AvailabilitySLO), availObjective, "failed")...)
	lat = append(lat, burnAlerts("Latency", LatencySlowRatio, num(1-th.LatencySLO), latObjective, "were slower than "+num(th.LatencySLOSeconds)+"s")...)
	return groups(group("slo-availability", avail...), group("slo-latency", lat...))
}

// burnAlerts returns the page (critical) and ticket (warning) alerts of one
// SLO: <sli>SLOFastBurn and <sli>SLOSlowBurn.
func burnAlerts(sli string, ratio func(time.Duration) string, budget, objective, bad string) []rulefmt.Rule {
	var out []rulefmt.Rule
	for _, sev := range []struct {
		name, severity string
		for_           time.Duration
	}{
		{"FastBurn", SeverityCritical, 2 * time.Minute},
		{"SlowBurn", SeverityWarning, 15 * time.Minute},
	} {
		var conds, windows []string
		for _, br := range th.BurnRates {
			if br.Severity != sev.severity {
				continue
			}
			conds = append(conds, fmt.Sprintf(`(
  %s > (%s * %s)
and
  %s > (%s * %s)
)`, ratio(br.Long), num(br.Factor), budget, ratio(br.Short), num(br.Factor), budget))
			windows = append(windows, fmt.Sprintf("%s times the sustainable rate over %s and %s", num(br.Factor), dur(br.Long), dur(br.Short)))
		}
		out = append(out, alert{
			name:     sli + "SLO" + sev.name,
			expr:     strings.Join(conds, "\nor\n"),
			for_:     sev.for_,
			severity: sev.severity,
			summary:  "{{ $labels.job }} burns its " + objective + " error budget too fast",
			description: "Job {{ $labels.job }} burns the error budget of its " + objective + " objective at more than " +
				strings.Join(windows, ", or ") + ": {{ $value | humanizePercentage }} of requests " + bad + " over the longer window.",
		}.rule())
	}
	return out
}
