package promapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
)

// metadata answers /api/v1/metadata from what the agent knows: the
// families of its own registry and probes (Options.Metadata) and what its
// scrape targets exposed. A metric the agent never saw is absent, as in
// Prometheus.
func (a *API) metadata(r *http.Request) result {
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil {
			return result{err: &apiError{errorBadData, errors.New("limit must be a number")}}
		}
	}
	perMetric := -1
	if s := r.FormValue("limit_per_metric"); s != "" {
		var err error
		if perMetric, err = strconv.Atoi(s); err != nil {
			return result{err: &apiError{errorBadData, errors.New("limit_per_metric must be a number")}}
		}
	}
	metric := r.FormValue("metric")

	sets := map[string]map[metadata.Metadata]struct{}{}
	add := func(name string, md metadata.Metadata) {
		if metric != "" && name != metric {
			return
		}
		s, ok := sets[name]
		if perMetric > 0 && len(s) >= perMetric {
			return
		}
		if !ok {
			s = map[metadata.Metadata]struct{}{}
			sets[name] = s
		}
		s[md] = struct{}{}
	}
	if g := a.o.Metadata; g != nil {
		// A failing collector still leaves the others' families.
		fams, _ := g.Gather()
		for _, mf := range fams {
			add(mf.GetName(), metadata.Metadata{Type: metricType(mf.GetType()), Help: mf.GetHelp(), Unit: mf.GetUnit()})
		}
	}
	if t := a.targets(); t != nil {
		for _, pool := range t.TargetsActive() {
			for _, tg := range pool {
				for _, md := range tg.ListMetadata() {
					add(md.MetricFamily, metadata.Metadata{Type: md.Type, Help: md.Help, Unit: md.Unit})
				}
			}
		}
	}

	// Deterministic output (Prometheus's is in map order): by name, then
	// by type, help and unit.
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	slices.Sort(names)
	out := map[string][]metadata.Metadata{}
	for _, n := range names {
		if limit >= 0 && len(out) >= limit {
			break
		}
		mds := make([]metadata.Metadata, 0, len(sets[n]))
		for md := range sets[n] {
			mds = append(mds, md)
		}
		slices.SortFunc(mds, func(x, y metadata.Metadata) int {
			return strings.Compare(string(x.Type)+"\x00"+x.Help+"\x00"+x.Unit, string(y.Type)+"\x00"+y.Help+"\x00"+y.Unit)
		})
		out[n] = mds
	}
	return result{data: out}
}

// metricType is the exposition type's name in metadata, as Prometheus's
// scrape reports it.
func metricType(t dto.MetricType) model.MetricType {
	switch t {
	case dto.MetricType_COUNTER:
		return model.MetricTypeCounter
	case dto.MetricType_GAUGE:
		return model.MetricTypeGauge
	case dto.MetricType_HISTOGRAM:
		return model.MetricTypeHistogram
	case dto.MetricType_GAUGE_HISTOGRAM:
		return model.MetricTypeGaugeHistogram
	case dto.MetricType_SUMMARY:
		return model.MetricTypeSummary
	default:
		return model.MetricTypeUnknown
	}
}

// targets is the scrape targets' retriever, nil without a scrape manager.
func (a *API) targets() TargetRetriever {
	if a.o.Targets == nil {
		return nil
	}
	return a.o.Targets()
}
