package dashboards

import (
	"fmt"
	"time"

	"github.com/vigil-sh/vigil/internal/thresholds"
	"github.com/vigil-sh/vigil/rules"
)

// cores is Grafana's custom unit for CPU seconds per second: Grafana has
// no built-in unit for cores (see lint/vigil-service.lint).
const cores = "suffix: cores"

// rate renders rate(selector[$__rate_interval]).
func rate(selector string) string { return "rate(" + selector + "[$__rate_interval])" }

// promDuration renders a window as PromQL does (1h, 6h, 1d, 3d, 30d).
func promDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}

func quantile(q float64, by string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (le%s) (%s))", num(q), by,
		rate(sel("http_request_duration_seconds_bucket")))
}

// errorRatioOver is the share of 5xx answers over a window; "or vector(0)"
// keeps a quiet service at 0 rather than "no data".
func errorRatioOver(window string) string {
	return fmt.Sprintf(`(sum(increase(%s[%s])) or vector(0)) / sum(increase(%s[%s]))`,
		sel("http_requests_total", `status=~"5.."`), window, sel("http_requests_total"), window)
}

// latencyMissRatioOver is the share of requests slower than the latency SLO.
func latencyMissRatioOver(window string) string {
	return fmt.Sprintf(`1 - sum(increase(%s[%s])) / sum(increase(%s[%s]))`,
		sel("http_request_duration_seconds_bucket", fmt.Sprintf(`le="%s"`, num(thresholds.LatencySLOSeconds))), window,
		sel("http_request_duration_seconds_count"), window)
}

// burnRatePanel reads the SLO recording rules of package rules: they are
// aggregated per job, so these queries match on $job only (see
// lint/vigil-service.lint).
func burnRatePanel(title, what string, ratio func(time.Duration) string, slo float64, w uint32) panel {
	p := panel{
		title: title,
		description: fmt.Sprintf("How many times faster than sustainable the %s error budget (SLO %s over %s) burns, over the "+
			"long window of each multi-window burn-rate alert. 1 spends exactly the budget over the SLO window; the dashed "+
			"lines are the factors at which the alerts fire (yellow and orange open a ticket, red and dark red page).", what, num(slo*100)+"%", promDuration(thresholds.SLOWindow)),
		unit: "none", w: w, h: 8, min: ptr(0.0),
	}
	seen := map[float64]bool{}
	for _, br := range thresholds.BurnRates {
		p.queries = append(p.queries, query{
			expr:   fmt.Sprintf(`%s{job=~"$job"} / %s`, ratio(br.Long), num(1-slo)),
			legend: "{{job}} " + promDuration(br.Long),
		})
		if !seen[br.Factor] {
			seen[br.Factor] = true
			p.steps = append(p.steps, step{value: br.Factor, color: br.Severity})
		}
	}
	sortSteps(p.steps)
	// One colour per factor, so each line reads on its own: the ticket
	// factors in yellow then orange, the page factors in red then dark red.
	shades := map[string][]string{"warning": {"yellow", "orange"}, "critical": {"red", "dark-red"}}
	used := map[string]int{}
	for i, s := range p.steps {
		sev := s.color
		p.steps[i].color = shades[sev][min(used[sev], len(shades[sev])-1)]
		used[sev]++
	}
	return p
}

func sortSteps(s []step) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].value < s[j-1].value; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func budgetPanel(title, what string, ratio func(string) string, slo float64) panel {
	w := promDuration(thresholds.SLOWindow)
	return panel{
		kind:  kindStat,
		title: title,
		description: fmt.Sprintf("Share of the %s error budget left over the last %s (SLO %s). Below 0 the SLO is missed.",
			what, w, num(slo*100)+"%"),
		unit: "percentunit", w: 6, h: 8,
		queries: []query{{expr: fmt.Sprintf("1 - (%s) / %s", ratio(w), num(1-slo)), legend: "budget left"}},
		below:   true,
		steps:   []step{{value: 0, color: "orange"}, {value: 0.25, color: "green"}},
	}
}

