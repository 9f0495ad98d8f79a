package dashboards

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sh/vigil/internal/thresholds"
	"github.com/vigil-sh/vigil/rules"
)

// rateIntervalMarker stands for $__rate_interval when parsing: a duration no
// panel would write by hand, so the walk below can tell them apart.
const rateIntervalMarker = "7919s"

// expand substitutes the dashboard variables in a panel query, as Grafana
// does before sending it. Unknown variables are left alone (and then fail
// to parse).
func expand(expr string, vars map[string]string) string {
	return variableRef.ReplaceAllStringFunc(expr, func(ref string) string {
		name := strings.Trim(ref, "${}")
		if v, ok := vars[name]; ok {
			return v
		}
		return ref
	})
}

var variableRef = regexp.MustCompile(`\$\{\w+\}|\$\w+`)

var parseVars = map[string]string{"__rate_interval": rateIntervalMarker, "job": ".+", "instance": ".+"}

type panelQuery struct {
	dashboard, panel, expr string
}

func allQueries(t *testing.T) []panelQuery {
	t.Helper()
	var out []panelQuery
	for _, d := range loadCommitted(t) {
		for _, p := range panelsOf(d) {
			for _, q := range p.Targets {
				out = append(out, panelQuery{dashboard: d.UID, panel: p.Title, expr: q.Expr})
			}
		}
	}
	return out
}

func TestQueriesParse(t *testing.T) {
	for _, q := range allQueries(t) {
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(expand(q.expr, parseVars)); err != nil {
			t.Errorf("%s / %s: %q does not parse: %v", q.dashboard, q.panel, q.expr, err)
		}
		if strings.Contains(expand(q.expr, parseVars), "$") {
			t.Errorf("%s / %s: %q uses a variable the dashboards do not define", q.dashboard, q.panel, q.expr)
		}
	}
}

// TestQueriesUseExporterIdentity (issue 9): the exporter families carry
// job and instance like the real exporters' series, and no target or kind
// label; only the agent's own vigil_* series keep target and kind. A panel
// that selects, groups or labels exporter series by target or kind would
// show nothing.
func TestQueriesUseExporterIdentity(t *testing.T) {
	agentOwn := func(name string) bool { return strings.HasPrefix(name, "vigil_") }
	for _, d := range loadCommitted(t) {
		for _, p := range panelsOf(d) {
			for _, q := range p.Targets {
				e, err := parser.NewParser(parser.Options{}).ParseExpr(expand(q.Expr, parseVars))
				if err != nil {
					continue // reported by TestQueriesParse
				}
				selfMetrics := false
				parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
					vs, ok := n.(*parser.VectorSelector)
					if !ok {
						return nil
					}
					if agentOwn(vs.Name) {
						selfMetrics = true
						return nil
					}
					for _, m := range vs.LabelMatchers {
						if m.Name == "target" || m.Name == "kind" {
							t.Errorf("%s / %s: %s matches on %s, which exporter series do not carry", d.UID, p.Title, vs, m.Name)
						}
					}
					return nil
				})
				if selfMetrics {
					continue
				}
				parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
					if a, ok := n.(*parser.AggregateExpr); ok && (slices.Contains(a.Grouping, "target") || slices.Contains(a.Grouping, "kind")) {
						t.Errorf("%s / %s: aggregates by %v, which exporter series do not carry", d.UID, p.Title, a.Grouping)
					}
					return nil
				})
				if strings.Contains(q.LegendFormat, "{{target}}") || strings.Contains(q.LegendFormat, "{{kind}}") {
					t.Errorf("%s / %s: legend %q names a label exporter series do not carry; use {{instance}}", d.UID, p.Title, q.LegendFormat)
				}
			}
		}
	}
}

// TestRangesUseRateInterval: every rate and irate uses $__rate_interval;
// increase does too, except over the SLO window where the error budget is
// counted. Slow-moving functions (deriv, predict_linear) keep fixed ranges.
func TestRangesUseRateInterval(t *testing.T) {
	marker, err := time.ParseDuration(rateIntervalMarker)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range allQueries(t) {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(expand(q.expr, parseVars))
		if err != nil {
			continue // reported by TestQueriesParse
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			call, ok := n.(*parser.Call)
			if !ok || !slices.Contains([]string{"rate", "irate", "increase"}, call.Func.Name) {
				return nil
			}
			ms, ok := call.Args[0].(*parser.MatrixSelector)
			if !ok {
				return nil
			}
			if ms.Range == marker || (call.Func.Name == "increase" && ms.Range == thresholds.SLOWindow) {
				return nil
			}
			t.Errorf("%s / %s: %s over %s, want [$__rate_interval]", q.dashboard, q.panel, call.Func.Name, ms.Range)
			return nil
		})
	}
}

