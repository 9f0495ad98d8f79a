package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func TestCheck(t *testing.T) {
	var status atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(status.Load())) }))
	defer srv.Close()

	// A server that accepts and never answers must cost only the timeout.
	hung := testserver.Silent(t)

	tests := []struct {
		name    string
		status  int
		url     string
		wantErr bool
	}{
		{"ok", 200, srv.URL, false},
		{"degraded still 200", 200, srv.URL + "/api/health", false},
		{"unhealthy", 503, srv.URL, true},
		{"hung", 200, "http://" + hung + "/", true},
		{"bad url", 200, "://", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status.Store(int64(tt.status))
			start := time.Now()
			err := check(tt.url, 300*time.Millisecond)
			if (err != nil) != tt.wantErr {
				t.Fatalf("check(%s) error = %v, wantErr %v", tt.url, err, tt.wantErr)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("check took %s, want about the timeout", time.Since(start))
			}
		})
	}
}
