package alerts

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
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
