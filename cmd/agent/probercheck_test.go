package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigBuildsEveryProber: --check-config and start-up build each
// target's prober as start-up does, so MongoDB URIs the driver refuses fail
// both, every bad target reported with its line, its password never.
func TestCheckConfigBuildsEveryProber(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "agent.yml", `targets:
  - name: ok
    kind: mongodb
    mongodb: {uri: "mongodb://localhost:27017"}
  - name: bad-timeout
    kind: mongodb
    mongodb: {uri: "mongodb://u:hunter22@localhost:27018/?connectTimeoutMS=abc"}
  - name: lb-direct
    kind: mongodb
    mongodb: {uri: "mongodb://localhost:27019/?loadBalanced=true&directConnection=true"}
  - name: aws-no-user
    kind: mongodb
    mongodb: {uri: "mongodb://localhost:27020/?authMechanism=MONGODB-AWS&authSource=$external&authMechanismProperties=AWS_SESSION_TOKEN:tok123"}
`)
	want := []string{
		`targets[1] (line 5): target "bad-timeout" (mongodb)`,
		`targets[2] (line 8): target "lb-direct" (mongodb)`,
		`targets[3] (line 11): target "aws-no-user" (mongodb)`,
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"--check-config", cfg}, &stdout, &stderr); code != 1 {
		t.Fatalf("--check-config exit %d, want 1\nstdout: %s\nstderr: %s", code, &stdout, &stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("--check-config output lacks %q:\n%s", w, &stderr)
		}
	}
	if strings.Contains(stderr.String(), `"ok"`) {
		t.Errorf("the valid target is reported:\n%s", &stderr)
	}

	var startErr bytes.Buffer
	code := run(t.Context(), []string{"--config.file", cfg, "--web.listen-address", "127.0.0.1:0", "--storage.path", filepath.Join(t.TempDir(), "d")}, io.Discard, &startErr)
	if code != 1 {
		t.Fatalf("start exit %d, want 1:\n%s", code, &startErr)
	}
	for _, w := range want {
		if !strings.Contains(startErr.String(), strings.ReplaceAll(w, `"`, `\"`)) && !strings.Contains(startErr.String(), w) {
			t.Errorf("start-up error lacks %q:\n%s", w, &startErr)
		}
	}
	for _, out := range []string{stderr.String(), startErr.String()} {
		if strings.Contains(out, "hunter22") || strings.Contains(out, "tok123") {
			t.Errorf("a secret leaked:\n%s", out)
		}
	}
}
