package collectors

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// sink accumulates one probe's series with the exporter's own labels only:
// the target's identity (job, instance, extra labels) is added where the
// series leave the agent, as Prometheus adds it to a scraped exporter's.
// It builds metric families directly, because the agent appends them to its
// TSDB and serves them to scrapes, and a family is what both consume.
type sink struct {
	families []*dto.MetricFamily
	index    map[string]int // family name -> position in families
}

func newSink() *sink { return &sink{index: map[string]int{}} }

// add appends a sample; kv are label name/value pairs.
func (s *sink) add(vt prometheus.ValueType, name, help string, v float64, kv ...string) {
	typ := dto.MetricType_UNTYPED
	switch vt {
	case prometheus.CounterValue:
		typ = dto.MetricType_COUNTER
	case prometheus.GaugeValue:
		typ = dto.MetricType_GAUGE
	}
	i, ok := s.index[name]
	if !ok {
		i = len(s.families)
		s.index[name] = i
		s.families = append(s.families, &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: typ.Enum()})
	}
	m := &dto.Metric{Label: make([]*dto.LabelPair, 0, len(kv)/2)}
	for j := 0; j+1 < len(kv); j += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(kv[j]), Value: proto.String(kv[j+1])})
	}
	slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	switch typ {
	case dto.MetricType_COUNTER:
		m.Counter = &dto.Counter{Value: proto.Float64(v)}
	case dto.MetricType_GAUGE:
		m.Gauge = &dto.Gauge{Value: proto.Float64(v)}
	default:
		m.Untyped = &dto.Untyped{Value: proto.Float64(v)}
	}
	f := s.families[i]
	f.Metric = append(f.Metric, m)
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

// blackboxProbe runs one probe of a blackbox-style kind within timeout and
// finishes it with finishBlackboxProbe.
func blackboxProbe(ctx context.Context, timeout time.Duration, logger *slog.Logger, probe func(context.Context, *sink) (reason string, err error)) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := newSink()
	reason, err := probe(ctx, s)
	return finishBlackboxProbe(s, start, reason, err, logger)
}

// finishBlackboxProbe adds blackbox_exporter's probe_success and
// probe_duration_seconds, which only the blackbox-style kinds (http, tcp,
// dns, icmp) report: Redis and MongoDB report redis_up and mongodb_up as
// their exporters do, so blackbox "probes up" counts never include them.
func finishBlackboxProbe(s *sink, start time.Time, reason string, err error, logger *slog.Logger) Result {
	elapsed := time.Since(start)
	s.gauge("probe_success", "Displays whether or not the probe was a success.", boolToFloat(err == nil))
	s.gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds.", elapsed.Seconds())
	return result(s, elapsed, reason, err, logger)
}

// finishProbe builds the Result of a probe that started at start.
func finishProbe(s *sink, start time.Time, reason string, err error, logger *slog.Logger) Result {
	return result(s, time.Since(start), reason, err, logger)
}

// result builds a Result; a failure is logged at debug level because the
// failure counter and the status page already report it.
func result(s *sink, elapsed time.Duration, reason string, err error, logger *slog.Logger) Result {
	ok := err == nil
	if !ok && reason == "" {
		reason = ReasonOther
	}
	if !ok {
		logger.Debug("probe failed", "reason", reason, "err", err)
	}
	return Result{Success: ok, Duration: elapsed, Reason: reason, Err: err, Families: s.families}
}
