package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-sh/vigil/internal/app/store"
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

func TestFailStatuses(t *testing.T) {
	s := &server{log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"not found", context.Background(), fmt.Errorf("x: %w", store.ErrNotFound), 404},
		{"duplicate", context.Background(), fmt.Errorf("x: %w", store.ErrDuplicate), 409},
		{"unavailable", context.Background(), fmt.Errorf("x: %w", store.ErrUnavailable), 503},
		{"deadline", context.Background(), fmt.Errorf("x: %w", context.DeadlineExceeded), 503},
		{"client gone", cancelled, fmt.Errorf("x: %w", context.Canceled), 499},
		{"unknown", context.Background(), errors.New("boom"), 500},
		{"http error", context.Background(), errForbidden, 403},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		s.fail(rec, httptest.NewRequest("GET", "/", nil).WithContext(tc.ctx), tc.err)
		if rec.Code != tc.want || !json.Valid(rec.Body.Bytes()) {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
}
