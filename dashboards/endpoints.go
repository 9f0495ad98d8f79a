package dashboards

import (
	"fmt"

	"github.com/vigil-sh/vigil/internal/thresholds"
)

func endpointsDashboard() spec {
	return spec{
		uid:   "vigil-endpoints",
		title: "Vigil / Endpoints",
		description: "HTTP and TCP endpoints the agent probes, blackbox-exporter style: job blackbox (the default " +
			"job of the http and tcp kinds), one instance per probed URL or host:port.",
		jobs: "blackbox", series: "probe_success",
		rows: []row{
			{title: "Availability", panels: []panel{
				upStat("Probe success", "Whether the last probe of each endpoint succeeded.", sel("probe_success"), "{{instance}}", 12),
				{
					kind: kindStat, title: "TLS certificate days left",
					description: fmt.Sprintf("Days until the earliest certificate of the chain expires. TLSCertificateExpiringSoon fires below %d days.",
						thresholds.CertExpiryDays),
					unit: "d", w: 12, h: 6,
					below: true, steps: []step{{value: thresholds.CertExpiryDays}},
					queries: []query{{expr: "(" + sel("probe_ssl_earliest_cert_expiry") + " - time()) / 86400", legend: "{{instance}}"}},
				},
				{
					title: "Probe success over time", description: "1 while the probe succeeds, 0 while it fails.",
					unit: "none", w: 12, h: 8, min: ptr(0.0), max: ptr(1.0), states: upDown,
					queries: []query{{expr: sel("probe_success"), legend: "{{instance}}"}},
				},
				{
					title: "Probe failure ratio",
					description: fmt.Sprintf("Share of the probes of each endpoint that failed over the interval (from probe_success); "+
						"VigilProbeFailures fires when more than %s of a target's probes fail over 5 minutes.",
						num(thresholds.ProbeFailureRatio*100)+"%"),
					unit: "percentunit", w: 12, h: 8, min: ptr(0.0), max: ptr(1.0),
					steps: []step{{value: thresholds.ProbeFailureRatio}},
					// From the endpoint's own probe_success rather than the
					// agent's vigil_* counters: those carry the agent's job
					// and instance, not the endpoint's.
					queries: []query{{
						expr:   "1 - avg_over_time(" + sel("probe_success") + "[$__rate_interval])",
						legend: "{{instance}}",
					}},
				},
			}},
			{title: "Latency", panels: []panel{
				{
					title: "Probe duration", description: "Total time each probe took, from DNS to the last byte.",
					unit: "s", w: 12, h: 8, min: ptr(0.0),
					queries: []query{{expr: sel("probe_duration_seconds"), legend: "{{instance}}"}},
				},
				{
					title: "HTTP latency by phase", description: "Where an HTTP probe spends its time: resolve, connect, tls, processing (server time to first byte), transfer.",
					unit: "s", w: 12, h: 8, min: ptr(0.0), stacked: true,
					queries: []query{{expr: "sum by (instance, phase) (" + sel("probe_http_duration_seconds") + ")", legend: "{{instance}} {{phase}}"}},
				},
			}},
			{title: "HTTP responses", panels: []panel{
				{
					title: "Status codes", description: "HTTP status code of each probe's final response (0 when no response arrived).",
					unit: "none", w: 8, h: 8,
					queries: []query{{expr: sel("probe_http_status_code"), legend: "{{instance}}"}},
				},
				{
					title: "Content length", description: "Size of the response body each HTTP probe received.",
					unit: "bytes", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: sel("probe_http_content_length"), legend: "{{instance}}"}},
				},
				{
					title: "Body regex failures", description: "1 when a probe failed because the body did not match (or matched a forbidden) regex.",
					unit: "none", w: 8, h: 8, min: ptr(0.0), max: ptr(1.0),
					queries: []query{{expr: sel("probe_failed_due_to_regex"), legend: "{{instance}}"}},
				},
			}},
		},
	}
}
