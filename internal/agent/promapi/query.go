package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/stats"
)

// queryData is the data of /api/v1/query and /api/v1/query_range.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     parser.Value     `json:"result"`
	Stats      stats.QueryStats `json:"stats,omitempty"`
}

// maxPoints bounds a range query's points per series, as Prometheus does.
const maxPoints = 11000

func (a *API) query(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return result{err: invalidParam(err, "limit")}
	}
	ts, err := parseTimeParam(r, "time", a.o.Now())
	if err != nil {
		return result{err: invalidParam(err, "time")}
	}
	return a.run(r, limit, func(ctx context.Context, e promql.QueryEngine, q storage.Queryable, opts promql.QueryOpts, qs string) (promql.Query, error) {
		return e.NewInstantQuery(ctx, q, opts, qs, ts)
	})
}

func (a *API) queryRange(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return result{err: invalidParam(err, "limit")}
	}
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		return result{err: invalidParam(err, "start")}
	}
	end, err := parseTime(r.FormValue("end"))
	if err != nil {
		return result{err: invalidParam(err, "end")}
	}
	if end.Before(start) {
		return result{err: invalidParam(errors.New("end timestamp must not be before start time"), "end")}
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return result{err: invalidParam(err, "step")}
	}
	if step <= 0 {
		return result{err: invalidParam(errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"), "step")}
	}
	if end.Sub(start)/step > maxPoints {
		return result{err: &apiError{errorBadData, errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")}}
	}
	return a.run(r, limit, func(ctx context.Context, e promql.QueryEngine, q storage.Queryable, opts promql.QueryOpts, qs string) (promql.Query, error) {
		return e.NewRangeQuery(ctx, q, opts, qs, start, end, step)
	})
}

// run builds a query with build, executes it within the request's timeout
// and the server's, and returns its result with the query to close once
// the response is written.
func (a *API) run(r *http.Request, limit int, build func(context.Context, promql.QueryEngine, storage.Queryable, promql.QueryOpts, string) (promql.Query, error)) result {
	timeout := a.o.Timeout
	if v := r.FormValue("timeout"); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return result{err: invalidParam(err, "timeout")}
		}
		if d <= 0 {
			return result{err: invalidParam(fmt.Errorf("timeout must be positive, got %s", d), "timeout")}
		}
		timeout = min(timeout, d)
	}
	var lookback time.Duration
	if v := r.FormValue("lookback_delta"); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return result{err: &apiError{errorBadData, fmt.Errorf("error parsing lookback delta duration: %w", err)}}
		}
		lookback = d
	}
	q, engine, apiErr := a.source()
	if apiErr != nil {
		return result{err: apiErr}
	}
	qs := r.FormValue("query")
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	opts := promql.NewPrometheusQueryOpts(r.FormValue("stats") == "all", lookback, nil)
	qry, err := build(ctx, engine, q, opts, qs)
	if err != nil {
		cancel()
		return result{err: constructionError(err)}
	}
	done := func() { qry.Close(); cancel() }
	res := qry.Exec(ctx)
	if res.Err != nil {
		return result{err: queryError(res.Err), finalizer: done}
	}
	warnings := res.Warnings
	if limit > 0 {
		switch v := res.Value.(type) {
		case promql.Matrix:
			if len(v) > limit {
				res.Value = v[:limit]
				warnings = warnings.Add(errors.New("results truncated due to limit"))
			}
		case promql.Vector:
			if len(v) > limit {
				res.Value = v[:limit]
				warnings = warnings.Add(errors.New("results truncated due to limit"))
			}
		}
	}
	var qstats stats.QueryStats
	if r.FormValue("stats") != "" {
		qstats = stats.NewQueryStats(qry.Stats())
	}
	return result{
		data:      queryData{ResultType: res.Value.Type(), Result: res.Value, Stats: qstats},
		warnings:  warnings,
		query:     qs,
		finalizer: done,
	}
}

// constructionError maps an error building a query: a parse error is bad
// data naming the parameter; running out of time waiting for a query slot
// is a timeout.
func constructionError(err error) *apiError {
	var (
		timeout  promql.ErrQueryTimeout
		canceled promql.ErrQueryCanceled
	)
	if errors.As(err, &timeout) || errors.As(err, &canceled) {
		return queryError(err)
	}
	return invalidParam(err, "query")
}

// queryExemplars answers from the TSDB's exemplar storage: the agent keeps
// none, so the answer is empty, as Prometheus's without exemplar storage.
// Grafana asks for exemplars beside range queries when a panel enables them.
func (a *API) queryExemplars(r *http.Request) result {
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		return result{err: invalidParam(err, "start")}
	}
	end, err := parseTimeParam(r, "end", maxTime)
	if err != nil {
		return result{err: invalidParam(err, "end")}
	}
	if end.Before(start) {
		return result{err: &apiError{errorBadData, errors.New("end timestamp must not be before start timestamp")}}
	}
	expr, err := a.o.Parser.ParseExpr(r.FormValue("query"))
	if err != nil {
		return result{err: invalidParam(err, "query")}
	}
	out := []exemplar.QueryResult{}
	selectors := parser.ExtractSelectors(expr)
	q, _, apiErr := a.source()
	if apiErr != nil {
		return result{err: apiErr}
	}
	eq, ok := q.(storage.ExemplarQueryable)
	if !ok || len(selectors) == 0 {
		return result{data: out}
	}
	eqr, err := eq.ExemplarQuerier(r.Context())
	if err != nil {
		return result{err: queryError(err)}
	}
	res, err := eqr.Select(timestamp.FromTime(start), timestamp.FromTime(end), selectors...)
	if err != nil {
		return result{err: queryError(err)}
	}
	return result{data: append(out, res...)}
}

// formatQuery pretty-prints an expression, for Grafana's query editor.
func (a *API) formatQuery(r *http.Request) result {
	expr, err := a.o.Parser.ParseExpr(r.FormValue("query"))
	if err != nil {
		return result{err: invalidParam(err, "query")}
	}
	return result{data: expr.Pretty(0)}
}
