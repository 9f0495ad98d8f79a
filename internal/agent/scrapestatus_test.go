package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/html"

	"github.com/vigil-sh/vigil/alerts"
	"github.com/vigil-sh/vigil/internal/agent/config"
)

// scrapingEngine is the real alerting engine seen as the agent's rule
// engine, as cmd/agent adapts it.
type scrapingEngine struct{ e *alerts.Engine }

func (s scrapingEngine) ApplyConfig(cfg *config.Config) error { return s.e.ApplyConfig(cfg) }
func (s scrapingEngine) Alerts() []Alert                      { return nil }
func (s scrapingEngine) ScrapeTargetLister() ScrapeTargetLister {
	if t := s.e.ScrapeTargets(); t != nil {
		return t
	}
	return nil
}

// TestStatusPageScrapeTargets: the status page shows every scrape target
// of Prometheus's scrape manager with its health, last scrape, duration and
// last error, and no secret of its scrape config.
func TestStatusPageScrapeTargets(t *testing.T) {
	const token = "scrapeParam-s3cret-51"
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "app_items 1") }))
	t.Cleanup(good.Close)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database on fire "+r.URL.Query().Get("access_token"), http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	goodHost, brokenHost := strings.TrimPrefix(good.URL, "http://"), strings.TrimPrefix(broken.URL, "http://")

	e, err := alerts.New(t.Context(), alerts.Options{Registerer: prometheus.NewRegistry(), StoragePath: t.TempDir(), ScrapeReloadInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	a := newTestAgent(t, yamlf(fmt.Sprintf(`
global: {interval: 200ms, timeout: 150ms}
scrape_configs:
- job_name: app
	static_configs: [{targets: [%q]}]
- job_name: broken
	params: {access_token: [%q]}
	static_configs: [{targets: [%q]}]
- job_name: refused
	params: {key: [k9]}
	static_configs: [{targets: ["127.0.0.1:1"]}]
`, goodHost, token, brokenHost)), func(o *Options) { o.Rules = scrapingEngine{e} })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	var rows map[string]string
	var page string
	waitFor(t, 20*time.Second, "both scrape targets scraped", func() bool {
		_, page = get(t, a.Handler(), http.MethodGet, "/")
		rows = scrapeRows(t, page)
		return strings.Contains(rows["app/"+goodHost], " up ") && strings.Contains(rows["broken/"+brokenHost], " down ") &&
			strings.Contains(rows["refused/127.0.0.1:1"], "connection refused")
	})
	for key, want := range map[string][]string{
		"app/" + goodHost:      {"app", goodHost, good.URL + "/metrics", " up ", "ago", "ms"},
		"broken/" + brokenHost: {"broken", broken.URL + "/metrics?access_token=<secret>", " down ", "ago", "server returned HTTP status 500"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[key], w) {
				t.Errorf("row %s = %q, want %q in it", key, rows[key], w)
			}
		}
	}
	if strings.Contains(page, token) || strings.Contains(page, "key=k9") {
		t.Errorf("the status page shows a scrape config's secret parameter:\n%s", page)
	}
	if !strings.Contains(rows["refused/127.0.0.1:1"], `"http://127.0.0.1:1/metrics?key=<secret>"`) {
		t.Errorf("refused row = %q, want the error's URL redacted", rows["refused/127.0.0.1:1"])
	}
}

// scrapeRows maps each scrape-target row's data-scrape-target to its text.
func scrapeRows(t *testing.T, page string) map[string]string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parsing the status page: %v", err)
	}
	rows := map[string]string{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			for _, at := range n.Attr {
				if at.Key == "data-scrape-target" {
					rows[at.Val] = text(n)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return rows
}
