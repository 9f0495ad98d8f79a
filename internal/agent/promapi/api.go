// Package promapi serves Prometheus's HTTP query API (/api/v1/query,
// query_range, series, labels, label values, metadata, targets,
// status/buildinfo, and query_exemplars and format_query for Grafana) over the agent's local TSDB with the upstream PromQL
// engine, with Prometheus's JSON shapes, parameters and error codes, so a
// Grafana Prometheus data source, promtool and scripts written for
// Prometheus work against an agent. It also serves /graph, the page
// alerts' generatorURL links to.
//
// Upstream's web/api/v1 would give the same answers, but linking it adds
// about 22 MB to the agent (the OTLP and remote-write receivers, the OpenAPI
// builder, the admin endpoints); the handlers here mirror its behaviour for
// the read-only query endpoints only.
package promapi

import (
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Source is what the API queries: the alerting engine's TSDB and PromQL
// engine. Both are nil until the storage is open (the first configuration
// opens it), and the API answers 503 meanwhile.
type Source interface {
	Queryable() storage.Queryable
	QueryEngine() promql.QueryEngine
}

// TargetRetriever lists scrape targets by scrape pool, as upstream's
// *scrape.Manager does.
type TargetRetriever interface {
	TargetsActive() map[string][]*scrape.Target
	TargetsDropped() map[string][]*scrape.Target
}

// BuildInfo is /api/v1/status/buildinfo's data, in Prometheus's shape.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// DefaultTimeout bounds a query whose request sets no shorter timeout, as
// Prometheus's --query.timeout does.
const DefaultTimeout = 2 * time.Minute

// Options configure an API.
type Options struct {
	Source Source
	// Targets returns the scrape targets, or nil while no scrape manager
	// runs (then /api/v1/targets lists none). It is called per request
	// because the manager starts and stops with the configuration.
	Targets func() TargetRetriever
	// Metadata is gathered for /api/v1/metadata, beside the scrape
	// targets' metadata: the agent's own and its probes' families.
	Metadata prometheus.Gatherer
	// Timeout caps every query; a request's timeout parameter may only
	// shorten it (default DefaultTimeout).
	Timeout time.Duration
	// Parser parses match[] selectors and /graph expressions (default:
	// upstream's default options, as the engine's).
	Parser    parser.Parser
	BuildInfo BuildInfo
	Logger    *slog.Logger
	// Now is the default evaluation time (default time.Now); for tests.
	Now func() time.Time
}

// API serves the endpoints; it holds no state of its own.
type API struct {
	o Options
}

// New returns an API over o.Source.
func New(o Options) *API {
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	if o.Parser == nil {
		o.Parser = parser.NewParser(parser.Options{})
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &API{o: o}
}

// Register mounts the endpoints on mux. The targets endpoint is separate
// (see TargetsHandler) because the agent adds its probe targets to it.
func (a *API) Register(mux *http.ServeMux) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		mux.Handle(m+" /api/v1/query", a.wrap(a.query))
		mux.Handle(m+" /api/v1/query_range", a.wrap(a.queryRange))
		mux.Handle(m+" /api/v1/series", a.wrap(a.series))
		mux.Handle(m+" /api/v1/labels", a.wrap(a.labelNames))
		mux.Handle(m+" /api/v1/query_exemplars", a.wrap(a.queryExemplars))
		mux.Handle(m+" /api/v1/format_query", a.wrap(a.formatQuery))
	}
	mux.Handle("GET /api/v1/label/{name}/values", a.wrap(a.labelValues))
	mux.Handle("GET /api/v1/metadata", a.wrap(a.metadata))
	mux.Handle("GET /api/v1/status/buildinfo", a.wrap(func(*http.Request) result { return result{data: a.o.BuildInfo} }))
	mux.HandleFunc("GET /graph", a.serveGraph)
}

// Error types and their status codes, as Prometheus's API answers them.
type errorType string

const (
	errorTimeout     errorType = "timeout"
	errorCanceled    errorType = "canceled"
	errorExec        errorType = "execution"
	errorBadData     errorType = "bad_data"
	errorInternal    errorType = "internal"
	errorUnavailable errorType = "unavailable"
)

