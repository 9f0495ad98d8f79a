package promapi

import (
	"context"
	_ "embed"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// /graph is where alerts' generatorURL points (the rules package links
// <external_url>/graph?g0.expr=<expr>&g0.tab=1, Prometheus's table view). The
// page evaluates the expression as /api/v1/query would, now, on the server
// and shows the result as a table: no JavaScript, and html/template escapes
// every expression, label and value.

//go:embed graph.html
var graphHTML string

var graphTemplate = template.Must(template.New("graph").Parse(graphHTML))

type graphRow struct {
	Metric string
	Value  string
}

type graphPage struct {
	Expr   string
	Time   string
	Error  string
	Type   string
	Rows   []graphRow
	Series int
}

// maxGraphRows bounds the table so a broad expression cannot make a huge page.
const maxGraphRows = 1000

func (a *API) serveGraph(w http.ResponseWriter, r *http.Request) {
	page := graphPage{Expr: r.FormValue("g0.expr")}
	if page.Expr != "" {
		ctx, cancel := context.WithTimeout(r.Context(), a.o.Timeout)
		defer cancel()
		a.evalGraph(ctx, &page)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	if err := graphTemplate.Execute(w, page); err != nil {
		a.o.Logger.Warn("rendering /graph", "err", err)
	}
}

func (a *API) evalGraph(ctx context.Context, page *graphPage) {
	now := a.o.Now()
	page.Time = now.UTC().Format(time.RFC3339)
	q, engine, apiErr := a.source()
	if apiErr != nil {
		page.Error = apiErr.Error()
		return
	}
	qry, err := engine.NewInstantQuery(ctx, q, nil, page.Expr, now)
	if err != nil {
		page.Error = constructionError(err).Error()
		return
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		page.Error = queryError(res.Err).Error()
		return
	}
	page.Type = string(res.Value.Type())
	format := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	switch v := res.Value.(type) {
	case promql.Vector:
		page.Series = len(v)
		for _, s := range v[:min(len(v), maxGraphRows)] {
			val := format(s.F)
			if s.H != nil {
				val = s.H.String()
			}
			page.Rows = append(page.Rows, graphRow{Metric: s.Metric.String(), Value: val})
		}
	case promql.Scalar:
		page.Rows = []graphRow{{Metric: "scalar", Value: format(v.V)}}
	case promql.String:
		page.Rows = []graphRow{{Metric: "string", Value: v.V}}
	case promql.Matrix: // a range selector
		page.Series = len(v)
		for _, s := range v[:min(len(v), maxGraphRows)] {
			val := ""
			for _, p := range s.Floats {
				val += format(p.F) + " @" + strconv.FormatFloat(float64(p.T)/1000, 'f', -1, 64) + "\n"
			}
			page.Rows = append(page.Rows, graphRow{Metric: s.Metric.String(), Value: val})
		}
	default:
		page.Error = "unexpected result type " + string(res.Value.Type())
	}
}
