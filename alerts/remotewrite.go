package alerts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// DefaultRemoteFlushDeadline is how long Close waits for each remote_write
// queue to send what it holds (Prometheus's --storage.remote.flush-deadline).
const DefaultRemoteFlushDeadline = time.Minute

// remoteWriter sends the TSDB's samples to the remote_write endpoints with
// Prometheus's own storage/remote: a QueueManager per endpoint tails the
// TSDB's write-ahead log (<storage>/wal) through a WAL watcher, so the TSDB
// is the only buffer and nothing is queued twice. On start, a queue that
// was behind is backfilled from the TSDB first (remotewrite_backfill.go).
type remoteWriter struct {
	storage *remote.Storage
	logger  *slog.Logger
	scrub   *scrubHandler // the logger's handler
	db      storage.Queryable
	sent    *sentTracker

	mu      sync.Mutex // serializes apply with the backfills' hand-over
	cfg     *config.Config
	applied map[string]string // queue name → hash of its entry, as last applied
	ext     labels.Labels
	pending map[string]context.CancelFunc // queues backfilling: not handed to upstream yet
	stop    context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup
}

// runningScrapeManager answers the metadata watcher with the engine's
// scrape manager while Run runs: upstream calls Get on every send_interval
// and skips metadata while it errs.
type runningScrapeManager struct {
	m *atomic.Pointer[scrape.Manager]
}

var errNoScrapeManager = errors.New("no scrape manager running")

func (r runningScrapeManager) Get() (*scrape.Manager, error) {
	if m := r.m.Load(); m != nil {
		return m, nil
	}
	return nil, errNoScrapeManager
}

// newRemoteWriter wires upstream's remote storage to db as Prometheus's
// main does: the TSDB notifies it of every WAL write so queues send at once
// instead of polling the log every 15s.
func newRemoteWriter(logger *slog.Logger, reg prometheus.Registerer, db *tsdb.DB, dir string, flushDeadline time.Duration, sm remote.ReadyScrapeManager) *remoteWriter {
	scrub := newScrubHandler(logger.Handler())
	logger = slog.New(scrub)
	sent := newSentTracker(reg, dir)
	s := remote.NewStorage(logger, sent, db.StartTime, dir, cmp.Or(flushDeadline, DefaultRemoteFlushDeadline), sm, false)
	ctx, stop := context.WithCancel(context.Background())
	r := &remoteWriter{storage: s, logger: logger, scrub: scrub, db: db, sent: sent, pending: map[string]context.CancelFunc{}, ctx: ctx, stop: stop}
	// Upstream's Notify takes the lock its ApplyConfig holds while a
	// replaced queue flushes (up to the flush deadline), and the TSDB calls
	// it on every commit: relayed, so a reload never stalls appends.
	notify := make(chan struct{}, 1)
	db.SetWriteNotified(notifyFunc(func() {
		select {
		case notify <- struct{}{}:
		default: // one pending notification covers every write before it
		}
	}))
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-notify:
				s.Notify()
			}
		}
	}()
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(sentStateEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := sent.save(); err != nil {
					logger.Warn("remote_write: saving the highest sent timestamps", "err", err)
				}
			}
		}
	}()
	return r
}

// notifyFunc is a wlog.WriteNotified.
type notifyFunc func()

func (f notifyFunc) Notify() { f() }

// checkRemoteWrite builds every endpoint's client, which is what upstream's
// ApplyConfig can fail on (a TLS file that does not load, a bad proxy), so a
// reload that would fail half-way is refused before anything changes.
func checkRemoteWrite(cfg *config.Config) error {
	var errs []error
	for i, rw := range cfg.RemoteWrite {
		if rw == nil || rw.URL == nil {
			continue // rejected by config validation
		}
		if _, err := remote.NewWriteClient(cmp.Or(rw.Name, "check"), clientConfig(rw)); err != nil {
			errs = append(errs, fmt.Errorf("remote_write[%d] %s: %s", i, rw.URL.Redacted(), config.Scrub(err.Error(), cfg.RemoteWriteSecrets())))
		}
	}
	return errors.Join(errs...)
}

