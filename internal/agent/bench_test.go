package agent

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// BenchmarkScrapeWith50Targets measures /metrics latency over real HTTP with
// 50 HTTP targets probed every second, all healthy or with 10 of them
// pointing at listeners that accept and never answer (each probe hanging
// for its whole 500ms timeout). The two must be indistinguishable: a scrape
// only copies stored results.
// BenchmarkScrapeWith50Targets times /metrics (every target's series) and
// /probe?target= (one healthy target's) with 50 targets, none or 10 of them
// hung: compare the p99 of each path hung/none, in one run.
func BenchmarkScrapeWith50Targets(b *testing.B) {
	for _, path := range []string{"/metrics", "/probe?target=t20"} {
		for _, hung := range []int{0, 10} {
			name := "none_hung"
			if hung > 0 {
				name = fmt.Sprintf("%d_hung", hung)
			}
			b.Run(strings.TrimPrefix(strings.SplitN(path, "?", 2)[0], "/")+"/"+name, func(b *testing.B) { benchmarkScrape(b, path, 50, hung) })
		}
	}
}

func benchmarkScrape(b *testing.B, path string, total, hung int) {
	srv := okServer(b)
	var cfg strings.Builder
	cfg.WriteString("global: {interval: 1s, timeout: 500ms}\ntargets:\n")
	for i := range total {
		url := fmt.Sprintf("%s/t%d", srv.URL, i)
		if i < hung {
			url = "http://" + testserver.Silent(b) + "/"
		}
		fmt.Fprintf(&cfg, "- {name: t%d, kind: http, http: {url: %q}}\n", i, url)
	}
	a := newTestAgent(b, cfg.String(), nil)
	waitFor(b, 5*time.Second, "every healthy target probed", func() bool {
		for i, ts := range a.Targets() {
			if i >= hung && ts.Probes == 0 {
				return false
			}
		}
		return true
	})
	web := httptest.NewServer(a.Handler())
	b.Cleanup(web.Close)
	client := web.Client()

	lat := make([]time.Duration, 0, 4096)
	for b.Loop() {
		t0 := time.Now()
		resp, err := client.Get(web.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s = %d", path, resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-us")
	b.ReportMetric(pct(0.99), "p99-us")
	b.ReportMetric(pct(1), "max-us")
}
