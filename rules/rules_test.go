package rules

import (
	"bytes"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// TestFilesUpToDate fails when the committed files under files/ (as
// embedded) differ from what the Go source renders.
func TestFilesUpToDate(t *testing.T) {
	want, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := fs.Glob(Files, "files/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range embedded {
		if _, ok := want[filepath.Base(p)]; !ok {
			t.Errorf("%s has no source any more; run `go generate ./rules/...`", p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		for _, src := range []struct {
			what string
			read func(string) ([]byte, error)
		}{
			{"embedded", func(n string) ([]byte, error) { return fs.ReadFile(Files, "files/"+n) }},
			{"on disk", func(n string) ([]byte, error) { return os.ReadFile(filepath.Join("files", n)) }},
		} {
			got, err := src.read(name)
			if err != nil {
				t.Errorf("files/%s (%s): %v; run `go generate ./rules/...`", name, src.what, err)
				continue
			}
			if !bytes.Equal(got, want[name]) {
				t.Errorf("files/%s (%s) is out of date with the Go source; run `go generate ./rules/...`", name, src.what)
			}
		}
	}
}

func TestRunbookIndexUpToDate(t *testing.T) {
	p := filepath.Join("..", "docs", "runbooks", "README.md")
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v; run `go generate ./rules/...`", err)
	}
	if !bytes.Equal(got, RunbookIndex()) {
		t.Errorf("%s is out of date with the rules; run `go generate ./rules/...`", p)
	}
	for _, name := range alertNames() {
		if !bytes.Contains(got, []byte("("+name+".md)")) {
			t.Errorf("%s does not link %s.md", p, name)
		}
	}
}

// TestFilesParse loads every embedded file as Prometheus does and checks it
// avoids what Prometheus 2.42 cannot load.
func TestFilesParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, f := range ByFile() {
		content, err := fs.ReadFile(Files, "files/"+f.Name)
		if err != nil {
			t.Fatal(err)
		}
		rgs, errs := rulefmt.Parse(content, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
		for _, err := range errs {
			t.Errorf("%s: %v", f.Name, err)
		}
		if rgs == nil {
			continue
		}
		for _, g := range rgs.Groups {
			if g.QueryOffset != nil || len(g.Labels) > 0 || g.Limit != 0 {
				t.Errorf("%s: group %s uses query_offset, labels or limit, which Prometheus 2.42 rejects or ignores", f.Name, g.Name)
			}
			for _, r := range g.Rules {
				if r.KeepFiringFor != 0 {
					t.Errorf("%s: %s%s uses keep_firing_for", f.Name, r.Alert, r.Record)
				}
			}
		}
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := lookPath(t, "promtool", "prometheus")
	files, err := filepath.Glob("files/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files under files/ (%v); run `go generate ./rules/...`", err)
	}
	out, err := exec.CommandContext(t.Context(), promtool, append([]string{"check", "rules"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := lookPath(t, "promtool", "prometheus")
	tests, err := filepath.Glob("tests/*.test.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no unit tests under tests/ (%v)", err)
	}
	out, err := exec.CommandContext(t.Context(), promtool, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestEveryAlertUnitTested requires, for every alert, a promtool unit test
// case where it fires and one where it stays silent.
func TestEveryAlertUnitTested(t *testing.T) {
	type testFile struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTests []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	fires, silent := map[string]int{}, map[string]int{}
	paths, err := filepath.Glob("tests/*.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var tf testFile
		if err := yaml.Unmarshal(b, &tf); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, tc := range tf.Tests {
			for _, at := range tc.AlertRuleTests {
				if len(at.ExpAlerts) > 0 {
					fires[at.Alertname]++
				} else {
					silent[at.Alertname]++
				}
			}
		}
	}
	for _, name := range alertNames() {
		if fires[name] == 0 {
			t.Errorf("alert %s: no promtool test case where it fires", name)
		}
		if silent[name] == 0 && name != "Watchdog" { // fires by design, always
			t.Errorf("alert %s: no promtool test case where it stays silent", name)
		}
	}
}

// TestAlertConventions checks what on-call relies on in every alert.
func TestAlertConventions(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range Groups().Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				continue
			}
			t.Run(r.Alert, func(t *testing.T) {
				if seen[r.Alert] {
					t.Errorf("alert %s defined twice", r.Alert)
				}
				seen[r.Alert] = true
				switch r.Labels["severity"] {
				case SeverityCritical, SeverityWarning, SeverityInfo:
				default:
					t.Errorf("severity = %q, want critical, warning or info", r.Labels["severity"])
				}
				for _, a := range []string{"summary", "description", "runbook_url"} {
					if r.Annotations[a] == "" {
						t.Errorf("annotation %s missing", a)
					}
				}
				if want := RunbookBaseURL + r.Alert + ".md"; r.Annotations["runbook_url"] != want {
					t.Errorf("runbook_url = %q, want %q", r.Annotations["runbook_url"], want)
				}
				runbook := filepath.Join("..", "docs", "runbooks", r.Alert+".md")
				if b, err := os.ReadFile(runbook); err != nil {
					t.Errorf("runbook: %v", err)
				} else {
					for _, want := range []string{"# " + r.Alert + "\n", "Severity: **" + r.Labels["severity"] + "**", "## What it means", "## What to check", "## What to do"} {
						if !strings.Contains(string(b), want) {
							t.Errorf("runbook %s lacks %q", runbook, want)
						}
					}
				}
				if r.Alert == "Watchdog" { // always 1, about no target
					return
				}
				d := r.Annotations["description"]
				if !strings.Contains(d, "$value") {
					t.Errorf("description does not show the value: %q", d)
				}
				if !regexp.MustCompile(`\$labels\.(target|job|instance)`).MatchString(d) {
					t.Errorf("description does not name the target, job or instance: %q", d)
				}
			})
		}
	}
}

// TestExpressionsUseKnownMetrics checks that every rule selects only metrics
// in docs/metrics.md, series Prometheus itself writes, or recording rules.
func TestExpressionsUseKnownMetrics(t *testing.T) {
	known, prefixes := documentedMetrics(t)
	for _, g := range Groups().Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = true
			}
		}
	}
	for _, g := range Groups().Groups {
		for _, r := range g.Rules {
			names, err := MetricNames(r.Expr)
			if err != nil {
				t.Errorf("%s%s: %v", r.Alert, r.Record, err)
				continue
			}
		name:
			for _, n := range names {
				if known[n] {
					continue
				}
				for _, p := range prefixes {
					if strings.HasPrefix(n, p) {
						continue name
					}
				}
				t.Errorf("%s%s uses %s, which is neither in docs/metrics.md nor a recording rule", r.Alert, r.Record, n)
			}
		}
	}
}

