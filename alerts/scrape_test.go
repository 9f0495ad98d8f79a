package alerts

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// lastSample returns the newest sample of the one series matching sel, and
// whether there is one.
func lastSample(t *testing.T, e *running, sel ...*labels.Matcher) (int64, float64, bool) {
	t.Helper()
	e.mu.Lock()
	db := e.db
	e.mu.Unlock()
	q, err := db.Querier(0, math.MaxInt64)
	if err != nil {
		t.Fatalf("querier: %v", err)
	}
	defer q.Close()
	ss := q.Select(t.Context(), false, nil, sel...)
	var (
		ts    int64
		v     float64
		found bool
		n     int
	)
	for ss.Next() {
		n++
		it := ss.At().Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			ts, v = it.At()
			found = true
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatalf("select %v: %v", sel, err)
	}
	if n > 1 {
		t.Fatalf("select %v: %d series, want 1", sel, n)
	}
	return ts, v, found
}

func eq(name, value string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchEqual, name, value)
}

// TestScrapeWritesUpAndStalenessMarkers checks the series Prometheus writes
// per scrape, and that a dying target leaves up=0 and stale series, and a
// removed target stale report series too.
func TestScrapeWritesUpAndStalenessMarkers(t *testing.T) {
	target := newApp(t, "# TYPE app_items gauge\napp_items{job=\"inner\"} 3\n")
	cfg := testConfig(nil, []string{target.metricsURL()})
	e := startEngine(t, t.TempDir(), cfg, nil)
	inst := target.host()

	eventually(t, 10*time.Second, "up{job=app} == 1", func() bool {
		_, v, ok := lastSample(t, e, eq("__name__", "up"), eq("job", "app"), eq("instance", inst))
		return ok && v == 1
	})
	checks := []struct {
		name string
		sel  []*labels.Matcher
		ok   func(float64) bool
	}{
		{"scraped sample keeps the target's job, the exposed one as exported_job", []*labels.Matcher{eq("__name__", "app_items"), eq("job", "app"), eq("exported_job", "inner"), eq("env", "test")}, func(v float64) bool { return v == 3 }},
		{"scrape_duration_seconds", []*labels.Matcher{eq("__name__", "scrape_duration_seconds"), eq("job", "app")}, func(v float64) bool { return v > 0 && v < 1 }},
		{"scrape_samples_scraped", []*labels.Matcher{eq("__name__", "scrape_samples_scraped"), eq("job", "app")}, func(v float64) bool { return v == 1 }},
		{"scrape_samples_post_metric_relabeling", []*labels.Matcher{eq("__name__", "scrape_samples_post_metric_relabeling"), eq("job", "app")}, func(v float64) bool { return v == 1 }},
		{"scrape_series_added, 0 once the series exist", []*labels.Matcher{eq("__name__", "scrape_series_added"), eq("job", "app")}, func(v float64) bool { return v == 0 }},
		{"self-scrape as job=agent", []*labels.Matcher{eq("__name__", "vigil_alertmanagers_discovered"), eq("job", "agent"), eq("instance", "agent-test:9100")}, func(v float64) bool { return v == 0 }},
		{"self-scrape up", []*labels.Matcher{eq("__name__", "up"), eq("job", "agent")}, func(v float64) bool { return v == 1 }},
	}
	for _, c := range checks {
		eventually(t, 10*time.Second, c.name, func() bool {
			_, v, ok := lastSample(t, e, c.sel...)
			return ok && c.ok(v)
		})
	}

	target.Close() // the target dies: up 0, its series stale
	eventually(t, 10*time.Second, "up{job=app} == 0", func() bool {
		_, v, ok := lastSample(t, e, eq("__name__", "up"), eq("job", "app"))
		return ok && v == 0
	})
	_, v, _ := lastSample(t, e, eq("__name__", "app_items"))
	if !value.IsStaleNaN(v) {
		t.Errorf("app_items after the target died = %v, want a staleness marker", v)
	}

	// Removing the target marks even its report series stale.
	if err := e.ApplyConfig(testConfig(nil, nil)); err != nil {
		t.Fatalf("ApplyConfig without targets: %v", err)
	}
	for _, name := range reportNames {
		_, v, _ := lastSample(t, e, eq("__name__", name), eq("job", "app"))
		if !value.IsStaleNaN(v) {
			t.Errorf("%s after the target was removed = %v, want a staleness marker", name, v)
		}
	}
}

// TestSlowTargetDoesNotDelayOthers scrapes a target that hangs past its
// timeout beside a healthy one.
func TestSlowTargetDoesNotDelayOthers(t *testing.T) {
	fast := newApp(t, "app_items 1\n")
	slowSrv, _ := newHangingServer(t)
	cfg := testConfig(nil, []string{fast.metricsURL(), slowSrv.URL + "/metrics"})
	e := startEngine(t, t.TempDir(), cfg, nil)

	eventually(t, 10*time.Second, "slow target up == 0 after its timeout", func() bool {
		_, v, ok := lastSample(t, e, eq("__name__", "up"), eq("instance", strings.TrimPrefix(slowSrv.URL, "http://")))
		return ok && v == 0
	})
	// The fast target keeps its 100ms schedule meanwhile.
	t0, _, _ := lastSample(t, e, eq("__name__", "up"), eq("instance", fast.host()))
	time.Sleep(600 * time.Millisecond)
	t1, v, _ := lastSample(t, e, eq("__name__", "up"), eq("instance", fast.host()))
	if v != 1 || t1-t0 < 300 {
		t.Errorf("fast target: up=%v, advanced %dms in 600ms, want up=1 and ≥300ms of new samples", v, t1-t0)
	}
}

