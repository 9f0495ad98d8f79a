package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// exporterPrefixes are the families the agent writes as the exporters do
// (issue 10 keeps adding to them): a rule reading one must be unit tested
// with series of it, not only with the families it read before.
var exporterPrefixes = []string{"redis_", "node_", "probe_", "mongodb_", "container_"}

// TestExporterFamiliesUnitTested requires, for every rule whose expression
// selects an exporter family, promtool test cases of that rule (alerts:
// alert_rule_test; recording rules: a promql_expr_test naming the record)
// whose input_series, together, feed each exporter family it selects.
// A rule changed to read a new family (redis_instance_info, node_hwmon_*,
// probe_http_version, …) then fails here until a test feeds it.
func TestExporterFamiliesUnitTested(t *testing.T) {
	type testFile struct {
		Tests []struct {
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
			AlertRuleTests []struct {
				Alertname string `yaml:"alertname"`
			} `yaml:"alert_rule_test"`
			PromQLExprTests []struct {
				Expr string `yaml:"expr"`
			} `yaml:"promql_expr_test"`
		} `yaml:"tests"`
	}
	// fed[rule] is every family the test cases of that rule feed.
	fed := map[string]map[string]bool{}
	paths, err := filepath.Glob("tests/*.test.yml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no unit tests under tests/ (%v)", err)
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
			var rules []string
			for _, a := range tc.AlertRuleTests {
				rules = append(rules, a.Alertname)
			}
			for _, e := range tc.PromQLExprTests {
				names, err := MetricNames(e.Expr)
				if err != nil {
					t.Errorf("%s: %v", p, err)
				}
				rules = append(rules, names...)
			}
			for _, r := range rules {
				if fed[r] == nil {
					fed[r] = map[string]bool{}
				}
				for _, s := range tc.InputSeries {
					name, _, _ := strings.Cut(s.Series, "{")
					fed[r][strings.TrimSpace(name)] = true
				}
			}
		}
	}
	checked := 0
	for _, g := range Groups().Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			names, err := MetricNames(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			for _, n := range names {
				if !slices.ContainsFunc(exporterPrefixes, func(p string) bool { return strings.HasPrefix(n, p) }) {
					continue
				}
				checked++
				if fed[name] == nil {
					t.Errorf("rule %s reads %s but no promtool test case tests it (alert_rule_test, or promql_expr_test of the record)", name, n)
				} else if !fed[name][n] {
					t.Errorf("rule %s reads %s but none of its promtool test cases has %s in input_series", name, n, n)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no rule reads an exporter family: the prefixes or MetricNames are broken")
	}
}