// documentedMetrics reads the metric names out of the tables of
// docs/metrics.md: backquoted names in a row's first cell, with the
// _bucket/_sum/_count series of histograms, and name_* wildcards as prefixes.
func documentedMetrics(t *testing.T) (map[string]bool, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Series the scraper and the rule engine write, as Prometheus does.
	known := map[string]bool{"up": true, "scrape_duration_seconds": true, "ALERTS": true, "ALERTS_FOR_STATE": true}
	var prefixes []string
	nameRE := regexp.MustCompile("`([a-zA-Z_:][a-zA-Z0-9_:]*)(\\*?)`")
	for line := range strings.SplitSeq(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		histogram := strings.Contains(line, "histogram")
		for _, m := range nameRE.FindAllStringSubmatch(cells[1], -1) {
			if m[2] == "*" {
				prefixes = append(prefixes, m[1])
				continue
			}
			known[m[1]] = true
			if histogram {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					known[m[1]+s] = true
				}
			}
		}
	}
	if len(known) < 20 {
		t.Fatalf("found only %d metric names in docs/metrics.md; has its table format changed?", len(known))
	}
	return known, prefixes
}

func alertNames() []string {
	var names []string
	for _, g := range Groups().Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

func lookPath(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found (%v): install it with `apt-get install -y %s`", bin, err, pkg)
	}
	return p
}
