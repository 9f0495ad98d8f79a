package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// DefaultStorageRecoveryHold is how long the TSDB must accept every write
// before a storage failure counts as over: on a nearly full filesystem some
// writes still land in already allocated blocks, and one lucky commit must
// not flap the state.
const DefaultStorageRecoveryHold = 15 * time.Second

// storageCheckInterval is how often the TSDB's own failure counters
// (compactions, head truncations, checkpoints) are read.
const storageCheckInterval = 5 * time.Second

// compactionFailureWindow bounds how long a failed compaction alone keeps
// the state failing without a newer failure: the TSDB retries a failing
// compaction at least every two minutes (one-minute block reload tick plus
// at most one minute of backoff).
const compactionFailureWindow = 3 * time.Minute

// StorageStatus is the TSDB's write health as the readiness endpoint, the
// status page and the self-alert report it.
type StorageStatus struct {
	Healthy bool
	// Reason says what failed (the last error) while unhealthy.
	Reason string
	// Since is when the current failure began; zero while healthy.
	Since time.Time
	// LastFailure is the time of the latest failed write, zero if none.
	LastFailure time.Time
}

// storageHealth tracks whether the TSDB accepts writes. Every commit of
// the scrape loops and the rules manager goes through a watchedAppender,
// so a full disk shows at the next write; failing head compactions and
// checkpoints are read from the TSDB's own counters.
type storageHealth struct {
	hold     time.Duration
	now      func() time.Time
	healthy  prometheus.Gauge
	failures *prometheus.CounterVec
	onChange func(StorageStatus)

	mu          sync.Mutex
	failing     bool
	reason      string
	since       time.Time
	lastFailure time.Time
	lastSuccess time.Time
	// counters remembers the TSDB failure counters seen at the last check.
	counters map[string]float64
	// compactionFailedAt is the last time a background TSDB operation
	// (compaction, truncation, checkpoint) was seen failing.
	compactionFailedAt time.Time
}

func newStorageHealth(reg prometheus.Registerer, hold time.Duration) (*storageHealth, error) {
	h := &storageHealth{
		hold: hold,
		now:  time.Now,
		healthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_storage_healthy",
			Help: "1 if the agent's TSDB accepts writes, 0 while appends, WAL writes, commits or head compactions fail.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_storage_write_failures_total",
			Help: "Writes to the agent's TSDB that failed, by operation (append, commit, compaction).",
		}, []string{"operation"}),
		counters: map[string]float64{},
	}
	h.healthy.Set(1)
	for _, op := range []string{opAppend, opCommit, opCompaction} {
		h.failures.WithLabelValues(op)
	}
	for _, c := range []prometheus.Collector{h.healthy, h.failures} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering storage metrics: %w", err)
		}
	}
	return h, nil
}

const (
	opAppend     = "append"
	opCommit     = "commit"
	opCompaction = "compaction"
)

// Status is the current state.
func (h *storageHealth) Status() StorageStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.statusLocked()
}

func (h *storageHealth) statusLocked() StorageStatus {
	s := StorageStatus{Healthy: !h.failing, LastFailure: h.lastFailure}
	if h.failing {
		s.Reason, s.Since = h.reason, h.since
	}
	return s
}

// failed records a failed write; the state turns failing at once.
func (h *storageHealth) failed(op string, err error) {
	h.failures.WithLabelValues(op).Inc()
	now := h.now()
	h.mu.Lock()
	h.lastFailure = now
	if op == opCompaction {
		h.compactionFailedAt = now
	}
	h.reason = fmt.Sprintf("%s failed: %v", op, err)
	changed := !h.failing
	if changed {
		h.failing, h.since = true, now
	}
	s := h.statusLocked()
	h.mu.Unlock()
	if changed {
		h.healthy.Set(0)
		if h.onChange != nil {
			h.onChange(s)
		}
	}
}

// succeeded records a commit that wrote; the failure ends once writes
// have succeeded for the whole hold period.
func (h *storageHealth) succeeded() {
	h.mu.Lock()
	h.lastSuccess = h.now()
	h.mu.Unlock()
	h.maybeRecover()
}

