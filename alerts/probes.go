package alerts

import (
	"context"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// probeWriters append the agent's probe results straight into the TSDB,
// one writer per target: data produced in the process is appended in the
// process, at the probe's own timestamp, instead of waiting for a
// self-scrape to serialise it and parse it back.
type probeWriters struct {
	mu sync.Mutex
	m  map[string]*probeWriter // by target name
}

// probeWriter serialises one target's writes; a writer is replaced when
// the target's identity changes, its old series marked stale.
type probeWriter struct {
	mu sync.Mutex
	w  *seriesWriter
}

func (p *probeWriters) get(target string) *probeWriter {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*probeWriter{}
	}
	pw, ok := p.m[target]
	if !ok {
		pw = &probeWriter{}
		p.m[target] = pw
	}
	return pw
}

func (p *probeWriters) remove(target string) *probeWriter {
	p.mu.Lock()
	defer p.mu.Unlock()
	pw := p.m[target]
	delete(p.m, target)
	return pw
}

// storage is the open TSDB behind the storage-health watch (a failed
// probe write makes the agent loud as any failed write does), or nil before
// the first configuration and after Close.
func (e *Engine) storage() storage.AppendableV2 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.db == nil || e.closed {
		return nil
	}
	return e.app
}

// WriteProbe appends one finished probe of a target at ts: its series with
// the target's identity labels (job, instance and its extra labels), and
// the report series Prometheus records for a scrape of the exporter the
// target replaces — up, scrape_duration_seconds (the probe's duration),
// scrape_samples_scraped, ... A series the previous probe had and this one
// lacks gets a staleness marker. Calls for one target must not overlap.
func (e *Engine) WriteProbe(ctx context.Context, target string, identity map[string]string, ts time.Time, dur time.Duration, fams []*dto.MetricFamily) {
	db := e.storage()
	if db == nil {
		return
	}
	base := labels.FromMap(identity)
	pw := e.probes.get(target)
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.w != nil && !labels.Equal(pw.w.base, base) {
		pw.w.markAllStale(ctx, ts) // the identity changed: the old series end
		pw.w = nil
	}
	if pw.w == nil {
		pw.w = newSeriesWriter(db, base, e.logger.With("component", "probe writer", "target", target))
	}
	// The agent answered for the target: up is 1 whatever the probe found,
	// as Prometheus records for a scrape of blackbox_exporter's /probe.
	pw.w.write(ctx, ts, flatten(fams, base), 1, dur)
}

// ForgetTarget marks every series of a removed target stale, as Prometheus
// does when a target leaves service discovery.
func (e *Engine) ForgetTarget(target string) {
	pw := e.probes.remove(target)
	if pw == nil {
		return
	}
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.w != nil {
		pw.w.markAllStale(context.Background(), time.Now())
	}
}
