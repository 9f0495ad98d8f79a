package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// mountTmpfs mounts a tmpfs of the given size on a fresh directory and
// unmounts it when the test ends. Mounting needs root (CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("mounting a %s tmpfs for the TSDB needs root (CAP_SYS_ADMIN); run this test as root: sudo go test ./e2e -run %s", size, t.Name())
	}
	dir := filepath.Join(t.TempDir(), "tsdb-fs")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0750", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -t tmpfs -o size=%s tmpfs %s: %v\n%s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// fillFilesystem writes a file until the filesystem is full.
func fillFilesystem(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i)
	}
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatalf("filling %s: %v", path, err)
		}
	}
	// The last, smaller writes take what the 64 KiB ones left.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

func findAlert(alerts []testserver.Alert, name string) (testserver.Alert, bool) {
	for _, a := range alerts {
		if a.Labels["alertname"] == name {
			return a, true
		}
	}
	return testserver.Alert{}, false
}

// TestFullStorageIsLoud: with the agent's TSDB on a small tmpfs filled by
// the test, the agent raises VigilStorageFailing at a real Alertmanager
// without its TSDB, withdraws Watchdog, answers 503 on /-/ready, shows a red
// banner and sets vigil_storage_healthy 0; once space is freed it resolves
// the alert, is ready again and Watchdog comes back.
func TestFullStorageIsLoud(t *testing.T) {
	_, agentBin := binaries(t)
	tsdbDir := mountTmpfs(t, "8m")
	am := testserver.Alertmanager(t, `
route: {receiver: "null", group_wait: 1s, group_interval: 1s}
receivers: [{name: "null"}]
`)
	dir := t.TempDir()
	agentPort := port(t)
	base := "http://127.0.0.1:" + agentPort
	cfg := writeFile(t, dir, "agent.yml", fmt.Appendf(nil, `
global: {interval: 1s, timeout: 500ms, evaluation_interval: 1s}
targets:
  - {name: self, kind: http, http: {url: %q}}
alerting:
  alertmanagers: [{url: %q}]
  resend_delay: 2s
storage: {path: %q}
`, base+"/-/healthy", am.URL, filepath.Join(tsdbDir, "data")))
	startProc(t, "agent", agentBin, []string{"--config.file", cfg, "--web.listen-address", "127.0.0.1:" + agentPort, "--log.level", "debug"}, nil)

	ctx := t.Context()
	amHas := func(name string, want bool) func() error {
		return func() error {
			alerts, err := am.Alerts(ctx)
			if err != nil {
				return err
			}
			if _, ok := findAlert(alerts, name); ok != want {
				return fmt.Errorf("%s active at Alertmanager: %v, want %v (%d alerts)", name, ok, want, len(alerts))
			}
			return nil
		}
	}
	status := func(path string, want int, contains string) func() error {
		return func() error {
			code, body, err := httpGet(ctx, base+path)
			if err != nil {
				return err
			}
			if code != want || !strings.Contains(string(body), contains) {
				return fmt.Errorf("GET %s = %d %q, want %d with %q", path, code, firstLine(body), want, contains)
			}
			return nil
		}
	}
	waitFor(t, "agent ready", 30*time.Second, status("/-/ready", 200, "Ready"))
	waitFor(t, "Watchdog at Alertmanager", 30*time.Second, amHas("Watchdog", true))
	if err := amHas("VigilStorageFailing", false)(); err != nil {
		t.Fatal(err)
	}

	fill := filepath.Join(tsdbDir, "ballast")
	start := time.Now()
	fillFilesystem(t, fill)

	waitFor(t, "readiness 503 naming the storage", 30*time.Second, status("/-/ready", 503, "storage failing"))
	t.Logf("disk full to not ready: %s", time.Since(start).Round(time.Millisecond))
	waitFor(t, "VigilStorageFailing at Alertmanager", 30*time.Second, amHas("VigilStorageFailing", true))
	t.Logf("disk full to VigilStorageFailing at Alertmanager: %s", time.Since(start).Round(time.Millisecond))
	alerts, err := am.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := findAlert(alerts, "VigilStorageFailing")
	if a.Labels["severity"] != "critical" || a.Labels["job"] != "agent" {
		t.Errorf("VigilStorageFailing labels = %v, want severity critical, job agent", a.Labels)
	}
	for _, k := range []string{"summary", "description", "runbook_url"} {
		if a.Annotations[k] == "" {
			t.Errorf("VigilStorageFailing lacks annotation %s: %v", k, a.Annotations)
		}
	}
	if !strings.Contains(a.Annotations["description"], "no space left on device") {
		t.Errorf("description does not give the cause: %q", a.Annotations["description"])
	}
	if !strings.HasSuffix(a.Annotations["runbook_url"], "docs/runbooks/VigilStorageFailing.md") {
		t.Errorf("runbook_url = %q", a.Annotations["runbook_url"])
	}
	waitFor(t, "Watchdog withdrawn from Alertmanager", 30*time.Second, amHas("Watchdog", false))
	waitFor(t, "red banner on the status page", 10*time.Second, status("/", 200, `id="storage-banner"`))
	waitFor(t, "vigil_storage_healthy 0", 10*time.Second, status("/metrics", 200, "vigil_storage_healthy 0"))
	// Watchdog stays away while the disk is full, across several re-send periods.
	time.Sleep(5 * time.Second)
	if err := amHas("Watchdog", false)(); err != nil {
		t.Error(err)
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	waitFor(t, "ready again after space is freed", 60*time.Second, status("/-/ready", 200, "Ready"))
	waitFor(t, "VigilStorageFailing resolved", 30*time.Second, amHas("VigilStorageFailing", false))
	waitFor(t, "Watchdog back at Alertmanager", 30*time.Second, amHas("Watchdog", true))
	t.Logf("space freed to Watchdog back: %s", time.Since(freed).Round(time.Millisecond))
	if err := status("/metrics", 200, "vigil_storage_healthy 1")(); err != nil {
		t.Error(err)
	}
	code, body, err := httpGet(context.Background(), base+"/")
	if err != nil || code != 200 || strings.Contains(string(body), `id="storage-banner"`) {
		t.Errorf("status page after recovery: %d, banner still shown or error %v", code, err)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
