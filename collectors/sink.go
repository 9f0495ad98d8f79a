package collectors

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sink accumulates one probe's metrics with the exporter's own labels only:
// the target's identity (job, instance, extra labels) is added where the
// series leave the agent, as Prometheus adds it to a scraped exporter's.
// Descs are cached process-wide because probes run every few seconds for the
// life of the agent.
type sink struct {
	metrics []prometheus.Metric
}

func newSink() *sink { return &sink{} }

var descs sync.Map // key: name + "\x00" + joined label names

func desc(name, help string, labels []string) *prometheus.Desc {
	key := name + "\x00" + strings.Join(labels, ",")
	if d, ok := descs.Load(key); ok {
		return d.(*prometheus.Desc)
	}
	d, _ := descs.LoadOrStore(key, prometheus.NewDesc(name, help, labels, nil))
	return d.(*prometheus.Desc)
}

// add appends a sample; kv are label name/value pairs.
func (s *sink) add(typ prometheus.ValueType, name, help string, v float64, kv ...string) {
	names := make([]string, 0, len(kv)/2)
	values := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		names = append(names, kv[i])
		values = append(values, kv[i+1])
	}
	s.metrics = append(s.metrics, prometheus.MustNewConstMetric(desc(name, help, names), typ, v, values...))
}

func (s *sink) gauge(name, help string, v float64, kv ...string) {
	s.add(prometheus.GaugeValue, name, help, v, kv...)
}

func (s *sink) counter(name, help string, v float64, kv ...string) {
	s.add(prometheus.CounterValue, name, help, v, kv...)
}

func boolToFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Failure reasons, bounded: they label vigil_probe_failures_total.
const (
	ReasonTimeout      = "timeout"
	ReasonDNS          = "dns"
	ReasonConnect      = "connect"
	ReasonTLS          = "tls"
	ReasonAuth         = "auth"
	ReasonStatus       = "status"
	ReasonBodyMismatch = "body_mismatch"
	ReasonProtocol     = "protocol"
	ReasonConfig       = "config"
	ReasonOther        = "other"
)

// classify maps a network error to a failure reason.
func classify(err error) string {
	if err == nil {
		return ""
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ReasonTimeout
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return ReasonTimeout
		}
		return ReasonDNS
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &alert):
		return ReasonTLS
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// An alert the peer sent (a refused client certificate arrives on
		// the first read under TLS 1.3): crypto/tls wraps it in an OpError.
		return ReasonTLS
	case errors.As(err, &opErr):
		if opErr.Timeout() {
			return ReasonTimeout
		}
		return ReasonConnect
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonTimeout
	}
	return ReasonOther
}

// finishBlackboxProbe adds blackbox_exporter's probe_success and
// probe_duration_seconds, which only the blackbox-style kinds (http, tcp)
// report: Redis and MongoDB report redis_up and mongodb_up as their
// exporters do, so blackbox "probes up" counts never include them.
func finishBlackboxProbe(s *sink, start time.Time, reason string, err error, logger *slog.Logger) Result {
	s.gauge("probe_success", "Displays whether or not the probe was a success.", boolToFloat(err == nil))
	s.gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds.", time.Since(start).Seconds())
	return finishProbe(s, start, reason, err, logger)
}

// finishProbe builds the Result; a failure is logged at debug level because
// the failure counter and the status page already report it.
func finishProbe(s *sink, start time.Time, reason string, err error, logger *slog.Logger) Result {
	elapsed := time.Since(start)
	ok := err == nil
	if !ok && reason == "" {
		reason = ReasonOther
	}
	if !ok {
		logger.Debug("probe failed", "reason", reason, "err", err)
	}
	return Result{Success: ok, Duration: elapsed, Reason: reason, Err: err, Metrics: s.metrics}
}