// clientConfig is what upstream's WriteStorage.ApplyConfig passes to
// NewWriteClient for an entry.
func clientConfig(rw *config.RemoteWriteConfig) *remote.ClientConfig {
	return &remote.ClientConfig{
		URL:              rw.URL,
		WriteProtoMsg:    rw.ProtobufMessage,
		Timeout:          rw.RemoteTimeout,
		HTTPClientConfig: rw.HTTPClientConfig,
		SigV4Config:      rw.SigV4Config,
		AzureADConfig:    rw.AzureADConfig,
		GoogleIAMConfig:  rw.GoogleIAMConfig,
		Headers:          rw.Headers,
		RetryOnRateLimit: rw.QueueConfig.RetryOnRateLimit,
		RoundRobinDNS:    rw.RoundRobinDNS,
	}
}

// promConfig is the part of a Prometheus configuration remote storage reads:
// the external labels (added to every sample sent, a series' own label of
// the same name winning) and the remote_write entries.
func promConfig(cfg *config.Config, rws []*config.RemoteWriteConfig) *promconfig.Config {
	return &promconfig.Config{
		GlobalConfig:       promconfig.GlobalConfig{ExternalLabels: labels.FromMap(cfg.Global.ExternalLabels)},
		RemoteWriteConfigs: rws,
	}
}

// apply hands the configuration to upstream, which keeps the queue (and
// what it holds) of every entry whose settings and external labels did not
// change, swaps in new credentials, and restarts the others. A queue
// (re)started behind its saved highest sent timestamp (every queue on start,
// a changed one on reload) is backfilled first and handed to upstream once
// caught up: upstream's new queue would only send what is written from now.
//
// The engine calls it outside its lock: upstream flushes a replaced queue
// for up to the flush deadline, and the API and status page must answer
// meanwhile.
func (r *remoteWriter) apply(cfg *config.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return errors.New("applying remote_write: closed")
	}
	r.cfg = cfg
	r.scrub.setSecrets(cfg.RemoteWriteSecrets())
	ext := labels.FromMap(cfg.Global.ExternalLabels)
	keep := r.applied != nil && labels.Equal(ext, r.ext)
	applied := map[string]string{}
	var restarted []*config.RemoteWriteConfig
	for _, rw := range cfg.RemoteWrite {
		name, hash, err := queueID(rw)
		if err != nil {
			return fmt.Errorf("applying remote_write: %w", err)
		}
		applied[name] = hash
		if keep && r.applied[name] == hash {
			continue // upstream keeps its queue, or its backfill goes on
		}
		if cancel := r.pending[name]; cancel != nil {
			cancel() // changed while backfilling: start over with the new settings
			delete(r.pending, name)
		}
		restarted = append(restarted, rw)
	}
	for name, cancel := range r.pending {
		if _, ok := applied[name]; !ok { // removed: nothing to hand over
			cancel()
			delete(r.pending, name)
		}
	}
	r.sent.refresh()
	for _, rw := range restarted {
		name, _, _ := queueID(rw)
		if r.sent.highest(name) <= 0 {
			continue // never sent anything: upstream's queue starts from now
		}
		bf, err := newBackfill(name, rw, ext, r.db, r.sent, r.logger)
		if err != nil {
			return fmt.Errorf("applying remote_write: %w", err)
		}
		ctx, cancel := context.WithCancel(r.ctx)
		r.pending[name] = cancel
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.backfill(ctx, bf)
		}()
	}
	r.applied, r.ext = applied, ext
	return r.applyLocked()
}

// applyLocked gives upstream every entry not being backfilled.
func (r *remoteWriter) applyLocked() error {
	live := make([]*config.RemoteWriteConfig, 0, len(r.cfg.RemoteWrite))
	for _, rw := range r.cfg.RemoteWrite {
		if name, _, _ := queueID(rw); r.pending[name] == nil {
			live = append(live, rw)
		}
	}
	if err := r.storage.ApplyConfig(promConfig(r.cfg, live)); err != nil {
		return fmt.Errorf("applying alerting config: remote_write: %w", err)
	}
	return nil
}

