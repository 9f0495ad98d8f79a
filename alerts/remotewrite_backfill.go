package alerts

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"go.yaml.in/yaml/v2"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// Why a backfill: upstream's WAL watcher only sends samples newer than the
// moment its queue starts. When the agent restarts while a receiver is
// down, every sample written between the last successful send and the
// restart is in the TSDB but would never be sent (Prometheus's known gap).
// So each queue's highest sent timestamp is kept in the storage directory
// and, on start, a queue that is behind first sends the missing range from
// the TSDB through upstream's own write client, then hands over to
// upstream's queue. The queue is only started once the backfill has caught
// up: a receiver such as Prometheus rejects a whole request holding a
// sample older than one it already has for the series, so the old range
// must arrive before the live queue's first batch.

const (
	sentStateFile = "remote_write_sent.json"
	// sentStateEvery is how often the highest sent timestamps are saved; a
	// crash re-sends at most this much, which backfill tolerates (below).
	sentStateEvery = 5 * time.Second
	// backfillSettle keeps the backfill behind appends still in flight: a
	// scrape or probe stamps its samples when it starts and commits them
	// when it ends.
	backfillSettle = time.Second
	// handoverMargin covers the start of the live queue's WAL watcher,
	// which stamps its start time in a goroutine of its own.
	handoverMargin = 20 * time.Millisecond
)

const highestSentMetric = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"

// sentTracker keeps each queue's highest sent timestamp. It sits between
// upstream and the registerer to hold on to the queues' gauges, since
// upstream unregisters them when a queue stops, before its value is saved.
type sentTracker struct {
	prometheus.Registerer
	path string

	mu     sync.Mutex
	gauges []prometheus.Collector
	sent   map[string]int64 // queue name → ms
}

func newSentTracker(reg prometheus.Registerer, dir string) *sentTracker {
	t := &sentTracker{Registerer: reg, path: filepath.Join(dir, sentStateFile), sent: map[string]int64{}}
	if b, err := os.ReadFile(t.path); err == nil {
		_ = json.Unmarshal(b, &t.sent) // a damaged file only costs the backfill
	}
	return t
}

func (t *sentTracker) Register(c prometheus.Collector) error {
	if err := t.Registerer.Register(c); err != nil {
		return err
	}
	if g, ok := c.(prometheus.Gauge); ok && isHighestSent(g) {
		t.mu.Lock()
		t.gauges = append(t.gauges, g)
		t.mu.Unlock()
	}
	return nil
}

func (t *sentTracker) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister is called by upstream when a queue stops, after its last
// flush: the gauge's final value is kept.
func (t *sentTracker) Unregister(c prometheus.Collector) bool {
	t.mu.Lock()
	for i, g := range t.gauges {
		if g == c {
			t.fold(g)
			t.gauges = slices.Delete(t.gauges, i, i+1)
			break
		}
	}
	t.mu.Unlock()
	return t.Registerer.Unregister(c)
}

func isHighestSent(g prometheus.Gauge) bool {
	// Desc has no accessor for its name: Desc{fqName: "name", help: ...}
	_, rest, _ := strings.Cut(g.Desc().String(), `fqName: "`)
	name, _, _ := strings.Cut(rest, `"`)
	return name == highestSentMetric
}

// fold records a queue gauge's value (seconds, rounded down by upstream).
// t.mu is held.
func (t *sentTracker) fold(g prometheus.Collector) {
	ch := make(chan prometheus.Metric, 1)
	g.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		return
	}
	name := ""
	for _, lp := range m.GetLabel() {
		if lp.GetName() == "remote_name" {
			name = lp.GetValue()
		}
	}
	if v := m.GetGauge().GetValue(); v > 0 && name != "" {
		t.sent[name] = max(t.sent[name], int64(v)*1000)
	}
}

// highest is the saved highest sent timestamp of a queue, in ms (0: none).
func (t *sentTracker) highest(name string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent[name]
}

// advance records that everything of queue name up to ts was sent.
func (t *sentTracker) advance(name string, ts int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent[name] = max(t.sent[name], ts)
}

// refresh reads the running queues' gauges into the state.
func (t *sentTracker) refresh() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, g := range t.gauges {
		t.fold(g)
	}
}

// save refreshes the state and writes it, atomically, to the storage
// directory.
func (t *sentTracker) save() error {
	t.refresh()
	t.mu.Lock()
	if len(t.sent) == 0 {
		t.mu.Unlock()
		return nil // no remote_write has sent anything: no file
	}
	b, err := json.Marshal(t.sent)
	t.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := t.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("saving remote_write state: %w", err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return fmt.Errorf("saving remote_write state: %w", err)
	}
	return nil
}

// queueID is the name upstream gives a queue (the entry's name, else the
// first 6 hex digits of its hash) and the hash it compares across reloads:
// the md5 of the entry's YAML (storage/remote's toHash).
func queueID(rw *config.RemoteWriteConfig) (name, hash string, err error) {
	b, err := yaml.Marshal(rw)
	if err != nil {
		return "", "", err
	}
	h := md5.Sum(b)
	hash = hex.EncodeToString(h[:])
	return cmp.Or(rw.Name, hash[:6]), hash, nil
}

