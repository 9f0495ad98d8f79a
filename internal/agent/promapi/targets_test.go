package promapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/scrape"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// scrapeManager runs upstream's scrape manager over src with cfgYAML's
// scrape configs and the given static targets per pool, as the agent's
// engine will.
func scrapeManager(t *testing.T, src *testSource, cfgYAML string, pools map[string][]string) *scrape.Manager {
	t.Helper()
	cfg, err := config.Load(cfgYAML, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := scrape.NewManager(&scrape.Options{DiscoveryReloadOnStartup: true, DiscoveryReloadInterval: model.Duration(50 * time.Millisecond)},
		nil, nil, src.db, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	tsets := make(chan map[string][]*targetgroup.Group, 1)
	groups := map[string][]*targetgroup.Group{}
	for pool, addrs := range pools {
		g := &targetgroup.Group{Source: pool}
		for _, a := range addrs {
			g.Targets = append(g.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(a)})
		}
		groups[pool] = []*targetgroup.Group{g}
	}
	tsets <- groups
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(tsets) }()
	t.Cleanup(func() { m.Stop(); <-done })
	return m
}

type targetsData struct {
	ActiveTargets []struct {
		DiscoveredLabels   map[string]string `json:"discoveredLabels"`
		Labels             map[string]string `json:"labels"`
		ScrapePool         string            `json:"scrapePool"`
		ScrapeURL          string            `json:"scrapeUrl"`
		LastError          string            `json:"lastError"`
		LastScrape         time.Time         `json:"lastScrape"`
		LastScrapeDuration float64           `json:"lastScrapeDuration"`
		Health             string            `json:"health"`
		ScrapeInterval     string            `json:"scrapeInterval"`
	} `json:"activeTargets"`
	DroppedTargets []struct {
		DiscoveredLabels map[string]string `json:"discoveredLabels"`
		ScrapePool       string            `json:"scrapePool"`
	} `json:"droppedTargets"`
	DroppedTargetCounts map[string]int `json:"droppedTargetCounts"`
}

func getTargets(t *testing.T, u string, q url.Values) (targetsData, json.RawMessage) {
	t.Helper()
	code, resp := call(t, http.MethodGet, u+"/api/v1/targets", q)
	if code != http.StatusOK {
		t.Fatalf("%d %+v", code, resp)
	}
	var d targetsData
	if err := json.Unmarshal(resp.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d, resp.Data
}

// TestTargetsFromScrapeManager: /api/v1/targets shows a real scrape
// manager's active and dropped targets in Prometheus's shape, with health,
// last scrape and errors; /api/v1/metadata shows what the targets exposed.
func TestTargetsFromScrapeManager(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# HELP demo_temperature Room temperature.\n# TYPE demo_temperature gauge\ndemo_temperature 21\n")
	}))
	t.Cleanup(up.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := strings.TrimPrefix(down.URL, "http://")
	down.Close() // nothing listens there any more
	upAddr := strings.TrimPrefix(up.URL, "http://")

	src := newTestSource(t, 0)
	m := scrapeManager(t, src, `
global: {scrape_interval: 100ms, scrape_timeout: 90ms}
scrape_configs:
  - job_name: app
    relabel_configs:
      - {source_labels: [__address__], regex: 'drop\..*', action: drop}
  - job_name: gone
`, map[string][]string{"app": {upAddr, "drop.me:9"}, "gone": {downAddr}})
	u := serve(t, Options{Source: src, Targets: func() TargetRetriever { return m }})

	var d targetsData
	var raw json.RawMessage
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, raw = getTargets(t, u, nil)
		if len(d.ActiveTargets) == 2 && d.ActiveTargets[0].Health == "up" && d.ActiveTargets[1].Health == "down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets never became up and down: %s", raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	a, g := d.ActiveTargets[0], d.ActiveTargets[1] // pools sorted: app, gone
	if a.ScrapePool != "app" || a.ScrapeURL != up.URL+"/metrics" || a.Labels["job"] != "app" || a.Labels["instance"] != upAddr ||
		a.DiscoveredLabels["__address__"] != upAddr || a.DiscoveredLabels["__metrics_path__"] != "/metrics" ||
		a.LastError != "" || a.LastScrape.IsZero() || a.LastScrapeDuration <= 0 || a.ScrapeInterval != "100ms" {
		t.Errorf("active target app: %+v", a)
	}
	if g.ScrapePool != "gone" || g.LastError == "" || !strings.Contains(g.LastError, "connect") {
		t.Errorf("active target gone: %+v, want a connection error", g)
	}
	if len(d.DroppedTargets) != 1 || d.DroppedTargets[0].ScrapePool != "app" || d.DroppedTargets[0].DiscoveredLabels["__address__"] != "drop.me:9" || d.DroppedTargetCounts["app"] != 1 {
		t.Errorf("dropped targets %+v, counts %v", d.DroppedTargets, d.DroppedTargetCounts)
	}

	for _, tc := range []struct {
		q               url.Values
		active, dropped int
	}{
		{url.Values{"state": {"active"}}, 2, 0},
		{url.Values{"state": {"Dropped"}}, 0, 1},
		{url.Values{"scrapePool": {"gone"}}, 1, 0},
		{url.Values{"scrapePool": {"nope"}}, 0, 0},
	} {
		d, raw := getTargets(t, u, tc.q)
		if len(d.ActiveTargets) != tc.active || len(d.DroppedTargets) != tc.dropped {
			t.Errorf("targets?%s: %s, want %d active and %d dropped", tc.q.Encode(), raw, tc.active, tc.dropped)
		}
	}

	code, resp := call(t, http.MethodGet, u+"/api/v1/metadata", url.Values{"metric": {"demo_temperature"}})
	if code != http.StatusOK || string(resp.Data) != `{"demo_temperature":[{"type":"gauge","unit":"","help":"Room temperature."}]}` {
		t.Errorf("metadata from the scrape target: %d %s", code, resp.Data)
	}
}