func TestFlatten(t *testing.T) {
	base := labels.FromStrings("instance", "h:1", "job", "app")
	cases := []struct {
		name string
		text string
		want map[string]float64 // series string → value
	}{
		{
			name: "counter and gauge",
			text: "# TYPE c_total counter\nc_total{a=\"x\"} 2\n# TYPE g gauge\ng 1.5\n",
			want: map[string]float64{
				`{__name__="c_total", a="x", instance="h:1", job="app"}`: 2,
				`{__name__="g", instance="h:1", job="app"}`:              1.5,
			},
		},
		{
			name: "histogram without +Inf bucket line gets one from the count",
			text: "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 2\nh_count 3\n",
			want: map[string]float64{
				`{__name__="h_bucket", instance="h:1", job="app", le="0.5"}`:  1,
				`{__name__="h_bucket", instance="h:1", job="app", le="+Inf"}`: 3,
				`{__name__="h_sum", instance="h:1", job="app"}`:               2,
				`{__name__="h_count", instance="h:1", job="app"}`:             3,
			},
		},
		{
			name: "summary",
			text: "# TYPE s summary\ns{quantile=\"0.9\"} 7\ns_sum 10\ns_count 4\n",
			want: map[string]float64{
				`{__name__="s", instance="h:1", job="app", quantile="0.9"}`: 7,
				`{__name__="s_sum", instance="h:1", job="app"}`:             10,
				`{__name__="s_count", instance="h:1", job="app"}`:           4,
			},
		},
		{
			name: "target labels win; exposed ones are kept as exported_",
			text: "u{instance=\"inner:2\",job=\"x\"} 1\n",
			want: map[string]float64{
				`{__name__="u", exported_instance="inner:2", exported_job="x", instance="h:1", job="app"}`: 1,
			},
		},
		{
			name: "an exposed exported_job is not overwritten",
			text: "v{job=\"x\",exported_job=\"y\"} 1\n",
			want: map[string]float64{
				`{__name__="v", exported_exported_job="x", exported_job="y", instance="h:1", job="app"}`: 1,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := expfmt.NewTextParser(model.UTF8Validation)
			famMap, err := p.TextToMetricFamilies(strings.NewReader(c.text))
			if err != nil {
				t.Fatal(err)
			}
			var fams []*dto.MetricFamily
			for _, f := range famMap {
				fams = append(fams, f)
			}
			got := map[string]float64{}
			for _, s := range flatten(fams, base) {
				got[s.ls.String()] = s.v
			}
			if len(got) != len(c.want) {
				t.Errorf("got %d series %v, want %d %v", len(got), got, len(c.want), c.want)
			}
			for k, v := range c.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
		})
	}
}

func TestGatherWithContextTimesOut(t *testing.T) {
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stuck", Help: "blocks"}, func() float64 {
		<-stuck
		return 1
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := gatherWithContext(ctx, reg); err == nil {
		t.Fatal("gather of a stuck collector succeeded, want a timeout")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gather returned after %v, want about the 100ms timeout", d)
	}
}

// FuzzFlatten feeds arbitrary expositions through the scrape parser and
// checks every sample could be stored: a metric name, the target's labels
// untouched, no duplicate label names.
func FuzzFlatten(f *testing.F) {
	for _, seed := range []string{
		"up 1\n",
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
		"# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n",
		"m{job=\"x\",exported_job=\"y\",exported_exported_job=\"z\",instance=\"i\"} 1\n",
		"# TYPE c counter\nc_total{a=\"1\"} 1 1700000000000\n",
	} {
		f.Add(seed)
	}
	base := labels.FromStrings("env", "test", "instance", "h:1", "job", "app")
	f.Fuzz(func(t *testing.T, text string) {
		p := expfmt.NewTextParser(model.UTF8Validation)
		famMap, err := p.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			return
		}
		var fams []*dto.MetricFamily
		for _, mf := range famMap {
			fams = append(fams, mf)
		}
		for _, s := range flatten(fams, base) {
			if s.ls.Get(model.MetricNameLabel) == "" {
				t.Fatalf("sample without a name: %s", s.ls)
			}
			if _, dup := s.ls.HasDuplicateLabelNames(); dup {
				t.Fatalf("duplicate label names: %s", s.ls)
			}
			base.Range(func(l labels.Label) {
				if got := s.ls.Get(l.Name); got != l.Value {
					t.Fatalf("target label %s = %q in %s, want %q", l.Name, got, s.ls, l.Value)
				}
			})
		}
	})
}

// TestScrapeBearerToken scrapes an endpoint that requires a bearer token.
func TestScrapeBearerToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, "app_items 1")
	}))
	t.Cleanup(srv.Close)
	cases := []struct {
		token  string
		wantUp float64
	}{{"t0ken", 1}, {"", 0}, {"wrong", 0}}
	for _, c := range cases {
		t.Run("token="+c.token, func(t *testing.T) {
			cfg := testConfig(nil, []string{srv.URL + "/api/metrics"})
			cfg.ScrapeConfigs[0].BearerToken = c.token
			e := startEngine(t, t.TempDir(), cfg, nil)
			eventually(t, 10*time.Second, "a scrape", func() bool {
				_, _, ok := lastSample(t, e, eq("__name__", "up"), eq("job", "app"))
				return ok
			})
			if _, v, _ := lastSample(t, e, eq("__name__", "up"), eq("job", "app")); v != c.wantUp {
				t.Errorf("up = %v, want %v", v, c.wantUp)
			}
		})
	}
}
