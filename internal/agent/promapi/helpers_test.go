package promapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// testSource is a TSDB and a PromQL engine set up as the agent's engine
// sets them up (alerts.Engine.open), in a temporary directory.
type testSource struct {
	db     *tsdb.DB
	engine *promql.Engine
}

// A zero testSource is storage not open yet, as the engine's before its
// first configuration: untyped nils.
func (s *testSource) Queryable() storage.Queryable {
	if s.db == nil {
		return nil
	}
	return s.db
}

func (s *testSource) QueryEngine() promql.QueryEngine {
	if s.engine == nil {
		return nil
	}
	return s.engine
}

// newTestSource: maxSamples 0 is the agent's default limit.
func newTestSource(t testing.TB, maxSamples int) *testSource {
	t.Helper()
	if maxSamples == 0 {
		maxSamples = 50_000_000
	}
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = (24 * time.Hour).Milliseconds()
	// Tests append samples up to an hour old into an empty head.
	opts.OutOfOrderTimeWindow = time.Hour.Milliseconds()
	db, err := tsdb.Open(t.TempDir(), nil, nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &testSource{db: db, engine: promql.NewEngine(promql.EngineOpts{
		Reg:                      prometheus.NewRegistry(),
		MaxSamples:               maxSamples,
		Timeout:                  time.Minute,
		LookbackDelta:            5 * time.Minute,
		NoStepSubqueryIntervalFn: func(int64) int64 { return 15_000 },
	})}
}

type sample struct {
	lset labels.Labels
	t    int64 // ms
	v    float64
}

func (s *testSource) append(t testing.TB, samples ...sample) {
	t.Helper()
	app := s.db.Appender(context.Background())
	for _, smp := range samples {
		if _, err := app.Append(0, smp.lset, smp.t, smp.v); err != nil {
			_ = app.Rollback()
			t.Fatalf("appending %s @%d: %v", smp.lset, smp.t, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// serve starts the API over src on a loopback port and returns its URL.
func serve(t testing.TB, o Options) string {
	t.Helper()
	mux := http.NewServeMux()
	api := New(o)
	api.Register(mux)
	mux.Handle("GET /api/v1/targets", api.TargetsHandler(nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// apiResponse is the envelope as a client decodes it.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
}

// call sends a GET (form == nil: the query is in path) or a POST form, and
// decodes the JSON envelope, failing the test if the body is not one.
func call(t testing.TB, method, u string, form url.Values) (int, apiResponse) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	} else if form != nil {
		u += "?" + form.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, want application/json; body %s", method, u, ct, b)
	}
	var r apiResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s %s: %d, body is not JSON: %v\n%s", method, u, resp.StatusCode, err, b)
	}
	return resp.StatusCode, r
}

func labelsOf(kv ...string) labels.Labels { return labels.FromStrings(kv...) }
