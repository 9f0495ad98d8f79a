package agent

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/buildinfo"
)

// selfMetrics are the agent's own series (docs/metrics.md).
type selfMetrics struct {
	probes        *prometheus.CounterVec
	targetUp      *prometheus.GaugeVec
	failures      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	lastDuration  *prometheus.GaugeVec
	reloadOK      prometheus.Gauge
	reloadSuccess prometheus.Gauge
}

func newSelfMetrics(reg prometheus.Registerer) (*selfMetrics, error) {
	m := &selfMetrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_probes_total",
			Help: "Probes run, by target.",
		}, []string{"target", "kind"}),
		targetUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_target_up",
			Help: "Whether the last probe of the target succeeded (1) or failed (0), for every kind.",
		}, []string{"target", "kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_probe_failures_total",
			Help: "Failed probes, by target and failure reason.",
		}, []string{"target", "kind", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_probe_duration_seconds",
			Help:    "Duration of probes, by kind.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		// Per target, unlike the histogram: the status page's latency
		// chart reads it back from the TSDB.
		lastDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_probe_last_duration_seconds",
			Help: "Duration of the target's last probe.",
		}, []string{"target", "kind"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_config_last_reload_successful",
			Help: "Whether the last configuration load or reload succeeded.",
		}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration load or reload.",
		}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_build_info",
		Help: "A metric with a constant '1' value labelled by the agent's version, revision and Go version.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(buildinfo.Version, buildinfo.Revision, buildinfo.GoVersion()).Set(1)
	for _, c := range []prometheus.Collector{m.probes, m.targetUp, m.failures, m.duration, m.lastDuration, m.reloadOK, m.reloadSuccess, build} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *selfMetrics) observe(t config.Target, rec probeRecord) {
	kind := string(t.Kind)
	m.probes.WithLabelValues(t.Name, kind).Inc()
	m.targetUp.WithLabelValues(t.Name, kind).Set(boolFloat(rec.Success))
	if !rec.Success {
		m.failures.WithLabelValues(t.Name, kind, rec.Reason).Inc()
	}
	m.duration.WithLabelValues(kind).Observe(rec.Duration.Seconds())
	m.lastDuration.WithLabelValues(t.Name, kind).Set(rec.Duration.Seconds())
}

// track creates a new target's counters at zero, so the first failure is
// an increase that rate() sees, and failure ratios exist from the start.
func (m *selfMetrics) track(t config.Target) {
	kind := string(t.Kind)
	m.probes.WithLabelValues(t.Name, kind)
	for reason := range knownReasons {
		m.failures.WithLabelValues(t.Name, kind, reason)
	}
}

// forget drops a removed target's series. Exact deletes, since reasons are
// bounded: a partial match scans every series, and a reload replacing
// thousands of targets took seconds per thousand that way.
func (m *selfMetrics) forget(target string, kind config.Kind) {
	m.probes.DeleteLabelValues(target, string(kind))
	m.targetUp.DeleteLabelValues(target, string(kind))
	m.lastDuration.DeleteLabelValues(target, string(kind))
	for reason := range knownReasons {
		m.failures.DeleteLabelValues(target, string(kind), reason)
	}
}

func (m *selfMetrics) reloadSucceeded() {
	m.reloadOK.Set(1)
	m.reloadSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
}

func (m *selfMetrics) reloadFailed() { m.reloadOK.Set(0) }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