// backfill catches one queue up, starts upstream's queue for it, then sends
// what was written between the last round and the queue's start. That last
// slice waits backfillSettle for appends in flight, which is well before
// the live queue's first batch (batch_send_deadline, 5s by default, after
// it has replayed the WAL); a receiver refuses samples older than ones it
// already has, so the order matters.
func (r *remoteWriter) backfill(ctx context.Context, bf *backfill) {
	// Once apply has returned, a queue it replaced has stopped and its last
	// highest sent timestamp is saved. Upstream saves whole seconds: start at
	// the second's beginning, re-sending what the receiver already has of it
	// (see send).
	r.mu.Lock()
	from := r.sent.highest(bf.name)/1000*1000 - 1
	r.mu.Unlock()
	bf.logger.Info("remote_write backfill: sending what the TSDB holds since the last sample sent", "from", time.UnixMilli(from).UTC())
	from, err := bf.catchUp(ctx, from)
	if err != nil {
		if ctx.Err() == nil {
			bf.logger.Error("remote_write backfill failed; the queue starts from now", "err", err)
		}
	}
	r.mu.Lock()
	if r.pending[bf.name] == nil || ctx.Err() != nil { // cancelled by a reload or close
		r.mu.Unlock()
		return
	}
	delete(r.pending, bf.name)
	err = r.applyLocked()
	// The live queue sends samples newer than the moment its WAL watcher's
	// goroutine starts, just after this; a sample both send is a duplicate
	// the receiver accepts (same timestamp and value as its newest).
	handover := time.Now().Add(handoverMargin).UnixMilli()
	r.mu.Unlock()
	if err != nil {
		bf.logger.Error("remote_write: starting the queue after backfill", "err", err)
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(backfillSettle):
	}
	if err := bf.round(ctx, from, handover); err != nil {
		bf.logger.Error("remote_write backfill: the last slice failed", "err", err)
		return
	}
	bf.sent.advance(bf.name, handover)
	bf.logger.Info("remote_write backfill: done; the queue sends from here", "at", time.UnixMilli(handover).UTC())
}

// close stops the backfills and every queue (each flushing for up to the
// flush deadline), then saves the highest sent timestamps.
func (r *remoteWriter) close() error {
	r.mu.Lock()
	r.stop()
	r.mu.Unlock()
	r.wg.Wait()
	var errs []error
	if err := r.storage.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing remote_write: %w", err))
	}
	if err := r.sent.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RemoteWriteQueue is one remote_write queue as the status page shows it,
// read from upstream's prometheus_remote_storage_* metrics.
type RemoteWriteQueue struct {
	Name     string // remote_name: the entry's name, else a hash of it
	Endpoint string // url, password redacted
	Pending  float64
	Sent     float64 // samples sent
	Failed   float64 // samples that failed for good
	Retried  float64
	Dropped  float64
	Shards   float64
	// LastSent is the highest sample timestamp sent; zero before the first
	// success. Lag is the newest enqueued timestamp minus it.
	LastSent time.Time
	Lag      time.Duration
}

// RemoteWriteStatus reports each remote_write queue, ordered by name.
func (e *Engine) RemoteWriteStatus() []RemoteWriteQueue {
	mfs, err := e.reg.own.Gather()
	if err != nil && len(mfs) == 0 {
		return nil
	}
	byKey := map[[2]string]*RemoteWriteQueue{}
	var enqueued = map[[2]string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var name, url string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "remote_name":
					name = lp.GetValue()
				case "url":
					url = lp.GetValue()
				}
			}
			if name == "" {
				continue
			}
			k := [2]string{name, url}
			q := byKey[k]
			if q == nil {
				q = &RemoteWriteQueue{Name: name, Endpoint: config.RedactURI(url)}
				byKey[k] = q
			}
			v := queueMetricValue(m)
			switch mf.GetName() {
			case "prometheus_remote_storage_samples_pending":
				q.Pending = v
			case "prometheus_remote_storage_samples_total":
				q.Sent = v
			case "prometheus_remote_storage_samples_failed_total":
				q.Failed = v
			case "prometheus_remote_storage_samples_retried_total":
				q.Retried = v
			case "prometheus_remote_storage_samples_dropped_total":
				q.Dropped = v
			case "prometheus_remote_storage_shards":
				q.Shards = v
			case "prometheus_remote_storage_queue_highest_sent_timestamp_seconds":
				if v > 0 {
					q.LastSent = time.Unix(int64(v), 0)
				}
			case "prometheus_remote_storage_queue_highest_timestamp_seconds":
				enqueued[k] = v
			}
		}
	}
	out := make([]RemoteWriteQueue, 0, len(byKey))
	for k, q := range byKey {
		if !q.LastSent.IsZero() && enqueued[k] > 0 {
			q.Lag = max(time.Duration(enqueued[k]-float64(q.LastSent.Unix()))*time.Second, 0)
		}
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b RemoteWriteQueue) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Endpoint, b.Endpoint))
	})
	return out
}

func queueMetricValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return 0
}
