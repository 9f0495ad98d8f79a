package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestEvery500LogsItsCause: whichever way a handler ends in a 500, the
// request's access log line names the cause.
func TestEvery500LogsItsCause(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(s *server) http.HandlerFunc
		want    string
	}{
		{"unencodable answer", func(*server) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, http.StatusCreated, map[string]any{"when": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
			}
		}, "encoding map[string]interface {} response"},
		{"unclassified error", func(s *server) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, errors.New("disk on fire")) }
		}, "disk on fire"},
		{"panic", func(*server) http.HandlerFunc {
			return func(http.ResponseWriter, *http.Request) { panic("boom") }
		}, "panic: boom"},
		{"bare 500", func(*server) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
		}, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &server{log: slog.New(slog.NewJSONHandler(&logs, nil))}
			h := s.withAccessLog(s.withRecover(tc.handler(s)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/x", nil))
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status = %d", rec.Code)
			}
			var line map[string]any
			for l := range strings.Lines(logs.String()) {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
					line = m
				}
			}
			if cause, _ := line["err"].(string); !strings.Contains(cause, tc.want) {
				t.Errorf("access log err = %q, want %q:\n%s", cause, tc.want, logs.String())
			}
		})
	}
}
