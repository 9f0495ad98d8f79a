package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// ProbeWriter receives every finished probe, so its series reach the local
// TSDB at the probe's own timestamp with the target's identity, without
// waiting for a scrape (package alerts implements it).
type ProbeWriter interface {
	// WriteProbe appends one probe of the named target; identity is its
	// job, instance and extra labels. Calls for one target never overlap.
	WriteProbe(ctx context.Context, target string, identity map[string]string, ts time.Time, dur time.Duration, fams []*dto.MetricFamily)
	// ForgetTarget ends a removed target's series with staleness markers.
	ForgetTarget(target string)
}

// withIdentity copies families with the identity labels added to every
// series. An exposed label clashing with an identity label is kept as
// exported_<name>, as Prometheus does with honor_labels: false, so the
// series keep their identity however they are scraped.
func withIdentity(fams []*dto.MetricFamily, identity map[string]string) []*dto.MetricFamily {
	if len(identity) == 0 {
		return fams
	}
	id := make([]*dto.LabelPair, 0, len(identity))
	for _, k := range sortedKeys(identity) {
		id = append(id, &dto.LabelPair{Name: proto.String(k), Value: proto.String(identity[k])})
	}
	out := make([]*dto.MetricFamily, len(fams))
	for i, mf := range fams {
		c := &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit, Metric: make([]*dto.Metric, len(mf.Metric))}
		for j, m := range mf.Metric {
			cm := &dto.Metric{Gauge: m.Gauge, Counter: m.Counter, Untyped: m.Untyped, Summary: m.Summary, Histogram: m.Histogram, TimestampMs: m.TimestampMs}
			cm.Label = append(make([]*dto.LabelPair, 0, len(id)+len(m.Label)), id...)
			for _, lp := range m.Label {
				name := lp.GetName()
				for identity[name] != "" || hasPair(m.Label, name, lp) {
					name = "exported_" + name
				}
				if name != lp.GetName() {
					lp = &dto.LabelPair{Name: proto.String(name), Value: lp.Value}
				}
				cm.Label = append(cm.Label, lp)
			}
			slices.SortFunc(cm.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
			c.Metric[j] = cm
		}
		out[i] = c
	}
	return out
}

// hasPair reports whether another label than self is named name: a
// renamed label must not take an exposed one's name.
func hasPair(pairs []*dto.LabelPair, name string, self *dto.LabelPair) bool {
	if name == self.GetName() {
		return false
	}
	for _, lp := range pairs {
		if lp != self && lp.GetName() == name {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// targetSeries gathers every target's latest result with its identity, for
// /metrics: scraped with honor_labels: true, each target's series keep the
// job and instance of the exporter it replaces. It only copies what the
// probe loops stored, so a scrape never waits on a target.
type targetSeries struct{ a *Agent }

func (g targetSeries) Gather() ([]*dto.MetricFamily, error) {
	byName := map[string]*dto.MetricFamily{}
	var names []string
	for _, r := range g.a.snapshot() {
		r.mu.RLock()
		fams := r.labelled
		r.mu.RUnlock()
		// The stored families are shared by concurrent scrapes: merge into
		// new ones, never into them.
		for _, mf := range fams {
			have, ok := byName[mf.GetName()]
			if !ok {
				have = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
				byName[mf.GetName()] = have
				names = append(names, mf.GetName())
			}
			have.Metric = append(have.Metric, mf.Metric...)
		}
	}
	sort.Strings(names)
	out := make([]*dto.MetricFamily, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out, nil
}

// lookup finds the runner /probe?target= names: by target name first, then
// by instance, so blackbox_exporter's relabelling (the endpoint as
// __param_target, then as instance) works unchanged.
func (a *Agent) lookup(target string) (*runner, error) {
	var byInstance []*runner
	for _, r := range a.snapshot() {
		if r.target.Name == target {
			return r, nil
		}
		if r.target.Instance == target {
			byInstance = append(byInstance, r)
		}
	}
	switch len(byInstance) {
	case 0:
		return nil, fmt.Errorf("%w: no target named %q and none with that instance", errUnknownTarget, target)
	case 1:
		return byInstance[0], nil
	}
	names := make([]string, len(byInstance))
	for i, r := range byInstance {
		names[i] = fmt.Sprintf("%q (job %q)", r.target.Name, r.target.Job)
	}
	return nil, fmt.Errorf("instance %q is probed by targets %s: name one of them", target, strings.Join(names, ", "))
}

var errUnknownTarget = errors.New("unknown target")

// serveProbe is /probe?target=NAME: one target's latest stored result,
// without job, instance or extra labels, for the multi-target pattern blackbox_exporter
// and redis_exporter users run (Prometheus sets instance and job by
// relabelling). It never probes on request.
func (a *Agent) serveProbe(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("target")
	if name == "" {
		writeJSONError(w, http.StatusBadRequest, errors.New(`target parameter is missing: /probe?target=<target name or instance>`))
		return
	}
	run, err := a.lookup(name)
	switch {
	case errors.Is(err, errUnknownTarget):
		writeJSONError(w, http.StatusNotFound, err)
		return
	case err != nil:
		writeJSONError(w, http.StatusBadRequest, err)
		return
	}
	// No identity at all, extra labels included: in the multi-target
	// pattern the scrape config's relabelling sets every target label, and
	// a label served here would be stored as exported_<name> beside it.
	run.mu.RLock()
	fams := run.last.Families
	run.mu.RUnlock()
	promhttp.HandlerFor(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, nil }), promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}).ServeHTTP(w, r)
}
