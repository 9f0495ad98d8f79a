package httpmetrics

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/vigil-sh/vigil/internal/buildinfo"
	"github.com/vigil-sh/vigil/internal/testserver"
	"github.com/vigil-sh/vigil/internal/thresholds"
)

func TestRegistryLintsClean(t *testing.T) {
	m := New(time.Second)
	// Populate every vector so the linter sees each family with samples.
	m.Middleware(func(*http.Request) string { return "/api/projects/{id}" },
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/projects/1", nil))
	m.MongoCommandDuration.WithLabelValues("find").Observe(0.01)
	m.MongoCommandFailures.WithLabelValues("find").Inc()
	m.MongoSlowOperations.WithLabelValues("find").Inc()
	m.DependencyUp.WithLabelValues(DependencyMongoDB).Set(1)
	m.CacheHits.Inc()
	m.CacheMisses.Inc()

	problems, err := testutil.CollectAndLint(m.Registry)
	if err != nil {
		t.Fatalf("CollectAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

// TestContractNames checks that the registry exposes exactly the app names
// of docs/metrics.md, with their labels.
func TestContractNames(t *testing.T) {
	m := New(time.Second)
	m.Middleware(func(*http.Request) string { return "/x" }, http.NotFoundHandler()).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	m.MongoCommandDuration.WithLabelValues("find").Observe(0.01)
	m.MongoCommandFailures.WithLabelValues("find").Inc()
	m.MongoSlowOperations.WithLabelValues("find").Inc()
	m.DependencyUp.WithLabelValues(DependencyRedis).Set(0)

	want := map[string][]string{
		"http_requests_total":                  {"method", "route", "status"},
		"http_request_duration_seconds":        {"method", "route"},
		"http_requests_in_flight":              nil,
		"app_mongodb_command_duration_seconds": {"command"},
		"app_mongodb_command_failures_total":   {"command"},
		"app_mongodb_slow_operations_total":    {"command"},
		"app_mongodb_pool_connections":         {"state"},
		"app_mongodb_pool_max_connections":     nil,
		"app_cache_hits_total":                 nil,
		"app_cache_misses_total":               nil,
		"app_rate_limited_requests_total":      {"scope"},
		"app_dependency_up":                    {"dependency"},
		"app_build_info":                       {"version", "revision", "goversion"},
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range families {
		got[f.GetName()] = f
	}
	for name, labels := range want {
		f, ok := got[name]
		if !ok {
			t.Errorf("%s not exposed", name)
			continue
		}
		var have []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			have = append(have, l.GetName())
		}
		if strings.Join(sorted(have), ",") != strings.Join(sorted(labels), ",") {
			t.Errorf("%s labels = %v, want %v", name, have, labels)
		}
	}
	for _, std := range []string{"process_cpu_seconds_total", "go_goroutines"} {
		if _, ok := got[std]; !ok {
			t.Errorf("standard collector metric %s not exposed", std)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestBuildInfo(t *testing.T) {
	m := New(0)
	want := `
# HELP app_build_info A metric with a constant '1' value labeled by the app's version, revision and Go version.
# TYPE app_build_info gauge
app_build_info{goversion="` + buildinfo.GoVersion() + `",revision="` + buildinfo.Revision + `",version="` + buildinfo.Version + `"} 1
`
	if err := testutil.CollectAndCompare(m.BuildInfo, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestMiddlewareLabels(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		route      string
		handler    http.HandlerFunc
		wantMethod string
		wantStatus string
	}{
		{"explicit status", http.MethodPost, "/api/projects", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusCreated)
		}, "POST", "201"},
		{"implicit 200 on write", http.MethodGet, "/api/projects/{id}", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("{}"))
		}, "GET", "200"},
		{"no write at all", http.MethodDelete, "/api/projects/{id}", func(http.ResponseWriter, *http.Request) {}, "DELETE", "200"},
		{"unknown method", "PROPFIND", "unmatched", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}, "other", "405"},
		{"lower-case method is not GET", "get", "unmatched", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
		}, "other", "404"},
		{"early hints then final status", http.MethodGet, "/api/health", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusServiceUnavailable)
		}, "GET", "503"},
		{"first status wins", http.MethodPatch, "/api/projects/{id}", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusConflict)
			w.WriteHeader(http.StatusOK) // superfluous, ignored by net/http too
		}, "PATCH", "409"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(0)
			var routeCalls int
			h := m.Middleware(func(*http.Request) string { routeCalls++; return tt.route }, tt.handler)
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+"/some/path/42", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			if routeCalls != 1 {
				t.Errorf("route func called %d times, want 1", routeCalls)
			}
			if got := testutil.ToFloat64(m.RequestsTotal.WithLabelValues(tt.wantMethod, tt.route, tt.wantStatus)); got != 1 {
				t.Errorf("http_requests_total{method=%q,route=%q,status=%q} = %v, want 1", tt.wantMethod, tt.route, tt.wantStatus, got)
			}
			if n := testutil.CollectAndCount(m.RequestsTotal); n != 1 {
				t.Errorf("http_requests_total has %d series, want 1", n)
			}
			if n := histogramCount(t, m.RequestDuration.WithLabelValues(tt.wantMethod, tt.route)); n != 1 {
				t.Errorf("duration count = %d, want 1", n)
			}
			if got := testutil.ToFloat64(m.InFlight); got != 0 {
				t.Errorf("in flight after request = %v, want 0", got)
			}
		})
	}
}

func histogramCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	var pb dto.Metric
	if err := o.(prometheus.Metric).Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount()
}

func TestMiddlewareRouteFromServeMuxPattern(t *testing.T) {
	m := New(0)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/projects/{id}", func(w http.ResponseWriter, _ *http.Request) {})
	route := func(r *http.Request) string {
		if r.Pattern == "" {
			return "unmatched"
		}
		_, path, _ := strings.Cut(r.Pattern, " ")
		return path
	}
	h := m.Middleware(route, mux)
	for _, p := range []string{"/api/projects/1", "/api/projects/2", "/nope"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	if got := testutil.ToFloat64(m.RequestsTotal.WithLabelValues("GET", "/api/projects/{id}", "200")); got != 2 {
		t.Errorf("templated route count = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.RequestsTotal.WithLabelValues("GET", "unmatched", "404")); got != 1 {
		t.Errorf("unmatched count = %v, want 1", got)
	}
}

func TestMiddlewareInFlight(t *testing.T) {
	m := New(0)
	entered, release := make(chan struct{}), make(chan struct{})
	h := m.Middleware(func(*http.Request) string { return "/slow" }, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil))
		close(done)
	}()
	<-entered
	if got := testutil.ToFloat64(m.InFlight); got != 1 {
		t.Errorf("in flight during request = %v, want 1", got)
	}
	close(release)
	<-done
	if got := testutil.ToFloat64(m.InFlight); got != 0 {
		t.Errorf("in flight after request = %v, want 0", got)
	}
}

func TestMiddlewarePanicCountsAs500(t *testing.T) {
	m := New(0)
	h := m.Middleware(func(*http.Request) string { return "/boom" }, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic swallowed by the middleware")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/boom", nil))
	}()
	if got := testutil.ToFloat64(m.RequestsTotal.WithLabelValues("GET", "/boom", "500")); got != 1 {
		t.Errorf("panicking request count = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.InFlight); got != 0 {
		t.Errorf("in flight after panic = %v, want 0", got)
	}
}

func TestMiddlewareKeepsFlusherAndController(t *testing.T) {
	m := New(0)
	h := m.Middleware(func(*http.Request) string { return "/stream" }, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("wrapped writer is not a Flusher")
		}
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
			t.Errorf("ResponseController through the wrapper: %v", err)
		}
		_, _ = w.Write([]byte("a\n"))
		w.(http.Flusher).Flush()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if line != "a\n" {
		t.Errorf("body = %q", line)
	}
}

