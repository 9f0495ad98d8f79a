package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// TestCheckConfigICMPPrivilege: an agent that may open no ICMP socket
// refuses an icmp target in --check-config, naming the privilege. As root
// the test binary re-runs itself as nobody (setuid drops every capability);
// a non-root run checks itself, when it lacks the privilege too.
func TestCheckConfigICMPPrivilege(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "agent.yml")
	if err := os.WriteFile(cfg, []byte("targets:\n  - {name: gw, kind: icmp, icmp: {host: 127.0.0.1}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rangeText, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if os.Geteuid() != 0 {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"--check-config", cfg}, &stdout, &stderr)
		t.Logf("as uid %d (ping_group_range %q): exit %d\n%s%s", os.Geteuid(), strings.TrimSpace(string(rangeText)), code, &stdout, &stderr)
		if code == 1 && !strings.Contains(stderr.String(), "CAP_NET_RAW") {
			t.Errorf("--check-config failed without naming CAP_NET_RAW:\n%s", &stderr)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "agent.test")
	testserver.CopyExecutable(t, self, bin)
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^TestCheckConfigICMPPrivilegeHelper$")
	cmd.Env = append(os.Environ(), "VIGIL_ICMP_HELPER_CONFIG="+cfg)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, out)
	}
	got := string(out)
	t.Logf("--check-config as nobody:\n%s", got)
	if strings.Contains(got, "EXIT 0") {
		t.Fatalf("as nobody, with ping_group_range %q, --check-config accepted the icmp target:\n%s", strings.TrimSpace(string(rangeText)), got)
	}
	for _, want := range []string{"EXIT 1", `targets[0] (line 2): target "gw" (icmp)`, "CAP_NET_RAW", "net.ipv4.ping_group_range"} {
		if !strings.Contains(got, want) {
			t.Errorf("--check-config as nobody lacks %q:\n%s", want, got)
		}
	}
}

// TestCheckConfigICMPPrivilegeHelper is the unprivileged side of
// TestCheckConfigICMPPrivilege; it does nothing in a normal run.
func TestCheckConfigICMPPrivilegeHelper(t *testing.T) {
	cfg := os.Getenv("VIGIL_ICMP_HELPER_CONFIG")
	if cfg == "" {
		return
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--check-config", cfg}, &stdout, &stderr)
	fmt.Printf("EXIT %d\n%s%s", code, &stdout, &stderr)
}
