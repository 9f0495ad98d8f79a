package dashboards

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildLinter builds github.com/grafana/dashboard-linter from its own module
// (tools/dashboard-linter): it pulls old Prometheus and Loki modules that
// must stay out of Vigil's go.mod.
func buildLinter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dashboard-linter")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-C", "../tools/dashboard-linter", "-o", bin, "github.com/grafana/dashboard-linter")
	// The linter has no tagged release: the proxy serves its pseudo-version
	// but the checksum database does not list it.
	cmd.Env = append(os.Environ(), "GONOSUMDB=github.com/grafana/dashboard-linter",
		strings.TrimSpace("GOFLAGS=-mod=mod "+os.Getenv("GOFLAGS")))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building dashboard-linter (tools/dashboard-linter): %v\n%s", err, out)
	}
	return bin
}

// lint runs `dashboard-linter lint --strict` on one file, with the
// dashboard's exclusions from lint/<uid>.lint when it has any.
func lint(t *testing.T, bin, file, config string) (string, error) {
	t.Helper()
	args := []string{"lint", "--strict"}
	if config != "" {
		args = append(args, "--config", config)
	}
	cmd := exec.CommandContext(t.Context(), bin, append(args, file)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	// The linter prints every rule it checked; keep the findings.
	var findings []string
	for _, line := range strings.Split(out.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, "Checks that") {
			findings = append(findings, line)
		}
	}
	return strings.Join(findings, "\n"), err
}

func TestLint(t *testing.T) {
	bin := buildLinter(t)
	files, err := filepath.Glob("json/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards under json/ (%v)", err)
	}
	uids := map[string]bool{}
	for _, f := range files {
		uid := strings.TrimSuffix(filepath.Base(f), ".json")
		uids[uid] = true
		t.Run(uid, func(t *testing.T) {
			config := filepath.Join("lint", uid+".lint")
			if _, err := os.Stat(config); err != nil {
				config = ""
			}
			if out, err := lint(t, bin, f, config); err != nil {
				t.Errorf("dashboard-linter lint --strict %s: %v\n%s", f, err, out)
			}
		})
	}
	// Exclusions only for dashboards that exist.
	configs, err := filepath.Glob("lint/*.lint")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configs {
		if uid := strings.TrimSuffix(filepath.Base(c), ".lint"); !uids[uid] {
			t.Errorf("%s excludes rules for a dashboard that does not exist", c)
		}
	}

	// The linter must be able to fail here: an editable copy of a dashboard
	// whose panel lost its job matcher is rejected.
	t.Run("rejects a bad dashboard", func(t *testing.T) {
		raw, err := os.ReadFile("json/vigil-redis.json")
		if err != nil {
			t.Fatal(err)
		}
		bad := strings.Replace(string(raw), `"editable": false`, `"editable": true`, 1)
		bad = strings.Replace(bad, `redis_connected_clients{job=~\"$job\", `, `redis_connected_clients{`, 1)
		if bad == string(raw) {
			t.Fatal("the mutation did not apply; update this test")
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "bad.json")
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := lint(t, bin, path, "")
		if err == nil {
			t.Fatalf("dashboard-linter accepted an editable dashboard without a job matcher:\n%s", out)
		}
		for _, want := range []string{"is editable", "job selector not found"} {
			if !strings.Contains(out, want) {
				t.Errorf("linter output lacks %q:\n%s", want, out)
			}
		}
	})
}
