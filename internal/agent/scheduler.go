package agent

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-sh/vigil/collectors"
	"github.com/vigil-sh/vigil/internal/agent/config"
)

// probeRecord is one finished probe, secrets already scrubbed from Err.
type probeRecord struct {
	Time     time.Time
	Success  bool
	Duration time.Duration
	Reason   string
	Err      string
}

// runner probes one target on its interval in its own goroutine, so a
// target that hangs costs only its own timeout, and keeps the latest result
// for /metrics and the recent ones for the status page.
type runner struct {
	target   config.Target
	identity map[string]string // job, instance and extra labels
	prober   collectors.Prober
	secrets  []string
	metrics  *selfMetrics
	writer   ProbeWriter // may be nil
	logger   *slog.Logger

	// writeMu orders a probe's write to storage before the staleness
	// markers of the target's removal.
	writeMu sync.Mutex

	cancel   context.CancelFunc
	done     chan struct{}
	closeErr error // set before done is closed

	mu       sync.RWMutex // guards the fields below
	stopped  bool         // no result is recorded after stop
	last     collectors.Result
	labelled []*dto.MetricFamily // last.Families with the identity, for /metrics
	lastRec  *probeRecord
	history  []probeRecord // ring of the most recent probes, oldest first
	probes   uint64
	failures uint64
}

func newRunner(t config.Target, p collectors.Prober, historySize int, m *selfMetrics, w ProbeWriter, logger *slog.Logger) *runner {
	return &runner{
		target:   t,
		identity: t.IdentityLabels(),
		prober:   p,
		secrets:  t.Secrets(),
		metrics:  m,
		writer:   w,
		logger:   logger,
		history:  make([]probeRecord, 0, historySize),
		done:     make(chan struct{}),
	}
}

// start launches the probe loop. The first probe waits a random part of the
// interval so targets loaded together do not probe in lockstep.
func (r *runner) start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	interval := time.Duration(r.target.Interval)
	if interval <= 0 { // validation forbids it; a unit test's literal may not
		interval = time.Duration(config.DefaultInterval)
	}
	jitter := time.Duration(rand.Int64N(int64(interval)))
	go r.loop(ctx, interval, jitter)
}

// stop ends the loop; an in-flight probe sees its context cancelled.
// The prober is closed by the loop when it exits.
func (r *runner) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
}

// wait blocks until the loop has exited and returns the prober's Close error.
func (r *runner) wait() error {
	if r.cancel == nil { // never started
		return r.prober.Close()
	}
	<-r.done
	return r.closeErr
}

func (r *runner) loop(ctx context.Context, interval, jitter time.Duration) {
	defer func() {
		r.closeErr = r.prober.Close()
		close(r.done)
	}()
	timer := time.NewTimer(jitter)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		r.probeOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probeOnce runs one probe under the target's timeout and records it.
func (r *runner) probeOnce(ctx context.Context) {
	timeout := time.Duration(r.target.Timeout)
	if timeout <= 0 {
		timeout = time.Duration(config.DefaultTimeout)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	res := r.safeProbe(pctx)
	if ctx.Err() != nil {
		return // target removed or agent stopping: not a result of the target
	}
	if res.Duration <= 0 {
		res.Duration = time.Since(start)
	}
	rec := probeRecord{Time: start, Success: res.Success, Duration: res.Duration}
	if !res.Success {
		rec.Reason = boundedReason(res.Reason)
		if res.Err != nil {
			rec.Err = config.Scrub(res.Err.Error(), r.secrets)
		}
	}
	// Labelled once per probe, not once per scrape of /metrics.
	labelled := withIdentity(res.Families, r.identity)
	r.mu.Lock()
	if r.stopped { // removed meanwhile: its series are being dropped
		r.mu.Unlock()
		return
	}
	r.metrics.observe(r.target, rec)
	wasUp := r.lastRec == nil || r.lastRec.Success
	r.last = res
	r.labelled = labelled
	r.lastRec = &rec
	if len(r.history) == cap(r.history) && len(r.history) > 0 {
		copy(r.history, r.history[1:])
		r.history = r.history[:len(r.history)-1]
	}
	if cap(r.history) > 0 {
		r.history = append(r.history, rec)
	}
	r.probes++
	if !rec.Success {
		r.failures++
	}
	r.mu.Unlock()
	r.write(ctx, rec.Time, res)

	switch {
	case !rec.Success && wasUp:
		r.logger.Warn("target down", "reason", rec.Reason, "err", rec.Err, "duration", rec.Duration)
	case rec.Success && !wasUp:
		r.logger.Info("target up", "duration", rec.Duration)
	case !rec.Success:
		r.logger.Debug("probe failed", "reason", rec.Reason, "err", rec.Err, "duration", rec.Duration)
	default:
		r.logger.Debug("probe succeeded", "duration", rec.Duration)
	}
}

// write appends the probe to storage unless the target was removed
// meanwhile: its staleness markers must be its last samples.
func (r *runner) write(ctx context.Context, ts time.Time, res collectors.Result) {
	if r.writer == nil {
		return
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.RLock()
	stopped := r.stopped
	r.mu.RUnlock()
	if stopped {
		return
	}
	r.writer.WriteProbe(ctx, r.target.Name, r.identity, ts, res.Duration, res.Families)
}

// forget ends a removed target's series in storage, after any write in
// flight. Call after stop.
func (r *runner) forget() {
	if r.writer == nil {
		return
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.writer.ForgetTarget(r.target.Name)
}

// safeProbe turns a prober's panic into a failed probe: one broken
// collector must not take the agent down.
func (r *runner) safeProbe(ctx context.Context) (res collectors.Result) {
	defer func() {
		if p := recover(); p != nil {
			res = collectors.Result{Reason: reasonPanic, Err: fmt.Errorf("prober panicked: %v", p)}
		}
	}()
	return r.prober.Probe(ctx)
}

const reasonPanic = "panic"

// knownReasons bounds the reason label of vigil_probe_failures_total.
var knownReasons = map[string]bool{
	collectors.ReasonTimeout: true, collectors.ReasonDNS: true, collectors.ReasonConnect: true,
	collectors.ReasonTLS: true, collectors.ReasonAuth: true, collectors.ReasonStatus: true,
	collectors.ReasonBodyMismatch: true, collectors.ReasonProtocol: true, collectors.ReasonConfig: true,
	collectors.ReasonOther: true, reasonPanic: true,
}

func boundedReason(s string) string {
	if knownReasons[s] {
		return s
	}
	return collectors.ReasonOther
}

// state is a consistent copy of the runner's results.
type state struct {
	last     collectors.Result
	lastRec  *probeRecord
	history  []probeRecord
	probes   uint64
	failures uint64
}

func (r *runner) state() state {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := state{last: r.last, probes: r.probes, failures: r.failures}
	if r.lastRec != nil {
		rec := *r.lastRec
		s.lastRec = &rec
	}
	s.history = append([]probeRecord(nil), r.history...)
	return s
}