func (t errorType) status() int {
	switch t {
	case errorBadData:
		return http.StatusBadRequest
	case errorExec:
		return http.StatusUnprocessableEntity
	case errorCanceled:
		return 499 // nginx's "client closed request", as Prometheus answers
	case errorTimeout, errorUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

type apiError struct {
	typ errorType
	err error
}

func (e *apiError) Error() string { return string(e.typ) + ": " + e.err.Error() }

// errNotReady is answered until the storage is open.
var errNotReady = &apiError{errorUnavailable, errors.New("the agent's storage is not open yet: no configuration applied")}

func invalidParam(err error, name string) *apiError {
	return &apiError{errorBadData, fmt.Errorf("invalid parameter %q: %w", name, err)}
}

// queryError maps an engine or storage error to its API error, as
// Prometheus's returnAPIError does.
func queryError(err error) *apiError {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		stor     promql.ErrStorage
	)
	switch {
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return &apiError{errorCanceled, err}
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiError{errorTimeout, err}
	case errors.As(err, &stor):
		return &apiError{errorInternal, err}
	}
	return &apiError{errorExec, err}
}

// response is Prometheus's API envelope.
type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

type result struct {
	data     any
	err      *apiError
	warnings annotations.Annotations
	query    string // for the warnings' positions
	// finalizer runs after the response is written: query results point
	// into memory the query owns until it is closed.
	finalizer func()
}

func (a *API) wrap(f func(*http.Request) result) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Parse the form first, so a malformed body is a 400, not an
		// empty parameter.
		if err := r.ParseForm(); err != nil {
			a.respondError(w, &apiError{errorBadData, fmt.Errorf("error parsing form values: %w", err)})
			return
		}
		// A panic in the engine must not take the connection down
		// without an answer; it is logged as the bug it is.
		defer func() {
			if p := recover(); p != nil {
				a.o.Logger.Error("panic serving the query API", "path", r.URL.Path, "query", r.Form.Get("query"), "panic", p)
				a.respondError(w, &apiError{errorInternal, fmt.Errorf("internal error: %v", p)})
			}
		}()
		res := f(r)
		if res.finalizer != nil {
			defer res.finalizer()
		}
		if res.err != nil {
			a.respondError(w, res.err)
			return
		}
		warn, info := res.warnings.AsStrings(res.query, 10, 10)
		b, err := json.Marshal(&response{Status: "success", Data: res.data, Warnings: warn, Infos: info})
		if err != nil {
			a.o.Logger.Error("encoding an API response", "path", r.URL.Path, "err", err)
			a.respondError(w, &apiError{errorInternal, fmt.Errorf("encoding the response: %w", err)})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		writeMaybeGzipped(w, r, b)
	})
}

// writeMaybeGzipped compresses a large answer for clients that accept it,
// as Prometheus does: a dashboard's range queries shrink about tenfold.
func writeMaybeGzipped(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Add("Vary", "Accept-Encoding")
	if len(b) < 1024 || !acceptsGzip(r) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	w.WriteHeader(http.StatusOK)
	gz := gzip.NewWriter(w)
	_, _ = gz.Write(b)
	_ = gz.Close()
}

func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(enc), ";")
			if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
				return true
			}
		}
	}
	return false
}

func (a *API) respondError(w http.ResponseWriter, e *apiError) {
	b, err := json.Marshal(&response{Status: "error", ErrorType: string(e.typ), Error: e.err.Error()})
	if err != nil { // only strings: cannot happen
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.typ.status())
	_, _ = w.Write(b)
}

// source returns the storage and engine, or errNotReady.
func (a *API) source() (storage.Queryable, promql.QueryEngine, *apiError) {
	if a.o.Source == nil {
		return nil, nil, errNotReady
	}
	q, e := a.o.Source.Queryable(), a.o.Source.QueryEngine()
	if q == nil || e == nil {
		return nil, nil, errNotReady
	}
	return q, e, nil
}