func (h *storageHealth) maybeRecover() {
	now := h.now()
	h.mu.Lock()
	recovered := h.failing &&
		h.lastSuccess.After(h.lastFailure) &&
		now.Sub(h.lastFailure) >= h.hold &&
		(h.compactionFailedAt.IsZero() || now.Sub(h.compactionFailedAt) >= compactionFailureWindow)
	if recovered {
		h.failing, h.reason, h.since = false, "", time.Time{}
	}
	s := h.statusLocked()
	h.mu.Unlock()
	if recovered {
		h.healthy.Set(1)
		if h.onChange != nil {
			h.onChange(s)
		}
	}
}

// tsdbFailureCounters are the TSDB's counters of failed background work;
// any increase means the head cannot be persisted.
var tsdbFailureCounters = []string{
	"prometheus_tsdb_compactions_failed_total",
	"prometheus_tsdb_head_truncations_failed_total",
	"prometheus_tsdb_checkpoint_creations_failed_total",
	"prometheus_tsdb_wal_truncations_failed_total",
}

// compactionSucceededCounter rises with every compaction that wrote a block.
const compactionSucceededCounter = "prometheus_tsdb_compactions_total"

// checkCounters compares the TSDB's failure counters with the last check.
func (h *storageHealth) checkCounters(g prometheus.Gatherer) {
	fams, err := g.Gather()
	if err != nil && len(fams) == 0 {
		return
	}
	values := map[string]float64{}
	for _, mf := range fams {
		var sum float64
		for _, m := range mf.GetMetric() {
			if mf.GetType() == dto.MetricType_COUNTER {
				sum += m.GetCounter().GetValue()
			}
		}
		values[mf.GetName()] = sum
	}
	h.mu.Lock()
	prev := h.counters
	h.counters = values
	compactionOK := values[compactionSucceededCounter] > prev[compactionSucceededCounter]
	if compactionOK {
		h.compactionFailedAt = time.Time{}
	}
	h.mu.Unlock()
	for _, name := range tsdbFailureCounters {
		if values[name] > prev[name] {
			h.failed(opCompaction, fmt.Errorf("%s rose to %g (see the tsdb component's log)", name, values[name]))
		}
	}
	h.maybeRecover()
}

// run checks the TSDB's counters until ctx ends, calling tick after each
// check (the self-alert's re-send).
func (h *storageHealth) run(ctx context.Context, g prometheus.Gatherer, tick func()) {
	t := time.NewTicker(storageCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.checkCounters(g)
		tick()
	}
}

// watchedAppendable wraps the TSDB so every append and commit reports to
// storageHealth.
type watchedAppendable struct {
	db storage.AppendableV2
	h  *storageHealth
}

func (w watchedAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &watchedAppender{AppenderV2: w.db.AppenderV2(ctx), h: w.h}
}

type watchedAppender struct {
	storage.AppenderV2
	h *storageHealth
}

func (a *watchedAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, hist *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	ref, err := a.AppenderV2.Append(ref, ls, st, t, v, hist, fh, opts)
	if err != nil && !isSampleError(err) {
		a.h.failed(opAppend, err)
	}
	return ref, err
}

func (a *watchedAppender) Commit() error {
	err := a.AppenderV2.Commit()
	if err != nil {
		a.h.failed(opCommit, err)
		return err
	}
	a.h.succeeded()
	return nil
}

// isSampleError reports errors about one sample (order, age, duplicates),
// which say nothing about the storage's health.
func isSampleError(err error) bool {
	for _, target := range []error{
		storage.ErrOutOfOrderSample, storage.ErrOutOfBounds, storage.ErrTooOldSample,
		storage.ErrDuplicateSampleForTimestamp, storage.ErrOutOfOrderExemplar,
		storage.ErrDuplicateExemplar, storage.ErrExemplarLabelLength, storage.ErrExemplarsDisabled,
		storage.ErrNativeHistogramsDisabled, storage.ErrOutOfOrderST, storage.ErrSTNewerThanSample,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var partial *storage.AppendPartialError
	return errors.As(err, &partial)
}
