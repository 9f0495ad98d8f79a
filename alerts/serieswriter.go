package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

var staleNaN = math.Float64frombits(value.StaleNaN)

// seriesWriter appends one target's scrapes (or probes) to the TSDB with
// the report series Prometheus writes beside them, and staleness markers
// for the series a scrape no longer has. Calls must not overlap.
type seriesWriter struct {
	db     storage.AppendableV2
	base   labels.Labels // the target's labels: job, instance, ...
	logger *slog.Logger
	// prev holds the series written by the last scrape, to mark those
	// that disappear stale.
	prev map[string]labels.Labels
}

func newSeriesWriter(db storage.AppendableV2, base labels.Labels, logger *slog.Logger) *seriesWriter {
	return &seriesWriter{db: db, base: base, logger: logger, prev: map[string]labels.Labels{}}
}

// sample is one flattened series value of a scrape.
type sample struct {
	ls labels.Labels
	v  float64
}

// reportNames are the series Prometheus writes about every scrape, in the
// order write fills them.
var reportNames = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"}

func (l *seriesWriter) reportLabels(name string) labels.Labels {
	return labels.NewBuilder(l.base).Set(model.MetricNameLabel, name).Labels()
}

// write appends a scrape's samples and report series, and a staleness
// marker for every series of the previous scrape that is now missing.
func (l *seriesWriter) write(ctx context.Context, ts time.Time, samples []sample, up float64, dur time.Duration) {
	t := ts.UnixMilli()
	app := l.db.AppenderV2(ctx)
	seen := make(map[string]labels.Labels, len(samples))
	var appendErrs int
	for _, s := range samples {
		k := string(s.ls.Bytes(nil))
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = s.ls
		if _, err := app.Append(0, s.ls, 0, t, s.v, nil, nil, storage.AOptions{}); err != nil {
			appendErrs++
		}
	}
	for k, ls := range l.prev {
		if _, ok := seen[k]; !ok {
			if _, err := app.Append(0, ls, 0, t, staleNaN, nil, nil, storage.AOptions{}); err != nil {
				appendErrs++
			}
		}
	}
	added := 0
	for k := range seen {
		if _, ok := l.prev[k]; !ok {
			added++
		}
	}
	// No relabeling: every scraped sample is kept.
	values := []float64{up, dur.Seconds(), float64(len(samples)), float64(len(samples)), float64(added)}
	for i, name := range reportNames {
		if _, err := app.Append(0, l.reportLabels(name), 0, t, values[i], nil, nil, storage.AOptions{}); err != nil {
			appendErrs++
		}
	}
	if err := app.Commit(); err != nil {
		l.logger.Warn("writing scrape to storage failed", "err", err)
		return
	}
	if appendErrs > 0 {
		l.logger.Debug("samples rejected by storage", "count", appendErrs)
	}
	l.prev = seen
}

// markAllStale ends every series of the target, the report series included.
func (l *seriesWriter) markAllStale(ctx context.Context, ts time.Time) {
	t := ts.UnixMilli()
	app := l.db.AppenderV2(ctx)
	all := make([]labels.Labels, 0, len(l.prev)+3)
	for _, ls := range l.prev {
		all = append(all, ls)
	}
	for _, n := range reportNames {
		all = append(all, l.reportLabels(n))
	}
	for _, ls := range all {
		_, _ = app.Append(0, ls, 0, t, staleNaN, nil, nil, storage.AOptions{})
	}
	if err := app.Commit(); err != nil {
		l.logger.Warn("writing staleness markers failed", "err", err)
	}
	l.prev = map[string]labels.Labels{}
}

// gatherWithContext bounds an in-process Gather by the scrape timeout: a
// collector stuck on I/O must not stall the self-scrape loop.
func gatherWithContext(ctx context.Context, g prometheus.Gatherer) ([]*dto.MetricFamily, error) {
	type result struct {
		fams []*dto.MetricFamily
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		fams, err := g.Gather()
		ch <- result{fams, err}
	}()
	select {
	case r := <-ch:
		// A partial gather still carries every healthy collector's series.
		if r.err != nil && len(r.fams) == 0 {
			return nil, fmt.Errorf("gathering agent metrics: %w", r.err)
		}
		return r.fams, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("gathering agent metrics: %w", ctx.Err())
	}
}

// flatten turns metric families into samples as Prometheus's text parser
// sees them: histograms as _bucket/_sum/_count, summaries as quantiles plus
// _sum/_count. Exposed labels clashing with a target label are kept as
// exported_<name>, as with honor_labels: false.
func flatten(fams []*dto.MetricFamily, base labels.Labels) []sample {
	var out []sample
	b := labels.NewScratchBuilder(8)
	mk := func(name string, m *dto.Metric, extraName, extraValue string) labels.Labels {
		b.Reset()
		base.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
		b.Add(model.MetricNameLabel, name)
		for _, lp := range m.GetLabel() {
			n := lp.GetName()
			// As Prometheus: prefix until the name is free, so an exposed
			// exported_job beside an exposed job cannot collide either.
			for base.Has(n) || (n != lp.GetName() && hasLabel(m, n)) {
				n = "exported_" + n
			}
			b.Add(n, lp.GetValue())
		}
		if extraName != "" {
			b.Add(extraName, extraValue)
		}
		b.Sort()
		return b.Labels()
	}
	for _, mf := range fams {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, sample{mk(name, m, "", ""), m.GetCounter().GetValue()})
			case dto.MetricType_GAUGE:
				out = append(out, sample{mk(name, m, "", ""), m.GetGauge().GetValue()})
			case dto.MetricType_UNTYPED:
				out = append(out, sample{mk(name, m, "", ""), m.GetUntyped().GetValue()})
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					out = append(out, sample{mk(name, m, "quantile", formatFloat(q.GetQuantile())), q.GetValue()})
				}
				out = append(out,
					sample{mk(name+"_sum", m, "", ""), s.GetSampleSum()},
					sample{mk(name+"_count", m, "", ""), float64(s.GetSampleCount())})
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				count := float64(h.GetSampleCount())
				if h.SampleCountFloat != nil {
					count = h.GetSampleCountFloat()
				}
				sawInf := false
				for _, bk := range h.GetBucket() {
					c := float64(bk.GetCumulativeCount())
					if bk.CumulativeCountFloat != nil {
						c = bk.GetCumulativeCountFloat()
					}
					sawInf = sawInf || math.IsInf(bk.GetUpperBound(), 1)
					out = append(out, sample{mk(name+"_bucket", m, "le", formatFloat(bk.GetUpperBound())), c})
				}
				if !sawInf {
					out = append(out, sample{mk(name+"_bucket", m, "le", "+Inf"), count})
				}
				out = append(out,
					sample{mk(name+"_sum", m, "", ""), h.GetSampleSum()},
					sample{mk(name+"_count", m, "", ""), count})
			}
		}
	}
	return out
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func hasLabel(m *dto.Metric, name string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return true
		}
	}
	return false
}