// backfill sends the samples of (from, now - backfillSettle] to one
// endpoint, in rounds until it has caught up.
type backfill struct {
	name   string
	rw     *config.RemoteWriteConfig
	ext    labels.Labels
	db     storage.Queryable
	client remote.WriteClient
	sent   *sentTracker
	logger *slog.Logger
}

func newBackfill(name string, rw *config.RemoteWriteConfig, ext labels.Labels, db storage.Queryable, sent *sentTracker, logger *slog.Logger) (*backfill, error) {
	cc := clientConfig(rw)
	// Backfill builds Remote-Write 1.0 requests, which 2.0 receivers accept too.
	cc.WriteProtoMsg = remoteapi.WriteV1MessageType
	c, err := remote.NewWriteClient(name, cc)
	if err != nil {
		return nil, err
	}
	return &backfill{name: name, rw: rw, ext: ext, db: db, client: c, sent: sent, logger: logger.With("remote_name", name)}, nil
}

// round sends (from, to] and returns to, or an error once ctx ends.
func (b *backfill) round(ctx context.Context, from, to int64) error {
	q, err := b.db.Querier(from+1, to)
	if err != nil {
		return fmt.Errorf("querying the TSDB: %w", err)
	}
	defer q.Close()
	set := q.Select(ctx, true, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	var (
		batch   []prompb.TimeSeries
		samples int
		lb      = labels.NewBuilder(labels.EmptyLabels())
		it      chunkenc.Iterator
		limit   = max(b.rw.QueueConfig.MaxSamplesPerSend, 1)
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := b.send(ctx, batch)
		batch, samples = batch[:0], 0
		return err
	}
	for set.Next() {
		s := set.At()
		lb.Reset(s.Labels())
		// As upstream's queue: external labels first (a series' own label
		// wins), then write_relabel_configs.
		b.ext.Range(func(l labels.Label) {
			if lb.Get(l.Name) == "" {
				lb.Set(l.Name, l.Value)
			}
		})
		if !relabel.ProcessBuilder(lb, b.rw.WriteRelabelConfigs...) {
			continue
		}
		ts := prompb.TimeSeries{Labels: prompb.FromLabels(lb.Labels(), nil)}
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue // the agent writes no native histograms
			}
			t, v := it.At()
			if t <= from || t > to {
				continue
			}
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: t, Value: v})
			samples++
			if samples >= limit {
				batch = append(batch, ts)
				if err := flush(); err != nil {
					return err
				}
				ts = prompb.TimeSeries{Labels: ts.Labels}
			}
		}
		if len(ts.Samples) > 0 {
			batch = append(batch, ts)
		}
	}
	if err := set.Err(); err != nil {
		return fmt.Errorf("reading the TSDB: %w", err)
	}
	return flush()
}

// send delivers one request, retrying recoverable errors (5xx, 429,
// network) with capped exponential backoff and jitter until ctx ends. A
// request the receiver refuses for good is split by series, and a series by
// dropping its oldest sample: after a crash the saved timestamp can be a
// few seconds old, and a receiver refuses a whole request for one sample
// it already has.
func (b *backfill) send(ctx context.Context, batch []prompb.TimeSeries) error {
	err := b.store(ctx, batch)
	var rec remote.RecoverableError
	switch {
	case err == nil || ctx.Err() != nil:
		return err
	case errors.As(err, &rec):
		return err // store retries these until ctx ends
	case len(batch) > 1:
		for _, ts := range batch {
			if err := b.send(ctx, []prompb.TimeSeries{ts}); err != nil {
				return err
			}
		}
		return nil
	}
	// One series: what the receiver already has is a prefix of its samples.
	ts := batch[0]
	for len(ts.Samples) > 1 {
		ts.Samples = ts.Samples[1:]
		err = b.store(ctx, []prompb.TimeSeries{ts})
		if err == nil || ctx.Err() != nil || errors.As(err, &rec) {
			return err
		}
	}
	b.logger.Debug("remote_write backfill: samples refused", "err", err)
	return nil
}

func (b *backfill) store(ctx context.Context, batch []prompb.TimeSeries) error {
	req := &prompb.WriteRequest{Timeseries: batch}
	data, err := req.Marshal()
	if err != nil {
		return err
	}
	compressed := snappy.Encode(nil, data)
	minB := cmp.Or(time.Duration(b.rw.QueueConfig.MinBackoff), 30*time.Millisecond)
	maxB := max(time.Duration(b.rw.QueueConfig.MaxBackoff), minB)
	backoff := minB
	for attempt := 0; ; attempt++ {
		_, err := b.client.Store(ctx, compressed, attempt)
		var rec remote.RecoverableError
		if err == nil || !errors.As(err, &rec) {
			return err
		}
		if attempt == 0 {
			b.logger.Warn("remote_write backfill: receiver unavailable, retrying", "err", err)
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, maxB)
	}
}

// catchUp sends rounds from the saved timestamp until the next round would
// be shorter than backfillSettle, and returns where it stopped.
func (b *backfill) catchUp(ctx context.Context, from int64) (int64, error) {
	for {
		to := time.Now().Add(-backfillSettle).UnixMilli()
		if to-from < backfillSettle.Milliseconds() {
			return from, nil
		}
		if err := b.round(ctx, from, to); err != nil {
			return from, err
		}
		b.logger.Info("remote_write backfill: sent", "from", time.UnixMilli(from).UTC(), "to", time.UnixMilli(to).UTC())
		b.sent.advance(b.name, to)
		from = to
	}
}
