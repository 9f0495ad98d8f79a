package promapi

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
)

// base is the first sample's time in the fixture: a whole minute, 10m ago.
func fixture(t testing.TB, maxSamples int) (*testSource, time.Time) {
	t.Helper()
	src := newTestSource(t, maxSamples)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var ss []sample
	for i := 0; i <= 40; i++ { // every 15s for 10 minutes
		ts := timestamp.FromTime(base.Add(time.Duration(i) * 15 * time.Second))
		ss = append(ss,
			sample{labels.FromStrings("__name__", "http_requests_total", "job", "app", "instance", "a:1", "code", "200"), ts, float64(10 * i)},
			sample{labels.FromStrings("__name__", "http_requests_total", "job", "app", "instance", "a:1", "code", "500"), ts, float64(i)},
			sample{labels.FromStrings("__name__", "temperature", "job", "app", "instance", "a:1"), ts, float64(20 + i%3)},
		)
	}
	src.append(t, ss...)
	return src, base
}

type queryResult struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
	Stats      json.RawMessage `json:"stats"`
}

type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

type matrixSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

func unixString(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

func TestAPIQuery(t *testing.T) {
	src, base := fixture(t, 0)
	u := serve(t, Options{Source: src})
	at := base.Add(5 * time.Minute) // the 21st sample: i=20

	vector := func(want map[string]string) func(*testing.T, queryResult) {
		return func(t *testing.T, r queryResult) {
			if r.ResultType != "vector" {
				t.Fatalf("resultType %q, want vector", r.ResultType)
			}
			var v []vectorSample
			if err := json.Unmarshal(r.Result, &v); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range v {
				got[s.Metric["code"]] = s.Value[1].(string)
				if ts := s.Value[0].(float64); ts != float64(at.UnixMilli())/1000 {
					t.Errorf("sample time %v, want %v", ts, float64(at.UnixMilli())/1000)
				}
			}
			if !equalMaps(got, want) {
				t.Errorf("values by code = %v, want %v", got, want)
			}
		}
	}
	matrix := func(points int, first, last string) func(*testing.T, queryResult) {
		return func(t *testing.T, r queryResult) {
			if r.ResultType != "matrix" {
				t.Fatalf("resultType %q, want matrix", r.ResultType)
			}
			var m []matrixSeries
			if err := json.Unmarshal(r.Result, &m); err != nil {
				t.Fatal(err)
			}
			if len(m) != 1 || len(m[0].Values) != points {
				t.Fatalf("got %d series (%v), want 1 with %d points", len(m), m, points)
			}
			if got := m[0].Values[0][1].(string) + ".." + m[0].Values[points-1][1].(string); got != first+".."+last {
				t.Errorf("values %s, want %s..%s", got, first, last)
			}
		}
	}
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		check  func(*testing.T, queryResult)
	}{
		{"instant GET unix time", http.MethodGet, "/api/v1/query",
			url.Values{"query": {"http_requests_total"}, "time": {unixString(at)}},
			vector(map[string]string{"200": "200", "500": "20"})},
		{"instant POST RFC3339 time", http.MethodPost, "/api/v1/query",
			url.Values{"query": {"sum by (code) (http_requests_total)"}, "time": {at.UTC().Format(time.RFC3339Nano)}},
			vector(map[string]string{"200": "200", "500": "20"})},
		{"instant rate", http.MethodGet, "/api/v1/query",
			url.Values{"query": {"rate(http_requests_total[1m])"}, "time": {unixString(at)}},
			vector(map[string]string{"200": "0.6666666666666666", "500": "0.06666666666666665"})},
		{"range GET RFC3339, step as duration", http.MethodGet, "/api/v1/query_range",
			url.Values{"query": {`http_requests_total{code="500"}`}, "start": {base.UTC().Format(time.RFC3339)}, "end": {at.UTC().Format(time.RFC3339)}, "step": {"1m"}},
			matrix(6, "0", "20")},
		{"range POST unix, step in seconds", http.MethodPost, "/api/v1/query_range",
			url.Values{"query": {`sum(http_requests_total{code="500"})`}, "start": {unixString(base)}, "end": {unixString(at)}, "step": {"30"}},
			matrix(11, "0", "20")},
		{"scalar", http.MethodGet, "/api/v1/query", url.Values{"query": {"1+1"}, "time": {"1700000000.5"}},
			func(t *testing.T, r queryResult) {
				if r.ResultType != "scalar" || string(r.Result) != `[1700000000.5,"2"]` {
					t.Errorf("got %s %s, want scalar [1700000000.5,\"2\"]", r.ResultType, r.Result)
				}
			}},
		{"string", http.MethodGet, "/api/v1/query", url.Values{"query": {`"x<y>"`}, "time": {"1700000000"}},
			func(t *testing.T, r queryResult) {
				var v [2]any
				if err := json.Unmarshal(r.Result, &v); err != nil || r.ResultType != "string" || v[1] != "x<y>" {
					t.Errorf("got %s %s (%v), want string x<y>", r.ResultType, r.Result, err)
				}
			}},
		{"stats", http.MethodGet, "/api/v1/query", url.Values{"query": {"temperature"}, "time": {unixString(at)}, "stats": {"all"}},
			func(t *testing.T, r queryResult) {
				if !strings.Contains(string(r.Stats), `"timings"`) || !strings.Contains(string(r.Stats), `"samples"`) {
					t.Errorf("stats = %s, want timings and samples", r.Stats)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := call(t, tc.method, u+tc.path, tc.form)
			if code != http.StatusOK || resp.Status != "success" {
				t.Fatalf("%d %+v", code, resp)
			}
			var r queryResult
			if err := json.Unmarshal(resp.Data, &r); err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestAPIQueryLimitTruncatesWithWarning(t *testing.T) {
	src, base := fixture(t, 0)
	u := serve(t, Options{Source: src})
	code, resp := call(t, http.MethodGet, u+"/api/v1/query", url.Values{"query": {"http_requests_total"}, "time": {unixString(base)}, "limit": {"1"}})
	if code != http.StatusOK {
		t.Fatalf("%d %+v", code, resp)
	}
	var r struct{ Result []vectorSample }
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Result) != 1 || !slices.Contains(resp.Warnings, "results truncated due to limit") {
		t.Errorf("got %d samples, warnings %q; want 1 and the truncation warning", len(r.Result), resp.Warnings)
	}
}

// TestAPIQueryLimits: the engine's max-samples limit is a 422 execution
// error and a timeout (the request's, capped by the server's) a 503, as
// in Prometheus.
func TestAPIQueryLimits(t *testing.T) {
	src, base := fixture(t, 10)
	tests := []struct {
		name     string
		timeout  time.Duration
		form     url.Values
		code     int
		errType  string
		contains string
	}{
		{"max samples", 0, url.Values{"query": {"http_requests_total[10m]"}, "time": {unixString(base.Add(10 * time.Minute))}},
			http.StatusUnprocessableEntity, "execution", "query processing would load too many samples into memory"},
		{"request timeout", 0, url.Values{"query": {"temperature"}, "timeout": {"0.000001"}},
			http.StatusServiceUnavailable, "timeout", "query timed out"},
		{"server timeout caps a longer request timeout", time.Nanosecond, url.Values{"query": {"temperature"}, "timeout": {"1h"}},
			http.StatusServiceUnavailable, "timeout", "query timed out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := serve(t, Options{Source: src, Timeout: tc.timeout})
			code, resp := call(t, http.MethodGet, u+"/api/v1/query", tc.form)
			if code != tc.code || resp.Status != "error" || resp.ErrorType != tc.errType || !strings.Contains(resp.Error, tc.contains) {
				t.Errorf("got %d %+v, want %d %s containing %q", code, resp, tc.code, tc.errType, tc.contains)
			}
		})
	}
}

func TestAPINotReady(t *testing.T) {
	for _, src := range []Source{nil, &testSource{}} {
		u := serve(t, Options{Source: src})
		for _, path := range []string{"/api/v1/query?query=up", "/api/v1/query_range?query=up&start=1&end=2&step=1", "/api/v1/series?match[]=up", "/api/v1/labels", "/api/v1/label/job/values"} {
			code, resp := call(t, http.MethodGet, u+path, nil)
			if code != http.StatusServiceUnavailable || resp.ErrorType != "unavailable" || !strings.Contains(resp.Error, "not open yet") {
				t.Errorf("%s before the storage opens: %d %+v, want 503 unavailable", path, code, resp)
			}
		}
	}
}

// TestAPIGzip: a large answer is gzipped for a client that accepts it (Go's
// client asks and decompresses by itself; the test asks explicitly).
func TestAPIGzip(t *testing.T) {
	src, base := fixture(t, 0)
	u := serve(t, Options{Source: src})
	q := url.Values{"query": {"http_requests_total"}, "start": {unixString(base)}, "end": {unixString(base.Add(10 * time.Minute))}, "step": {"15"}}
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{{"gzip", true}, {"deflate, gzip;q=0.5", true}, {"gzip;q=0", false}, {"", false}} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u+"/api/v1/query_range?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", tc.accept)
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.gzip {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", tc.accept, got, tc.gzip)
		} else if got {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		var r apiResponse
		if err := json.NewDecoder(body).Decode(&r); err != nil || r.Status != "success" || !strings.Contains(string(r.Data), `"matrix"`) {
			t.Errorf("Accept-Encoding %q: %v %+v", tc.accept, err, r)
		}
	}
}