func TestExemplarFromRequestID(t *testing.T) {
	tests := []struct {
		name              string
		answered, request string // X-Request-ID of the answer (set by the app's outer middleware) and of the request
		want              string // "" = no exemplar
	}{
		{"request id", "abc-123", "", "abc-123"},
		{"the answered id, not the client's raw one", "0f1e2d3c", "forged\nline", "0f1e2d3c"},
		{"the client's header alone is not believed", "", "abc-123", ""},
		{"too long for an exemplar", strings.Repeat("x", 200), "", ""},
		{"invalid utf-8", "\xff\xfe", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(0)
			h := m.Middleware(func(*http.Request) string { return "/x" }, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.request != "" {
				req.Header["X-Request-Id"] = []string{tt.request}
			}
			rec := httptest.NewRecorder()
			if tt.answered != "" {
				rec.Header()["X-Request-Id"] = []string{tt.answered}
			}
			h.ServeHTTP(rec, req)

			var pb dto.Metric
			if err := m.RequestDuration.WithLabelValues("GET", "/x").(prometheus.Metric).Write(&pb); err != nil {
				t.Fatal(err)
			}
			var got string
			for _, b := range pb.GetHistogram().GetBucket() {
				for _, l := range b.GetExemplar().GetLabel() {
					if l.GetName() == "request_id" {
						got = l.GetValue()
					}
				}
			}
			if got != tt.want {
				t.Errorf("exemplar request_id = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHandlerNegotiatesOpenMetrics(t *testing.T) {
	m := New(0)
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-ID", "req-1")
	m.Middleware(func(*http.Request) string { return "/x" }, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).
		ServeHTTP(rec, req)

	tests := []struct {
		accept, wantType string
		wantExemplar     bool
	}{
		{"", "text/plain", false},
		{"application/openmetrics-text; version=1.0.0", "application/openmetrics-text", true},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/api/metrics", nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		m.Handler().ServeHTTP(rec, r)
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
			t.Errorf("Accept %q: Content-Type = %q, want %s", tt.accept, ct, tt.wantType)
		}
		body := rec.Body.String()
		if !strings.Contains(body, `http_requests_total{method="GET",route="/x",status="200"} 1`) &&
			!strings.Contains(body, `http_requests_total{method="GET",route="/x",status="200"} 1.0`) {
			t.Errorf("Accept %q: request counter missing from exposition", tt.accept)
		}
		if got := strings.Contains(body, `# {request_id="req-1"}`); got != tt.wantExemplar {
			t.Errorf("Accept %q: exemplar present = %v, want %v", tt.accept, got, tt.wantExemplar)
		}
	}
}

// TestLatencySLOIsABucketBoundary: the SLO rules and dashboards read the
// bucket le=LatencySLOSeconds; it must exist.
func TestLatencySLOIsABucketBoundary(t *testing.T) {
	if !slices.Contains(httpBuckets, thresholds.LatencySLOSeconds) {
		t.Errorf("thresholds.LatencySLOSeconds = %v is not a bucket of http_request_duration_seconds %v", thresholds.LatencySLOSeconds, httpBuckets)
	}
	for _, b := range prometheus.DefBuckets { // what a PromQL author assumes
		if !slices.Contains(httpBuckets, b) {
			t.Errorf("default bucket %v missing", b)
		}
	}
}

// TestExpositionPassesPromtool feeds the /api/metrics body, with every
// family populated, to Prometheus' own linter.
func TestExpositionPassesPromtool(t *testing.T) {
	promtool := testserver.LookBinary(t, "promtool", "prometheus")
	m := New(time.Nanosecond)
	m.Middleware(func(*http.Request) string { return "/api/projects/{id}" }, http.NotFoundHandler()).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/projects/1", nil))
	m.MongoCommandDuration.WithLabelValues("find").Observe(0.01)
	m.MongoCommandFailures.WithLabelValues("find").Inc()
	m.MongoSlowOperations.WithLabelValues("find").Inc()
	m.DependencyUp.WithLabelValues(DependencyMongoDB).Set(1)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/metrics", nil))
	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = rec.Body
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestExemplarSpacing: fast requests leave an exemplar at most once a second
// per series, slow ones always.
func TestExemplarSpacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(0)
		var sleep time.Duration
		h := m.Middleware(func(*http.Request) string { return "/x" }, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			time.Sleep(sleep)
		}))
		serve := func(id string, took time.Duration) {
			sleep = took
			rec := httptest.NewRecorder()
			rec.Header().Set("X-Request-ID", id) // as the app's outer middleware does
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		}
		serve("first", 0)    // due: attached
		serve("too-soon", 0) // within the second: not attached
		if got := exemplarIDs(t, m); len(got) != 1 || !got["first"] {
			t.Errorf("exemplars after two fast requests = %v, want only first", got)
		}
		serve("slow", 200*time.Millisecond) // slow: attached although not due
		time.Sleep(time.Second)
		serve("later", 0) // due again
		got := exemplarIDs(t, m)
		want := map[string]bool{"slow": true, "later": true} // "later" replaced "first" in the fast bucket
		if len(got) != len(want) || !got["slow"] || !got["later"] {
			t.Errorf("exemplars = %v, want %v", got, want)
		}
	})
}

func exemplarIDs(t *testing.T, m *Metrics) map[string]bool {
	t.Helper()
	var pb dto.Metric
	if err := m.RequestDuration.WithLabelValues("GET", "/x").(prometheus.Metric).Write(&pb); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, b := range pb.GetHistogram().GetBucket() {
		for _, l := range b.GetExemplar().GetLabel() {
			ids[l.GetValue()] = true
		}
	}
	return ids
}

// TestNativeHistogramOverProtobuf: a Prometheus that asks for protobuf (as
// it does with native histograms enabled) gets the request duration as a
// native histogram, schema 3 (bucket factor 1.1), beside its classic
// buckets.
func TestNativeHistogramOverProtobuf(t *testing.T) {
	m := New(0)
	h := m.Middleware(func(*http.Request) string { return "/x" }, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/metrics", nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	m.Handler().ServeHTTP(rec, req)
	format := expfmt.ResponseFormat(rec.Header())
	if format.FormatType() != expfmt.TypeProtoDelim {
		t.Fatalf("Content-Type %q is not delimited protobuf", rec.Header().Get("Content-Type"))
	}
	dec := expfmt.NewDecoder(rec.Body, format)
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			t.Fatalf("http_request_duration_seconds not in the protobuf exposition: %v", err)
		}
		if mf.GetName() != "http_request_duration_seconds" {
			continue
		}
		hist := mf.GetMetric()[0].GetHistogram()
		if hist.GetSchema() != 3 || hist.GetSampleCount() != 3 || len(hist.GetBucket()) != len(httpBuckets) {
			t.Errorf("schema %d, count %d, %d classic buckets; want schema 3, count 3, %d classic buckets",
				hist.GetSchema(), hist.GetSampleCount(), len(hist.GetBucket()), len(httpBuckets))
		}
		if len(hist.GetPositiveSpan()) == 0 && hist.GetZeroCount() == 0 {
			t.Error("no native buckets populated")
		}
		return
	}
}
