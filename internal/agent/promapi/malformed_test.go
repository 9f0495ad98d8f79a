package promapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestAPIMalformedRequests: every malformed request is a 400 bad_data JSON
// error that names what is wrong, never a 5xx.
func TestAPIMalformedRequests(t *testing.T) {
	src, _ := fixture(t, 0)
	u := serve(t, Options{Source: src})
	tests := []struct {
		method, path string
		form         url.Values
		contains     string
	}{
		{"GET", "/api/v1/query", url.Values{"query": {"sum("}}, `invalid parameter "query"`},
		{"GET", "/api/v1/query", url.Values{}, `invalid parameter "query"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "time": {"yesterday"}}, `invalid parameter "time"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "time": {"NaN"}}, `invalid parameter "time"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "time": {"1e300"}}, `invalid parameter "time"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "timeout": {"soon"}}, `invalid parameter "timeout"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "timeout": {"-1"}}, `invalid parameter "timeout"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "timeout": {"1e300"}}, `invalid parameter "timeout"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "limit": {"-1"}}, `invalid parameter "limit"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "limit": {"many"}}, `invalid parameter "limit"`},
		{"GET", "/api/v1/query", url.Values{"query": {"up"}, "lookback_delta": {"x"}}, "lookback delta"},
		{"POST", "/api/v1/query", url.Values{"query": {"up{"}}, `invalid parameter "query"`},
		{"GET", "/api/v1/query_range", url.Values{"query": {"up"}, "end": {"2"}, "step": {"1"}}, `invalid parameter "start"`},
		{"GET", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"1"}, "step": {"1"}}, `invalid parameter "end"`},
		{"GET", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"2"}, "end": {"1"}, "step": {"1"}}, "end timestamp must not be before start time"},
		{"GET", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"1"}, "end": {"2"}}, `invalid parameter "step"`},
		{"GET", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"1"}, "end": {"2"}, "step": {"0"}}, `invalid parameter "step"`},
		{"GET", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"1"}, "end": {"2"}, "step": {"-5s"}}, `invalid parameter "step"`},
		{"GET", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"0"}, "end": {"100000"}, "step": {"1"}}, "11,000 points"},
		{"POST", "/api/v1/query_range", url.Values{"query": {"rate(up)"}, "start": {"1"}, "end": {"2"}, "step": {"1"}}, `invalid parameter "query"`},
		{"GET", "/api/v1/series", url.Values{}, "no match[] parameter provided"},
		{"GET", "/api/v1/series", url.Values{"match[]": {"up{"}}, `invalid parameter "match[]"`},
		{"GET", "/api/v1/series", url.Values{"match[]": {`{job=~".*"}`}}, "at least one non-empty matcher"},
		{"GET", "/api/v1/series", url.Values{"match[]": {"up"}, "start": {"x"}}, `invalid parameter "start"`},
		{"POST", "/api/v1/series", url.Values{"match[]": {"up"}, "end": {"x"}}, `invalid parameter "end"`},
		{"GET", "/api/v1/labels", url.Values{"match[]": {"}"}}, `invalid parameter "match[]"`},
		{"GET", "/api/v1/labels", url.Values{"limit": {"1.5"}}, `invalid parameter "limit"`},
		{"GET", "/api/v1/label/job/values", url.Values{"start": {"monday"}}, `invalid parameter "start"`},
		{"GET", "/api/v1/label/job/values", url.Values{"match[]": {"up{job="}}, `invalid parameter "match[]"`},
		{"GET", "/api/v1/label/%ff/values", nil, "invalid label name"},
		{"GET", "/api/v1/metadata", url.Values{"limit": {"x"}}, "limit must be a number"},
		{"GET", "/api/v1/query_exemplars", url.Values{"query": {"up["}}, `invalid parameter "query"`},
		{"GET", "/api/v1/query_exemplars", url.Values{"query": {"up"}, "start": {"2"}, "end": {"1"}}, "end timestamp must not be before start"},
		{"POST", "/api/v1/format_query", url.Values{"query": {"sum by"}}, `invalid parameter "query"`},
		{"GET", "/api/v1/metadata", url.Values{"limit_per_metric": {"x"}}, "limit_per_metric must be a number"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path+"?"+tc.form.Encode(), func(t *testing.T) {
			code, resp := call(t, tc.method, u+tc.path, tc.form)
			if code != http.StatusBadRequest || resp.Status != "error" || resp.ErrorType != "bad_data" || !strings.Contains(resp.Error, tc.contains) {
				t.Errorf("got %d %+v, want 400 bad_data containing %q", code, resp, tc.contains)
			}
		})
	}

	t.Run("malformed POST body", func(t *testing.T) {
		resp, err := http.Post(u+"/api/v1/query", "application/x-www-form-urlencoded", strings.NewReader("query=%zz"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r apiResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusBadRequest || r.ErrorType != "bad_data" {
			t.Errorf("got %d %+v (%v), want a 400 bad_data JSON error", resp.StatusCode, r, err)
		}
	})
}

// FuzzAPI: whatever the parameters, every endpoint answers JSON with a
// status below 500 (or a 503/422 from the engine), never a panic.
func FuzzAPI(f *testing.F) {
	for _, seed := range []string{
		"query=up&time=1",
		"query=sum(rate(x[5m]))&start=1&end=100&step=15",
		"match[]=up&start=2019-01-01T00:00:00Z&end=2019-01-02T00:00:00.5Z&limit=3",
		"query=up[1h:1s]&time=1e9&timeout=0.5&lookback_delta=1m",
		"query=%22%5Cx%22&stats=all&limit=1",
		"metric=up&limit=0&limit_per_metric=-1",
	} {
		f.Add(seed, uint8(0))
	}
	src, _ := fixture(f, 1000)
	mux := http.NewServeMux()
	New(Options{Source: src}).Register(mux)
	paths := []string{"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/label/job/values", "/api/v1/metadata", "/graph"}
	f.Fuzz(func(t *testing.T, query string, which uint8) {
		path := paths[int(which)%len(paths)]
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			if method == http.MethodPost && (path == "/api/v1/label/job/values" || path == "/api/v1/metadata" || path == "/graph") {
				continue
			}
			var req *http.Request
			if method == http.MethodGet {
				req = httptest.NewRequestWithContext(t.Context(), method, "http://agent"+path+"?"+url.PathEscape(query), nil)
				req.URL.RawQuery = query
			} else {
				req = httptest.NewRequestWithContext(t.Context(), method, "http://agent"+path, strings.NewReader(query))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			switch {
			case path == "/graph":
				if w.Code != http.StatusOK {
					t.Fatalf("/graph?%s: %d", query, w.Code)
				}
			case w.Code >= 500 && w.Code != http.StatusServiceUnavailable:
				t.Fatalf("%s %s %q: %d %s", method, path, query, w.Code, w.Body)
			case !json.Valid(w.Body.Bytes()):
				t.Fatalf("%s %s %q: %d, not JSON: %s", method, path, query, w.Code, w.Body)
			}
		}
	})
}
