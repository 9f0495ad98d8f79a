package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// TestWebAnswersDuringLargestReload: a reload replacing every one of
// config.MaxTargets targets leaves the web server answering /-/healthy and
// /-/ready promptly throughout.
func TestWebAnswersDuringLargestReload(t *testing.T) {
	refused := testserver.Refused(t)
	gen := func(prefix string) string {
		var b strings.Builder
		b.WriteString("global: {interval: 1h, timeout: 5s}\ntargets:\n")
		for i := range config.MaxTargets {
			fmt.Fprintf(&b, "- {name: %s%d, kind: tcp, instance: %s%d, tcp: {address: %q}}\n", prefix, i, prefix, i, refused)
		}
		return b.String()
	}
	dir := t.TempDir()
	cfg := writeFile(t, dir, "agent.yml", gen("a"))
	base, _ := startAgent(t, "--config.file", cfg)
	writeFile(t, dir, "agent.yml", gen("b"))

	var (
		wg       sync.WaitGroup
		reloaded = make(chan struct{})
		took     time.Duration
		code     int
		body     string
	)
	wg.Go(func() {
		defer close(reloaded)
		start := time.Now()
		code, body = post(t, base+"/-/reload")
		took = time.Since(start)
	})
	client := &http.Client{Timeout: 5 * time.Second}
	var worst time.Duration
	polls := 0
	for done := false; !done; {
		select {
		case <-reloaded:
			done = true
		default:
		}
		for _, path := range []string{"/-/healthy", "/-/ready"} {
			start := time.Now()
			resp, err := client.Get(base + path)
			if err != nil {
				t.Fatalf("GET %s during the reload: %v", path, err)
			}
			resp.Body.Close()
			worst = max(worst, time.Since(start))
			polls++
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	if code != http.StatusOK {
		t.Fatalf("reload = %d %s", code, body)
	}
	t.Logf("reload of %d targets took %s; %d requests meanwhile, slowest %s", config.MaxTargets, took, polls, worst)
	if worst > time.Second {
		t.Errorf("slowest answer during the reload %s, want under 1s", worst)
	}
	if names := targetNames(t, base); len(names) != config.MaxTargets || names[0] != "b0" {
		t.Errorf("after the reload: %d targets, first %v", len(names), names[:min(1, len(names))])
	}
}
