package promapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// rangeParams are the limit, start, end and match[] parameters that the
// series and label endpoints share.
type rangeParams struct {
	limit      int
	mint, maxt int64
	matchers   [][]*labels.Matcher
}

func (a *API) rangeParams(r *http.Request) (rangeParams, *apiError) {
	var p rangeParams
	var err error
	if p.limit, err = parseLimit(r.FormValue("limit")); err != nil {
		return p, invalidParam(err, "limit")
	}
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		return p, invalidParam(err, "start")
	}
	end, err := parseTimeParam(r, "end", maxTime)
	if err != nil {
		return p, invalidParam(err, "end")
	}
	p.mint, p.maxt = timestamp.FromTime(start), timestamp.FromTime(end)
	if p.matchers, err = a.parseMatchers(r.Form["match[]"]); err != nil {
		return p, invalidParam(err, "match[]")
	}
	return p, nil
}

func (a *API) series(r *http.Request) result {
	if len(r.Form["match[]"]) == 0 {
		return result{err: &apiError{errorBadData, errors.New("no match[] parameter provided")}}
	}
	p, apiErr := a.rangeParams(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	qa, _, apiErr := a.source()
	if apiErr != nil {
		return result{err: apiErr}
	}
	ctx := r.Context()
	q, err := qa.Querier(p.mint, p.maxt)
	if err != nil {
		return result{err: queryError(err)}
	}
	hints := &storage.SelectHints{Start: p.mint, End: p.maxt, Func: "series", Limit: hintLimit(p.limit)}
	var set storage.SeriesSet
	if len(p.matchers) > 1 {
		sets := make([]storage.SeriesSet, 0, len(p.matchers))
		for _, ms := range p.matchers {
			sets = append(sets, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	} else {
		set = q.Select(ctx, false, hints, p.matchers[0]...)
	}
	metrics := []labels.Labels{}
	var warnings annotations.Annotations
	for set.Next() {
		if len(metrics)%128 == 0 {
			if err := ctx.Err(); err != nil {
				return result{err: queryError(err), finalizer: closer(q)}
			}
		}
		metrics = append(metrics, set.At().Labels())
		if p.limit > 0 && len(metrics) > p.limit {
			metrics = metrics[:p.limit]
			warnings = warnings.Add(errors.New("results truncated due to limit"))
			break
		}
	}
	warnings.Merge(set.Warnings())
	if err := set.Err(); err != nil {
		return result{err: queryError(err), finalizer: closer(q)}
	}
	return result{data: metrics, warnings: warnings, finalizer: closer(q)}
}

func closer(q storage.Querier) func() { return func() { _ = q.Close() } }

func (a *API) labelNames(r *http.Request) result {
	p, apiErr := a.rangeParams(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	return a.labels(r, p, func(q storage.Querier, ms []*labels.Matcher, h *storage.LabelHints) ([]string, annotations.Annotations, error) {
		return q.LabelNames(r.Context(), h, ms...)
	})
}

func (a *API) labelValues(r *http.Request) result {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return result{err: &apiError{errorBadData, fmt.Errorf("invalid label name: %q", name)}}
	}
	p, apiErr := a.rangeParams(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	return a.labels(r, p, func(q storage.Querier, ms []*labels.Matcher, h *storage.LabelHints) ([]string, annotations.Annotations, error) {
		return q.LabelValues(r.Context(), name, h, ms...)
	})
}

// labels runs list once per match[] set (once without) and answers the
// sorted union.
func (a *API) labels(r *http.Request, p rangeParams, list func(storage.Querier, []*labels.Matcher, *storage.LabelHints) ([]string, annotations.Annotations, error)) result {
	qa, _, apiErr := a.source()
	if apiErr != nil {
		return result{err: apiErr}
	}
	q, err := qa.Querier(p.mint, p.maxt)
	if err != nil {
		return result{err: queryError(err)}
	}
	hints := &storage.LabelHints{Limit: hintLimit(p.limit)}
	sets := p.matchers
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]struct{}{}
	var warnings annotations.Annotations
	for _, ms := range sets {
		vals, w, err := list(q, ms, hints)
		if err != nil {
			return result{err: &apiError{errorExec, err}, finalizer: closer(q)}
		}
		warnings.Merge(w)
		for _, v := range vals {
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	if p.limit > 0 && len(out) > p.limit {
		out = out[:p.limit]
		warnings = warnings.Add(errors.New("results truncated due to limit"))
	}
	return result{data: out, warnings: warnings, finalizer: closer(q)}
}
