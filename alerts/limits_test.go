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