// TestTargetsShapeMatchesPrometheus: every field Prometheus 2.42 answers
// for a target scraped by the same configuration is in the agent's answer,
// with the same JSON type (and the same value where it cannot differ).
func TestTargetsShapeMatchesPrometheus(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "x 1\n") }))
	t.Cleanup(target.Close)
	addr := strings.TrimPrefix(target.URL, "http://")
	cfg := fmt.Sprintf(`
global: {scrape_interval: 100ms, scrape_timeout: 90ms}
scrape_configs:
  - job_name: app
    static_configs: [{targets: [%q, "drop.me:9"]}]
    relabel_configs:
      - {source_labels: [__address__], regex: 'drop\..*', action: drop}
`, addr)
	prom := testserver.Prometheus(t, cfg, nil)
	src := newTestSource(t, 0)
	m := scrapeManager(t, src, cfg, map[string][]string{"app": {addr, "drop.me:9"}})
	u := serve(t, Options{Source: src, Targets: func() TargetRetriever { return m }})

	fetch := func(base string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, resp := call(t, http.MethodGet, base+"/api/v1/targets", nil)
			var d map[string]any
			if err := json.Unmarshal(resp.Data, &d); err != nil || code != http.StatusOK {
				t.Fatalf("%s: %d %v", base, code, err)
			}
			if at, _ := d["activeTargets"].([]any); len(at) == 1 && at[0].(map[string]any)["health"] == "up" {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the target never became up: %v", base, d)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	pd, ad := fetch(prom.URL), fetch(u)
	same := func(where string, p, a map[string]any, equal ...string) {
		for k, pv := range p {
			av, ok := a[k]
			if !ok {
				t.Errorf("%s: the agent lacks %q (Prometheus: %v)", where, k, pv)
				continue
			}
			if fmt.Sprintf("%T", pv) != fmt.Sprintf("%T", av) {
				t.Errorf("%s.%s: Prometheus has a %T (%v), the agent a %T (%v)", where, k, pv, pv, av, av)
			}
			if slices.Contains(equal, k) && fmt.Sprint(pv) != fmt.Sprint(av) {
				t.Errorf("%s.%s: Prometheus %v, agent %v", where, k, pv, av)
			}
		}
	}
	same("data", pd, ad)
	same("activeTargets[0]", pd["activeTargets"].([]any)[0].(map[string]any), ad["activeTargets"].([]any)[0].(map[string]any),
		"labels", "scrapePool", "scrapeUrl", "health", "lastError", "scrapeInterval", "scrapeTimeout")
	pdr, adr := pd["droppedTargets"].([]any), ad["droppedTargets"].([]any)
	if len(pdr) != 1 || len(adr) != 1 {
		t.Fatalf("dropped targets: Prometheus %v, agent %v", pdr, adr)
	}
	same("droppedTargets[0]", pdr[0].(map[string]any), adr[0].(map[string]any))
	// Prometheus 3's scrape manager adds labels of its newer options
	// (__scrape_native_histograms__ and the like): 2.42's must all be there.
	pl, al := pdr[0].(map[string]any)["discoveredLabels"].(map[string]any), adr[0].(map[string]any)["discoveredLabels"].(map[string]any)
	for k, v := range pl {
		if al[k] != v {
			t.Errorf("dropped target's discoveredLabels[%s]: Prometheus %v, agent %v", k, v, al[k])
		}
	}
}

// TestTargetsWithoutScrapeManager: without one (none configured, or not
// wired yet) the lists are empty, not null.
func TestTargetsWithoutScrapeManager(t *testing.T) {
	for _, o := range []Options{{}, {Targets: func() TargetRetriever { return nil }}} {
		u := serve(t, o)
		_, raw := getTargets(t, u, nil)
		if string(raw) != `{"activeTargets":[],"droppedTargets":[],"droppedTargetCounts":{}}` {
			t.Errorf("got %s", raw)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://host:9100/metrics":                 "http://host:9100/metrics",
		"https://user:s3cret@host/metrics?x=1":     "https://user:xxxxx@host/metrics?x=1",
		"http://user@host/metrics":                 "http://user@host/metrics",
		"http://:only-password@host:1/m?a=b&c=%20": "http://:xxxxx@host:1/m?a=b&c=%20",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := redactURL(u); got != want || strings.Contains(got, "s3cret") || strings.Contains(got, "only-password") {
			t.Errorf("redactURL(%s) = %s, want %s", in, got, want)
		}
	}
	if redactURL(nil) != "" {
		t.Error("redactURL(nil) is not empty")
	}
}
