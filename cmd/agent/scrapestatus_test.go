package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStatusPageShowsScrapeTargets: the agent wired by main shows its
// scrape manager's targets on the status page, healthy and failing.
func TestStatusPageShowsScrapeTargets(t *testing.T) {
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "app_items 1") }))
	t.Cleanup(metrics.Close)
	host := strings.TrimPrefix(metrics.URL, "http://")
	cfg := writeFile(t, t.TempDir(), "agent.yml", fmt.Sprintf(`
global: {interval: 1s, timeout: 500ms}
scrape_configs:
  - job_name: app
    static_configs: [{targets: [%q]}]
  - job_name: gone
    static_configs: [{targets: ["127.0.0.1:1"]}]
`, host))
	base, _ := startAgent(t, "--config.file", cfg)
	eventually(t, "both scrape targets on the status page with their health", func() bool {
		page := fetch(t, base+"/")
		return strings.Contains(page, `data-scrape-target="app/`+host+`"`) &&
			strings.Contains(page, `<td class="up">up</td>`) &&
			strings.Contains(page, `data-scrape-target="gone/127.0.0.1:1"`) &&
			strings.Contains(page, `<td class="down">down</td>`) &&
			strings.Contains(page, "connection refused")
	})
}
