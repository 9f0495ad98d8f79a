package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// startScrapingAgent starts the agent as main wires it, scraping a metrics
// server as job app, plus the scrape configs in more; it returns the
// agent's URL and the app target's host:port.
func startScrapingAgent(t *testing.T, more string) (base, host string) {
	t.Helper()
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "app_items 1") }))
	t.Cleanup(metrics.Close)
	host = strings.TrimPrefix(metrics.URL, "http://")
	cfg := writeFile(t, t.TempDir(), "agent.yml", fmt.Sprintf(`
global: {interval: 1s, timeout: 500ms}
scrape_configs:
  - job_name: app
    static_configs: [{targets: [%q]}]
`, host)+more)
	base, _ = startAgent(t, "--config.file", cfg)
	return base, host
}

// TestStatusPageShowsScrapeTargets: the agent wired by main shows its
// scrape manager's targets on the status page, healthy and failing.
func TestStatusPageShowsScrapeTargets(t *testing.T) {
	base, host := startScrapingAgent(t, `
  - job_name: gone
    static_configs: [{targets: ["127.0.0.1:1"]}]
`)
	eventually(t, "both scrape targets on the status page with their health", func() bool {
		page := fetch(t, base+"/")
		return strings.Contains(page, `data-scrape-target="app/`+host+`"`) &&
			strings.Contains(page, `<td class="up">up</td>`) &&
			strings.Contains(page, `data-scrape-target="gone/127.0.0.1:1"`) &&
			strings.Contains(page, `<td class="down">down</td>`) &&
			strings.Contains(page, "connection refused")
	})
}

// TestTargetsAPIListsScrapeTargets: /api/v1/targets, as main wires it,
// reports the scrape manager's targets in Prometheus's shape.
func TestTargetsAPIListsScrapeTargets(t *testing.T) {
	base, host := startScrapingAgent(t, "")
	eventually(t, "the app target healthy in /api/v1/targets", func() bool {
		var body struct {
			Status string `json:"status"`
			Data   struct {
				ActiveTargets []struct {
					ScrapePool string            `json:"scrapePool"`
					Labels     map[string]string `json:"labels"`
					Health     string            `json:"health"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(fetch(t, base+"/api/v1/targets")), &body); err != nil {
			t.Fatalf("decoding /api/v1/targets: %v", err)
		}
		for _, a := range body.Data.ActiveTargets {
			if a.ScrapePool == "app" && a.Labels["instance"] == host && a.Health == "up" {
				return true
			}
		}
		return false
	})
}
