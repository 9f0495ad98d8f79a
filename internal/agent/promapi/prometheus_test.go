package promapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// demoTarget serves counters, gauges and a classic histogram whose values
// change with every scrape. Values are integers or binary fractions, so
// sums are exact whatever the summation order.
func demoTarget(t testing.TB) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := n.Add(1)
		fmt.Fprintf(w, `# TYPE demo_requests_total counter
demo_requests_total{code="200",path="/a"} %d
demo_requests_total{code="500",path="/a"} %d
demo_requests_total{code="200",path="/b"} %d
# TYPE demo_temperature gauge
demo_temperature{room="a"} %d
demo_temperature{room="b"} %g
# TYPE demo_latency_seconds histogram
demo_latency_seconds_bucket{le="0.1"} %d
demo_latency_seconds_bucket{le="0.5"} %d
demo_latency_seconds_bucket{le="1"} %d
demo_latency_seconds_bucket{le="+Inf"} %d
demo_latency_seconds_sum %g
demo_latency_seconds_count %d
`, 3*i, i/4, i*i, 20+(7*i)%11, float64(i%5)/4, i, 2*i+i%3, 2*i+i/2, 3*i, float64(i)/4, 3*i)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sameData starts Prometheus 2.42 scraping target every 100ms until each
// series has minSamples samples, copies every raw sample it stored into a
// TSDB set up as the agent's, and returns clients of both APIs, the
// samples' timestamps and the span every series covers.
type sameData struct {
	prom, agent       promv1.API
	promURL, agentURL string
	stamps            map[int64]bool
	first, last       int64 // ms
}