func serviceOverview() spec {
	latencyWhat := fmt.Sprintf("latency (requests within %ss)", num(thresholds.LatencySLOSeconds))
	return spec{
		uid:   "vigil-service",
		title: "Vigil / Service overview",
		description: "RED and golden signals of the Vigil app (job app): traffic, errors, latency, saturation " +
			"and its service level objectives.",
		jobs: "app",
		rows: []row{
			{title: "Overview", panels: []panel{
				{
					kind: kindStat, title: "Application Health",
					description: "Whether Prometheus can scrape the app (up). Down means the process is gone or its /api/metrics does not answer.",
					unit:        "none", w: 4, h: 8, states: upDown, below: true, steps: []step{{value: 1}},
					queries: []query{{expr: sel("up"), legend: "{{instance}}"}},
				},
				{
					title: "Request Rate", description: "Requests per second answered by the app, by route template.",
					unit: "reqps", w: 10, h: 8, min: ptr(0.0),
					queries: []query{{expr: "sum by (route) (" + rate(sel("http_requests_total")) + ")", legend: "{{route}}"}},
				},
				{
					title: "Error Rate",
					description: fmt.Sprintf("Share of requests answered with a 5xx status. HighErrorRate fires above %s (dashed line).",
						num(thresholds.ErrorRatio*100)+"%"),
					unit: "percentunit", w: 10, h: 8, min: ptr(0.0),
					steps: []step{{value: thresholds.ErrorRatio}},
					queries: []query{{
						expr:   "(sum(" + rate(sel("http_requests_total", `status=~"5.."`)) + ") or vector(0)) / sum(" + rate(sel("http_requests_total")) + ")",
						legend: "5xx ratio",
					}},
				},
				{
					title: "Response Time (p95)",
					description: fmt.Sprintf("95th percentile of request duration by route. HighResponseTime fires above %ss (dashed line).",
						num(thresholds.LatencyP95Seconds)),
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					steps:   []step{{value: thresholds.LatencyP95Seconds}},
					queries: []query{{expr: quantile(0.95, ", route"), legend: "{{route}}"}},
				},
				{
					title:       "Database Connections",
					description: "The app's MongoDB driver pool: connections in use and idle, against the pool's maximum.",
					unit:        "short", w: 8, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: "sum by (state) (" + sel("app_mongodb_pool_connections") + ")", legend: "{{state}}"},
						{expr: "sum(" + sel("app_mongodb_pool_max_connections") + ")", legend: "max"},
					},
				},
				{
					title: "Memory Usage", description: "Resident memory of the app process and the Go heap in use.",
					unit: "bytes", w: 8, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: sel("process_resident_memory_bytes"), legend: "resident {{instance}}"},
						{expr: sel("go_memstats_heap_inuse_bytes"), legend: "heap in use {{instance}}"},
					},
				},
			}},
			{title: "Traffic and errors", panels: []panel{
				{
					title: "Responses by status", description: "Requests per second by HTTP status code.",
					unit: "reqps", w: 12, h: 8, min: ptr(0.0), stacked: true,
					queries: []query{{expr: "sum by (status) (" + rate(sel("http_requests_total")) + ")", legend: "{{status}}"}},
				},
				{
					title: "Error ratio by route",
					description: fmt.Sprintf("Share of 5xx answers per route template; the dashed line is the %s alert threshold.",
						num(thresholds.ErrorRatio*100)+"%"),
					unit: "percentunit", w: 12, h: 8, min: ptr(0.0),
					steps: []step{{value: thresholds.ErrorRatio}},
					queries: []query{{
						// "or ... * 0" keeps routes without errors at 0 instead of "no data".
						expr: "(sum by (route) (" + rate(sel("http_requests_total", `status=~"5.."`)) + ") or sum by (route) (" +
							rate(sel("http_requests_total")) + ") * 0) / sum by (route) (" + rate(sel("http_requests_total")) + ")",
						legend: "{{route}}",
					}},
				},
			}},
			{title: "Latency", panels: []panel{
				{
					title: "Latency percentiles", description: "p50, p95 and p99 request duration over all routes.",
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					steps: []step{{value: thresholds.LatencyP95Seconds}},
					queries: []query{
						{expr: quantile(0.5, ""), legend: "p50"},
						{expr: quantile(0.95, ""), legend: "p95"},
						{expr: quantile(0.99, ""), legend: "p99"},
					},
				},
				{
					title: "Latency p50 by route", description: "Median request duration per route template.",
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: quantile(0.5, ", route"), legend: "{{route}}"}},
				},
				{
					title: "Latency p99 by route", description: "99th percentile of request duration per route template.",
					unit: "s", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: quantile(0.99, ", route"), legend: "{{route}}"}},
				},
			}},
			{title: "Saturation", panels: []panel{
				{
					title: "In-flight requests", description: "Requests being served right now: a queue building up shows here first.",
					unit: "short", w: 6, h: 8, min: ptr(0.0),
					queries: []query{{expr: "sum by (instance) (" + sel("http_requests_in_flight") + ")", legend: "{{instance}}"}},
				},
				{
					title: "CPU usage", description: "CPU time the app process uses per second, in cores (1 = one core busy).",
					unit: cores, w: 6, h: 8, min: ptr(0.0),
					queries: []query{{expr: rate(sel("process_cpu_seconds_total")), legend: "{{instance}}"}},
				},
				{
					title: "MongoDB pool utilisation", description: "Share of the app's MongoDB connection pool in use: at 100% requests wait for a connection.",
					unit: "percentunit", w: 6, h: 8, min: ptr(0.0), max: ptr(1.0),
					queries: []query{{
						expr:   "sum(" + sel("app_mongodb_pool_connections", `state="in_use"`) + ") / sum(" + sel("app_mongodb_pool_max_connections") + ")",
						legend: "in use",
					}},
				},
				{
					title: "Rate-limited requests", description: "Requests per second refused by the app's rate limiter, by scope (auth, api).",
					unit: "reqps", w: 6, h: 8, min: ptr(0.0),
					queries: []query{{expr: "sum by (scope) (" + rate(sel("app_rate_limited_requests_total")) + ") or vector(0)", legend: "{{scope}}"}},
				},
			}},
			{title: "Service level objectives", panels: []panel{
				budgetPanel("Availability error budget left", "availability", errorRatioOver, thresholds.AvailabilitySLO),
				burnRatePanel("Availability burn rate", "availability", rules.AvailabilityErrorRatio, thresholds.AvailabilitySLO, 18),
				budgetPanel("Latency error budget left", latencyWhat, latencyMissRatioOver, thresholds.LatencySLO),
				burnRatePanel("Latency burn rate", latencyWhat, rules.LatencySlowRatio, thresholds.LatencySLO, 12),
				{
					title: "Requests within latency objective",
					description: fmt.Sprintf("Share of requests served within %ss; the SLO asks for %s.",
						num(thresholds.LatencySLOSeconds), num(thresholds.LatencySLO*100)+"%"),
					unit: "percentunit", w: 6, h: 8, max: ptr(1.0),
					below: true, steps: []step{{value: thresholds.LatencySLO}},
					queries: []query{{
						expr: "sum(" + rate(sel("http_request_duration_seconds_bucket", fmt.Sprintf(`le="%s"`, num(thresholds.LatencySLOSeconds)))) +
							") / sum(" + rate(sel("http_request_duration_seconds_count")) + ")",
						legend: "within objective",
					}},
				},
			}},
		},
	}
}
