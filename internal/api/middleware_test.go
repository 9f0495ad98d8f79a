package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecoverAnswers500AndLogs(t *testing.T) {
	var logs bytes.Buffer
	s := &server{log: slog.New(slog.NewJSONHandler(&logs, nil))}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    int
	}{
		{"panic before writing", func(http.ResponseWriter, *http.Request) { panic("boom") }, http.StatusInternalServerError},
		{"no panic", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }, http.StatusTeapot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.withRecover(tc.handler).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d", rec.Code, tc.want)
			}
			if tc.want == http.StatusInternalServerError {
				var body errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != "internal error" {
					t.Errorf("body = %s", rec.Body)
				}
				if !strings.Contains(logs.String(), "boom") {
					t.Errorf("panic not logged: %s", logs.String())
				}
			}
		})
	}
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"":                                     false,
		"abc-123_X.y":                          true,
		"0f8fad5b-d9cb-469f-a165-70867728950e": true,
		"a b":                                  false,
		"x\nlevel=ERROR":                       false,
		strings.Repeat("a", 129):               false,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("validRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}
