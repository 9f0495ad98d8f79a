// Package collectors probes the things the agent watches — MongoDB, Redis,
// HTTP, TCP, DNS and ICMP endpoints, the host and its container — one kind
// per file.
// A probe returns its series as metric families with the exporter's own
// labels; the agent adds the target's identity, appends them to its TSDB and
// keeps the latest result of every target to serve, so a scrape never waits
// on a target.
package collectors

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// Prober probes one configured target. Probers of kinds with connections
// (MongoDB, Redis) keep them pooled between probes and release them on Close.
// Probe must return by the deadline of ctx, whatever the target does.
type Prober interface {
	Probe(ctx context.Context) Result
	Close() error
}

// Result is the outcome of one probe.
type Result struct {
	Success  bool
	Duration time.Duration
	// Reason classifies a failure for the failure counter and the status
	// page: timeout, dns, connect, tls, auth, status, body_mismatch, ...
	Reason string
	// Err is the failure, with secrets already redacted.
	Err error
	// Metrics are the probe's series with the exporter's own labels; the
	// agent adds the target's job, instance and extra labels. The
	// blackbox-style kinds (http, tcp, dns, icmp) include probe_success and
	// probe_duration_seconds.
	Families []*dto.MetricFamily
}

// factory builds a Prober for one kind. Each kind's file registers its
// factory in init, so adding a kind is adding a file.
type factory func(t config.Target, logger *slog.Logger) (Prober, error)

var factories = map[config.Kind]factory{}

func register(k config.Kind, f factory) { factories[k] = f }

// New builds the prober for a validated target.
func New(t config.Target, logger *slog.Logger) (Prober, error) {
	f, ok := factories[t.Kind]
	if !ok {
		return nil, fmt.Errorf("target %q: unknown kind %q", t.Name, t.Kind)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return f(t, logger.With("target", t.Name, "kind", string(t.Kind)))
}
