package alerts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// TestRuleFileLimits: too many rule files, or one too large, are refused
// with an error naming the limit, before anything is parsed.
func TestRuleFileLimits(t *testing.T) {
	dir := t.TempDir()
	rule := "groups: [{name: g, rules: [{record: r, expr: vector(1)}]}]\n"
	for i := range config.MaxRuleFiles + 1 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("r%04d.yml", i)), []byte(rule), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := CheckConfig(&config.Config{RuleFiles: []string{filepath.Join(dir, "*.yml")}})
	if want := fmt.Sprintf("match %d files, more than the limit of %d", config.MaxRuleFiles+1, config.MaxRuleFiles); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("too many rule files: %v, want %q", err, want)
	}
	if err := CheckConfig(&config.Config{RuleFiles: []string{filepath.Join(dir, "r0*.yml")}}); err != nil {
		t.Errorf("1000 rule files: %v", err)
	}

	big := filepath.Join(t.TempDir(), "big.yml")
	if err := os.WriteFile(big, []byte(rule+"# "+strings.Repeat("x", config.MaxRuleFileBytes)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = CheckConfig(&config.Config{RuleFiles: []string{big}})
	if err == nil || !strings.Contains(err.Error(), "big.yml") || !strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("a too large rule file: %v", err)
	}
}

// TestCheckConfigReportsEveryRuleProblemOnce: a file with a bad duration,
// broken expressions, a broken template, an unknown field and a bad group
// interval reports each problem once, with its line, group and rule, where
// rulefmt alone stops at the duration and reports it twice without a line.
func TestCheckConfigReportsEveryRuleProblemOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yml")
	content := `groups:
  - name: g1
    rules:
      - alert: A
        expr: up == 0
        for: 1x
      - alert: B
        expr: rate(foo[5m] > 0
      - record: c
        expr: sum(
  - name: g2
    interval: 1y1
    rules:
      - alert: D
        expr: up
        annotations:
          summary: "{{ .Bad"
      - alert: E
        expr: up
        severity: critical
`
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	err := CheckConfig(&config.Config{DisableDefaultRules: true, RuleFiles: []string{file}})
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		file + `:6: group "g1", rule 1, "A": unknown unit "x" in duration "1x"`,
		file + `:8: group "g1", rule 2, "B": could not parse expression`,
		file + `:10: group "g1", rule 3, "c": could not parse expression`,
		file + `:11: group "g2": `,
		file + `:14: group "g2", rule 1, "D": annotation "summary": template`,
		file + `:20: group "g2", rule 2, "E": unknown field "severity"`,
	}
	got := strings.TrimPrefix(err.Error(), "rule files: ")
	lines := strings.Split(got, "\n")
	if len(lines) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(lines), len(want), got)
	}
	for _, w := range want {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%q reported %d times, want once:\n%s", w, n, got)
		}
	}
}
