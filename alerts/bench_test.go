package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/rules"

	"github.com/vigil-sh/vigil/internal/cputime"
)

const (
	benchStep   = 15 * time.Second
	benchWindow = time.Hour
)

// benchEnd is the evaluation time: the end of the generated data.
var benchEnd = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// fillDB writes benchWindow of samples at benchStep for every series;
// counters (by name) grow at a per-series rate, gauges hold a value.
func fillDB(b *testing.B, series []labels.Labels) *tsdb.DB {
	b.Helper()
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = 0
	db, err := tsdb.Open(b.TempDir(), nil, nil, opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	start := benchEnd.Add(-benchWindow)
	for ts := start; !ts.After(benchEnd); ts = ts.Add(benchStep) {
		app := db.AppenderV2(context.Background())
		step := float64(ts.Sub(start) / benchStep)
		for i, ls := range series {
			name := ls.Get(model.MetricNameLabel)
			v := float64(i%7) + 0.5
			if isCounter(name) {
				v = step * float64(1+i%5)
			}
			if _, err := app.Append(0, ls, 0, ts.UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
				b.Fatalf("append %s: %v", ls, err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func isCounter(name string) bool {
	for _, s := range []string{"_total", "_bucket", "_count", "_sum"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// loadGroups builds the rule groups of files with the same options the
// Engine uses, without starting them.
func loadGroups(b *testing.B, db *tsdb.DB, loader ruleLoader, files []string) []*promrules.Group {
	b.Helper()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: loader.parser})
	m := promrules.NewManager(&promrules.ManagerOptions{
		AppendableV2: db,
		Queryable:    db,
		QueryFunc:    promrules.EngineQueryFunc(engine, db),
		NotifyFunc:   func(context.Context, string, ...*promrules.Alert) {},
		Context:      context.Background(),
		Logger:       slog.New(slog.DiscardHandler),
		ResendDelay:  time.Minute,
		GroupLoader:  loader,
		Parser:       loader.parser,
	})
	gm, errs := m.LoadGroups(15*time.Second, labels.EmptyLabels(), "", nil, false, files...)
	if len(errs) > 0 {
		b.Fatalf("loading rules: %v", errs)
	}
	out := make([]*promrules.Group, 0, len(gm))
	for _, g := range gm {
		out = append(out, g)
	}
	return out
}

// benchCycles evaluates every group once per iteration, at a fixed time so
// the cost does not drift as the data window slides.
func benchCycles(b *testing.B, groups []*promrules.Group, nSeries int) {
	b.Helper()
	nRules := 0
	for _, g := range groups {
		nRules += len(g.Rules())
	}
	ctx := context.Background()
	for _, g := range groups { // warm-up: first-evaluation state
		g.Eval(ctx, benchEnd)
	}
	b.ResetTimer()
	cpu0 := cputime.Process()
	for b.Loop() {
		for _, g := range groups {
			g.Eval(ctx, benchEnd)
		}
	}
	// CPU time as well as wall time: on a shared machine the wall time
	// measures the neighbours as much as the rules.
	b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(nRules), "rules")
	b.ReportMetric(float64(nSeries), "series")
	for _, g := range groups {
		for _, r := range g.Rules() {
			if err := r.LastError(); err != nil {
				b.Fatalf("rule %s in %s: %v", r.Name(), g.Name(), err)
			}
		}
	}
}

// shippedSeries invents the series the embedded rules select, with the
// label sets the app and the agent expose (docs/metrics.md).
func shippedSeries(b testing.TB, loader ruleLoader, files []string) []labels.Labels {
	b.Helper()
	names := map[string]bool{}
	for _, f := range files {
		rgs, errs := loader.Load(f, false, model.UTF8Validation)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				ns, err := rules.MetricNames(r.Expr)
				if err != nil {
					b.Fatal(err)
				}
				for _, n := range ns {
					if !strings.Contains(n, ":") && n != "ALERTS" && n != "ALERTS_FOR_STATE" {
						names[n] = true
					}
				}
			}
		}
	}
	routes := []string{"/api/projects", "/api/projects/{id}", "/api/projects/{id}/tasks", "/api/tasks/{id}", "/api/login", "/api/health", "/api/metrics", "unmatched"}
	les := []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
	var out []labels.Labels
	add := func(name string, kv ...string) {
		out = append(out, labels.FromStrings(append([]string{model.MetricNameLabel, name}, kv...)...))
	}
	for n := range names {
		switch {
		case n == "http_requests_total":
			for _, m := range []string{"GET", "POST", "DELETE"} {
				for _, r := range routes {
					for _, s := range []string{"200", "201", "404", "500"} {
						add(n, "job", "app", "instance", "app:8080", "method", m, "route", r, "status", s)
					}
				}
			}
		case strings.HasPrefix(n, "http_request_duration_seconds"):
			for _, m := range []string{"GET", "POST", "DELETE"} {
				for _, r := range routes {
					if strings.HasSuffix(n, "_bucket") {
						for _, le := range les {
							add(n, "job", "app", "instance", "app:8080", "method", m, "route", r, "le", le)
						}
					} else {
						add(n, "job", "app", "instance", "app:8080", "method", m, "route", r)
					}
				}
			}
		case strings.HasPrefix(n, "app_mongodb_command"):
			for _, c := range []string{"find", "insert", "update", "delete", "aggregate"} {
				if strings.HasSuffix(n, "_bucket") {
					for _, le := range les {
						add(n, "job", "app", "instance", "app:8080", "command", c, "le", le)
					}
				} else {
					add(n, "job", "app", "instance", "app:8080", "command", c)
				}
			}
		case strings.HasPrefix(n, "node_filesystem"):
			for _, mp := range []string{"/", "/data", "/var/lib/docker"} {
				add(n, "job", "agent", "instance", "agent:9100", "target", "host", "kind", "host", "device", "/dev/sda1", "fstype", "ext4", "mountpoint", mp)
			}
		case n == "up":
			add(n, "job", "app", "instance", "app:8080")
			add(n, "job", "agent", "instance", "agent:9100")
		case strings.HasPrefix(n, "probe_") || strings.HasPrefix(n, "redis_") || strings.HasPrefix(n, "mongodb_") || strings.HasPrefix(n, "node_") || strings.HasPrefix(n, "container_"):
			kind := strings.SplitN(n, "_", 2)[0]
			for _, tgt := range []string{"primary", "secondary", "web"} {
				add(n, "job", "agent", "instance", "agent:9100", "target", tgt, "kind", kind)
			}
		default:
			add(n, "job", "agent", "instance", "agent:9100")
		}
	}
	return out
}

// BenchmarkEvalShippedRules is one evaluation cycle of every embedded rule
// over an hour of realistic series.
func BenchmarkEvalShippedRules(b *testing.B) {
	loader := newRuleLoader(defaultRules(), slog.New(slog.DiscardHandler))
	files, err := ruleFileIDs(defaultRules(), &config.Config{})
	if err != nil {
		b.Fatal(err)
	}
	series := shippedSeries(b, loader, files)
	db := fillDB(b, series)
	benchCycles(b, loadGroups(b, db, loader, files), len(series))
}

// BenchmarkEval1000Rules10kSeries is one evaluation cycle of 1000 alerting
// rules in 10 groups over 10 000 series (100 metrics × 100 series).
func BenchmarkEval1000Rules10kSeries(b *testing.B) {
	var series []labels.Labels
	for m := range 100 {
		for s := range 100 {
			series = append(series, labels.FromStrings(model.MetricNameLabel, "bench_requests_"+strconv.Itoa(m)+"_total",
				"job", "app", "instance", "app-"+strconv.Itoa(s%10)+":8080", "route", "/r/"+strconv.Itoa(s/10)))
		}
	}
	var y strings.Builder
	y.WriteString("groups:\n")
	for g := range 10 {
		fmt.Fprintf(&y, "  - name: bench-%d\n    rules:\n", g)
		for r := range 100 {
			m := (g*100 + r) % 100
			switch r % 4 {
			case 0:
				fmt.Fprintf(&y, "      - alert: Rate%d_%d\n        expr: sum by (route) (rate(bench_requests_%d_total[5m])) > %d\n        for: 5m\n", g, r, m, r%7)
			case 1:
				fmt.Fprintf(&y, "      - alert: Instance%d_%d\n        expr: rate(bench_requests_%d_total{route=\"/r/%d\"}[5m]) > 0.2\n", g, r, m, r%10)
			case 2:
				fmt.Fprintf(&y, "      - alert: Ratio%d_%d\n        expr: sum(rate(bench_requests_%d_total{route=~\"/r/[0-4]\"}[10m])) / sum(rate(bench_requests_%d_total[10m])) > 0.4\n", g, r, m, (m+1)%100)
			default:
				fmt.Fprintf(&y, "      - alert: Increase%d_%d\n        expr: increase(bench_requests_%d_total{instance=\"app-%d:8080\"}[15m]) > 100\n        labels:\n          severity: warning\n        annotations:\n          summary: '{{ $labels.route }} is at {{ $value }}'\n", g, r, m, r%10)
			}
		}
	}
	path := filepath.Join(b.TempDir(), "bench.yml")
	if err := os.WriteFile(path, []byte(y.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	loader := newRuleLoader(nil, slog.New(slog.DiscardHandler))
	if err := checkRuleFiles(loader, []string{path}); err != nil {
		b.Fatal(err)
	}
	db := fillDB(b, series)
	benchCycles(b, loadGroups(b, db, loader, []string{path}), len(series))
}