// knownMetrics reads the names docs/metrics.md promises: the first column
// of its tables, and every backquoted name written with its labels
// (`up{job,instance}`, `ALERTS{...}`). A trailing * is a prefix.
func knownMetrics(t *testing.T) (names map[string]bool, prefixes []string) {
	t.Helper()
	raw, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	names = map[string]bool{}
	code := regexp.MustCompile("`([^`]+)`")
	ident := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*\*?$`)
	add := func(s string) {
		s = strings.TrimSpace(s)
		if i := strings.IndexByte(s, '{'); i > 0 {
			s = s[:i]
		}
		if !ident.MatchString(s) {
			return
		}
		if p, ok := strings.CutSuffix(s, "*"); ok {
			prefixes = append(prefixes, p)
			return
		}
		names[s] = true
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 && strings.HasPrefix(line, "|") {
			for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
				add(m[1])
			}
		}
		for _, m := range code.FindAllStringSubmatch(line, -1) {
			if strings.Contains(m[1], "{") {
				add(m[1])
			}
		}
	}
	if len(names) < 50 {
		t.Fatalf("read only %d metric names from docs/metrics.md; has its format changed?", len(names))
	}
	return names, prefixes
}

// recordingRules reads the names recorded by rules/files/*.yml.
func recordingRules(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../rules/files/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files under rules/files (%v)", err)
	}
	out := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out
}

func TestQueriesUseKnownMetrics(t *testing.T) {
	known, prefixes := knownMetrics(t)
	recorded := recordingRules(t)
	isKnown := func(name string) bool {
		if known[name] || recorded[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
				return true
			}
		}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	used := 0
	for _, q := range allQueries(t) {
		names, err := rules.MetricNames(expand(q.expr, parseVars))
		if err != nil {
			t.Errorf("%s / %s: %v", q.dashboard, q.panel, err)
			continue
		}
		if len(names) == 0 && !strings.Contains(q.expr, "vector(") {
			t.Errorf("%s / %s: %q selects no metric", q.dashboard, q.panel, q.expr)
		}
		for _, n := range names {
			used++
			if !isKnown(n) {
				t.Errorf("%s / %s: metric %s is neither in docs/metrics.md nor recorded by rules/files", q.dashboard, q.panel, n)
			}
		}
	}
	if used == 0 {
		t.Fatal("no metric names found in any query")
	}
}

// TestThresholdsMatchAlerts: a panel that shows an alerted quantity draws
// the alert's threshold, taken from package thresholds.
func TestThresholdsMatchAlerts(t *testing.T) {
	var burnFactors []float64
	for _, br := range thresholds.BurnRates {
		burnFactors = append(burnFactors, br.Factor)
	}
	cases := []struct {
		dashboard, panel string
		want             []float64
	}{
		{"vigil-service", "Error Rate", []float64{thresholds.ErrorRatio}},
		{"vigil-service", "Error ratio by route", []float64{thresholds.ErrorRatio}},
		{"vigil-service", "Response Time (p95)", []float64{thresholds.LatencyP95Seconds}},
		{"vigil-service", "Requests within latency objective", []float64{thresholds.LatencySLO}},
		{"vigil-service", "Availability burn rate", burnFactors},
		{"vigil-service", "Latency burn rate", burnFactors},
		{"vigil-mongodb", "Connection usage", []float64{thresholds.MongoConnRatio}},
		{"vigil-mongodb", "Replication lag", []float64{thresholds.ReplicationLagSeconds}},
		{"vigil-redis", "Memory usage", []float64{thresholds.RedisMemoryRatio}},
		{"vigil-host", "Host memory used", []float64{thresholds.MemoryRatio}},
		{"vigil-host", "Container memory used", []float64{thresholds.MemoryRatio}},
		{"vigil-host", "Free space", []float64{thresholds.DiskFreeRatio}},
		{"vigil-host", "Free inodes", []float64{thresholds.InodeFreeRatio}},
		{"vigil-host", "Predicted time to full", []float64{thresholds.DiskPredictHorizon.Seconds()}},
		{"vigil-endpoints", "TLS certificate days left", []float64{thresholds.CertExpiryDays}},
		{"vigil-endpoints", "Probe failure ratio", []float64{thresholds.ProbeFailureRatio}},
	}
	panels := map[string]committedPanel{}
	for _, d := range loadCommitted(t) {
		for _, p := range panelsOf(d) {
			panels[d.UID+"/"+p.Title] = p
		}
	}
	for _, tc := range cases {
		t.Run(tc.dashboard+"/"+tc.panel, func(t *testing.T) {
			p, ok := panels[tc.dashboard+"/"+tc.panel]
			if !ok {
				t.Fatalf("no panel %q in %s", tc.panel, tc.dashboard)
			}
			var got []float64
			for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
				if s.Value != nil {
					got = append(got, *s.Value)
				}
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(got, func(g float64) bool { return math.Abs(g-w) < 1e-9 }) {
					t.Errorf("threshold steps %v lack %v", got, w)
				}
			}
		})
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`rate(x{job=~"$job"}[$__rate_interval])`, `rate(x{job=~"a|b"}[1m])`},
		{`x{instance=~"${instance}", job=~"$job"}`, `x{instance=~"i:1", job=~"a|b"}`},
		{`x{job=~"$jobs"} $__interval`, `x{job=~"$jobs"} $__interval`},
	} {
		got := expand(tc.in, map[string]string{"__rate_interval": "1m", "job": "a|b", "instance": "i:1"})
		if got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPromDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{5 * time.Minute, "5m"},
		{90 * time.Minute, "90m"},
		{time.Hour, "1h"},
		{6 * time.Hour, "6h"},
		{24 * time.Hour, "1d"},
		{72 * time.Hour, "3d"},
		{thresholds.SLOWindow, "30d"},
	} {
		if got := promDuration(tc.in); got != tc.want {
			t.Errorf("promDuration(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
