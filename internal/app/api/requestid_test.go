package api_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestExemplarUsesTheLoggedRequestID: a client's invalid X-Request-ID is
// replaced, and the exemplar carries the replacement, the id the log line
// and the answer carry, never the client's text.
func TestExemplarUsesTheLoggedRequestID(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/health/live", nil)
	req.Header.Set("X-Request-ID", "forged id with spaces")
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	id := res.Header.Get("X-Request-ID")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("answered X-Request-ID = %q, want a generated id", id)
	}
	if !strings.Contains(e.logs.String(), `"request_id":"`+id+`"`) {
		t.Errorf("the log line lacks request_id %s", id)
	}

	req, _ = http.NewRequest("GET", e.srv.URL+"/api/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	res, err = (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), `# {request_id="`+id+`"}`) {
		t.Errorf("no exemplar with request_id %s in /api/metrics", id)
	}
	if strings.Contains(string(body), "forged") {
		t.Error("the client's raw request id reached an exemplar")
	}
}
