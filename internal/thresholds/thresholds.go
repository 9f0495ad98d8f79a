// Package thresholds holds the numbers Vigil's alerts compare against. The
// rules in package rules format them into their expressions and the
// dashboards draw them as threshold lines, so a panel never turns red at a
// different point than the alert fires. Each applies per series identity:
// per job and instance (the monitored endpoint) for the exporter families,
// per agent and configured target name for the agent's own vigil_* series.
package thresholds

import "time"

// Application (job="app") request thresholds.
const (
	// ErrorRatio is the share of 5xx responses above which HighErrorRate fires.
	ErrorRatio = 0.05
	// MinRequestRate (requests per second over 5m) keeps ratio alerts quiet
	// when a handful of requests would make any ratio meaningless.
	MinRequestRate = 0.1
	// LatencyP95Seconds is the p95 request latency above which HighResponseTime fires.
	LatencyP95Seconds = 2
)

// Memory thresholds, as a share of the limit (container limit, host memory),
// per instance: the node name for the host, host:port for Redis.
const (
	MemoryRatio      = 0.9
	RedisMemoryRatio = 0.9
)

// Filesystem thresholds, as a share of the filesystem that is still free,
// per node (instance) and mountpoint.
const (
	// DiskFreeRatio: DiskSpaceLow fires below this share of free bytes.
	DiskFreeRatio = 0.10
	// DiskPredictFreeRatio: FilesystemPredictedToFill only considers
	// filesystems with less than this share free (node-mixin's guard).
	DiskPredictFreeRatio = 0.40
	// DiskPredictHorizon is how far ahead FilesystemPredictedToFill extrapolates.
	DiskPredictHorizon = 4 * time.Hour
	// InodeFreeRatio: FilesystemInodesLow fires below this share of free inodes.
	InodeFreeRatio = 0.10
)

// MongoDB thresholds.
const (
	// MongoConnRatio is the share of the server's connection limit in use
	// (current / (current + available)) above which MongoDBConnectionsNearLimit fires.
	MongoConnRatio = 0.8
	// ReplicationLagSeconds is the secondary lag above which MongoDBReplicationLag fires.
	ReplicationLagSeconds = 30
)

// Probe thresholds.
const (
	// CertExpiryDays: TLSCertificateExpiringSoon fires when the certificate
	// of a probed endpoint (instance) expires in fewer days than this.
	CertExpiryDays = 14
	// ProbeFailureRatio is the share of failed probes of one configured
	// target (vigil_probe_failures_total{target}) above which
	// VigilProbeFailures fires; the endpoints dashboard draws it over the
	// failed share of probe_success per instance.
	ProbeFailureRatio = 0.1
	// NotificationErrorRatio is the share of failed notifications to one
	// Alertmanager above which VigilNotificationsFailing fires.
	NotificationErrorRatio = 0.01
)

// Service level objectives of the app, over SLOWindow.
const (
	// AvailabilitySLO is the target share of requests answered without a 5xx.
	AvailabilitySLO = 0.999
	// LatencySLO is the target share of requests served within LatencySLOSeconds.
	LatencySLO = 0.99
	// LatencySLOSeconds must be a bucket boundary of
	// http_request_duration_seconds: the SLI reads that bucket.
	LatencySLOSeconds = 0.5
	// SLOWindow is the period the error budget is spent over.
	SLOWindow = 30 * 24 * time.Hour
)

// BurnRate is one multi-window burn-rate condition of the Google SRE
// workbook: an alert fires when the error budget burns faster than Factor
// times the sustainable rate over both the Long and the Short window.
type BurnRate struct {
	Factor      float64
	Long, Short time.Duration
	// Severity is "critical" (page) or "warning" (ticket).
	Severity string
}

// BurnRates are the SRE workbook's four conditions for a 30-day window:
// 2% of the budget in 1h or 5% in 6h pages; 10% in 1d or 10% in 3d opens a ticket.
var BurnRates = []BurnRate{
	{Factor: 14.4, Long: time.Hour, Short: 5 * time.Minute, Severity: "critical"},
	{Factor: 6, Long: 6 * time.Hour, Short: 30 * time.Minute, Severity: "critical"},
	{Factor: 3, Long: 24 * time.Hour, Short: 2 * time.Hour, Severity: "warning"},
	{Factor: 1, Long: 72 * time.Hour, Short: 6 * time.Hour, Severity: "warning"},
}