func newSameData(t testing.TB, target string, minSamples int) *sameData {
	t.Helper()
	prom := testserver.Prometheus(t, fmt.Sprintf(`
global: {scrape_interval: 100ms, scrape_timeout: 90ms}
scrape_configs:
  - job_name: src
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(target, "http://")), nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d := &sameData{prom: prom.API(), promURL: prom.URL, stamps: map[int64]bool{}}

	var raw model.Matrix
	for {
		v, _, _, err := d.prom.Query(ctx, `{job="src"}[1h]`, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		raw = v.(model.Matrix)
		if len(raw) > 0 && len(raw[0].Values) >= minSamples {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus has not scraped %d times: %d series", minSamples, len(raw))
		case <-time.After(500 * time.Millisecond):
		}
	}

	src := newTestSource(t, 0)
	for _, s := range raw {
		b := labels.NewScratchBuilder(len(s.Metric))
		for k, v := range s.Metric {
			b.Add(string(k), string(v))
		}
		b.Sort()
		ls := b.Labels()
		ss := make([]sample, len(s.Values))
		for i, p := range s.Values {
			ss[i] = sample{ls, int64(p.Timestamp), float64(p.Value)}
			d.stamps[int64(p.Timestamp)] = true
		}
		src.append(t, ss...)
		if f := int64(s.Values[0].Timestamp); d.first == 0 || f > d.first {
			d.first = f // the latest first sample: every series has data after it
		}
		if l := int64(s.Values[len(s.Values)-1].Timestamp); d.last == 0 || l < d.last {
			d.last = l // the earliest last sample: no series has unseen data before it
		}
	}
	d.agentURL = serve(t, Options{Source: src})
	c, err := api.NewClient(api.Config{Address: d.agentURL, Client: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	d.agent = promv1.NewAPI(c)
	return d
}

// TestQueryMatchesPrometheus: the same queries over the same samples give
// the same results from the agent's API as from Prometheus 2.42. Prometheus
// scrapes a target; every raw sample it stored is copied into the agent's
// TSDB, then both are queried at instants where the two engines' range
// semantics agree (Prometheus 3's ranges are left-open, 2.42's closed: no
// window may start exactly on a sample).
func TestQueryMatchesPrometheus(t *testing.T) {
	d := newSameData(t, demoTarget(t).URL, 50)
	papi, aapi, stamps, first, last := d.prom, d.agent, d.stamps, d.first, d.last
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	ranges := []int64{500, 1000, 2000} // ms, the range selectors below
	// clearOf reports whether no window ending at ts starts on a sample.
	clearOf := func(ts ...int64) bool {
		for _, t := range ts {
			for _, r := range ranges {
				if stamps[t-r] {
					return false
				}
			}
		}
		return true
	}
	var instants []int64
	for _, base := range []int64{last, last - 1500, first + 2500} {
		for d := int64(1); d < 100; d++ {
			if clearOf(base+d) && base+d <= last {
				instants = append(instants, base+d)
				break
			}
			if clearOf(base - d) {
				instants = append(instants, base-d)
				break
			}
		}
	}
	step := int64(250)
	var rangeStart int64
	for s := first + 2000; s < first+2100; s++ {
		var pts []int64
		for p := s; p <= last; p += step {
			pts = append(pts, p)
		}
		if clearOf(pts...) {
			rangeStart = s
			break
		}
	}
	if len(instants) != 3 || rangeStart == 0 {
		t.Fatalf("no evaluation times clear of sample timestamps: %v, %d", instants, rangeStart)
	}

	queries := []string{
		`demo_requests_total`,
		`demo_requests_total{code!="500"} offset 1s`,
		`rate(demo_requests_total[1s])`,
		`sum by (code) (increase(demo_requests_total[2s]))`,
		`irate(demo_requests_total{path="/b"}[1s])`,
		`delta(demo_temperature[2s])`,
		`deriv(demo_temperature[2s])`,
		`avg_over_time(demo_temperature[1s])`,
		`max_over_time(demo_temperature[2s]) - min_over_time(demo_temperature[2s])`,
		`count_over_time(demo_temperature[500ms])`,
		`changes(demo_temperature[2s])`,
		`resets(demo_requests_total[2s])`,
		`histogram_quantile(0.9, sum by (le) (rate(demo_latency_seconds_bucket[2s])))`,
		`histogram_quantile(0.5, rate(demo_latency_seconds_bucket[1s]))`,
		`rate(demo_latency_seconds_sum[1s]) / rate(demo_latency_seconds_count[1s])`,
		`topk(2, demo_requests_total)`,
		`bottomk(1, demo_temperature)`,
		`sort_desc(sum without (path) (demo_requests_total))`,
		`demo_temperature > 0.5`,
		`demo_temperature > bool 20`,
		`demo_requests_total / on (code, path) group_left demo_requests_total`,
		`count by (job) (up)`,
		`up == 1`,
		`scrape_samples_scraped`,
		`label_replace(demo_temperature, "where", "room-$1", "room", "(.*)")`,
		`absent(nothing_here)`,
		`vector(1) + scalar(sum(up))`,
		`time() - timestamp(demo_temperature)`,
		`quantile(0.5, demo_requests_total)`,
		`stddev(demo_temperature)`,
		`count(count by (path) (demo_requests_total))`,
		`demo_temperature[1s]`,
		`1 + 2 * 3`,
	}
	// Values to 12 significant digits: Prometheus 3 sums with Kahan
	// compensation (avg_over_time gives 24.8 where 2.42 gives
	// 24.799999999999997); metrics, timestamps and counts are exact.
	g := func(v model.SampleValue) string { return strconv.FormatFloat(float64(v), 'g', 12, 64) }
	sorted := func(v model.Value) string {
		var lines []string
		switch v := v.(type) {
		case model.Vector:
			for _, s := range v {
				lines = append(lines, fmt.Sprintf("%s %s @%d", s.Metric, g(s.Value), s.Timestamp))
			}
		case model.Matrix:
			for _, s := range v {
				l := s.Metric.String()
				for _, p := range s.Values {
					l += fmt.Sprintf(" %s@%d", g(p.Value), p.Timestamp)
				}
				lines = append(lines, l)
			}
		default:
			lines = append(lines, v.String())
		}
		slices.Sort(lines)
		return v.Type().String() + "\n" + strings.Join(lines, "\n")
	}
	compare := func(what string, p, a model.Value, perr, aerr error) {
		t.Helper()
		if perr != nil || aerr != nil {
			t.Errorf("%s: Prometheus: %v; agent: %v", what, perr, aerr)
			return
		}
		if ps, as := sorted(p), sorted(a); ps != as {
			t.Errorf("%s differs\nPrometheus: %s\nagent:      %s", what, ps, as)
		}
	}
	nonEmpty := 0
	for _, q := range queries {
		for _, ts := range instants {
			at := time.UnixMilli(ts)
			p, _, _, perr := papi.Query(ctx, q, at)
			a, _, _, aerr := aapi.Query(ctx, q, at)
			compare(fmt.Sprintf("%s at %d", q, ts), p, a, perr, aerr)
			if v, ok := a.(model.Vector); ok && len(v) > 0 {
				nonEmpty++
			}
		}
		if strings.HasSuffix(q, "[1s]") { // a range vector: no range query
			continue
		}
		r := promv1.Range{Start: time.UnixMilli(rangeStart), End: time.UnixMilli(last), Step: time.Duration(step) * time.Millisecond}
		p, _, _, perr := papi.QueryRange(ctx, q, r)
		a, _, _, aerr := aapi.QueryRange(ctx, q, r)
		compare(fmt.Sprintf("%s over %d..%d", q, rangeStart, last), p, a, perr, aerr)
	}
	if nonEmpty < len(queries) { // absent() is empty; most must not be
		t.Errorf("only %d of %d instant results are non-empty vectors", nonEmpty, 3*len(queries))
	}

	// Byte for byte, the encoding too (timestamps to the millisecond,
	// values' formats), for range queries whose values are exact.
	for _, q := range []string{`demo_requests_total`, `sum by (code) (rate(demo_requests_total[1s]))`, `demo_temperature / 1e9`, `scalar(count(up))`} {
		form := url.Values{"query": {q}, "start": {strconv.FormatFloat(float64(rangeStart)/1000, 'f', 3, 64)}, "end": {strconv.FormatFloat(float64(last)/1000, 'f', 3, 64)}, "step": {"0.25"}}
		_, p := call(t, http.MethodGet, d.promURL+"/api/v1/query_range", form)
		_, a := call(t, http.MethodGet, d.agentURL+"/api/v1/query_range", form)
		if p.Status != "success" || string(p.Data) != string(a.Data) {
			t.Errorf("query_range %s, JSON differs:\nPrometheus %s %s\nagent      %s %s", q, p.Status, p.Data, a.Status, a.Data)
		}
	}
	_, p := call(t, http.MethodGet, d.promURL+"/api/v1/query", url.Values{"query": {"1e-9 * 3"}, "time": {"1700000000.5"}})
	_, a := call(t, http.MethodGet, d.agentURL+"/api/v1/query", url.Values{"query": {"1e-9 * 3"}, "time": {"1700000000.5"}})
	if string(p.Data) != string(a.Data) {
		t.Errorf("scalar JSON differs: Prometheus %s, agent %s", p.Data, a.Data)
	}

	// What Grafana's editor and exemplar toggle ask for. Neither side
	// stores exemplars (2.42 without the feature flag).
	for _, path := range []string{
		"/api/v1/format_query?query=" + url.QueryEscape(`sum(rate(demo_requests_total{code!="500"}[1s]))by(path)/on()group_left count(up)`),
		"/api/v1/query_exemplars?query=demo_requests_total&start=0&end=" + strconv.FormatInt(last/1000, 10),
	} {
		_, p := call(t, http.MethodGet, d.promURL+path, nil)
		_, a := call(t, http.MethodGet, d.agentURL+path, nil)
		if p.Status != "success" || string(p.Data) != string(a.Data) {
			t.Errorf("%s: Prometheus %s %s, agent %s %s", path, p.Status, p.Data, a.Status, a.Data)
		}
	}

	// The metadata-free endpoints over the same series.
	start, end := time.UnixMilli(first), time.UnixMilli(last)
	for _, match := range [][]string{{`{job="src"}`}, {"demo_temperature", `up`}} {
		ps, _, _, perr := papi.Series(ctx, match, start, end)
		as, _, _, aerr := aapi.Series(ctx, match, start, end)
		if perr != nil || aerr != nil || fmt.Sprint(ps) != fmt.Sprint(as) {
			t.Errorf("series %q: Prometheus %v (%v), agent %v (%v)", match, ps, perr, as, aerr)
		}
		pl, _, _, perr := papi.LabelNames(ctx, match, start, end)
		al, _, _, aerr := aapi.LabelNames(ctx, match, start, end)
		if perr != nil || aerr != nil || fmt.Sprint(pl) != fmt.Sprint(al) {
			t.Errorf("label names %q: Prometheus %v (%v), agent %v (%v)", match, pl, perr, al, aerr)
		}
		pv, _, _, perr := papi.LabelValues(ctx, "__name__", match, start, end)
		av, _, _, aerr := aapi.LabelValues(ctx, "__name__", match, start, end)
		if perr != nil || aerr != nil || fmt.Sprint(pv) != fmt.Sprint(av) {
			t.Errorf("__name__ values %q: Prometheus %v (%v), agent %v (%v)", match, pv, perr, av, aerr)
		}
	}
}
