package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckConfigAndFlags(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yml", `
targets:
  - name: web
    kind: http
    http: {url: "http://localhost:8080/api/health"}
  - name: box
    kind: host
rule_files: [rules/*.yml]
`)
	if err := os.Mkdir(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules"), "ok.yml", `
groups:
  - name: extra
    rules:
      - alert: WebDown
        expr: probe_success{job="blackbox"} == 0
        for: 1m
`)
	bad := writeFile(t, dir, "bad.yml", `
global:
  interval: 10s
  timeout: 20s
targets:
  - name: web
    kind: http
    http: {url: "ht!tp://x"}
  - name: web
    kind: redis
    redis: {address: "localhost:6379", password: a, password_file: b}
`)
	badRulesDir := filepath.Join(dir, "badrules")
	if err := os.Mkdir(badRulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, badRulesDir, "broken.yml", `
groups:
  - name: broken
    rules:
      - alert: Broken
        expr: rate(foo[5m] > 0
`)
	badRules := writeFile(t, dir, "badrules.yml", "rule_files: [badrules/*.yml]\n")
	t.Setenv("VIGIL_TEST_POD", "app-7f9c")
	envCfg := writeFile(t, dir, "env.yml", "targets:\n  - {name: app, kind: tcp, instance: \"${VIGIL_TEST_POD}\", tcp: {address: \"localhost:8080\"}}\n  - {name: db, kind: tcp, instance: \"${VIGIL_TEST_UNSET}\", tcp: {address: \"localhost:27017\"}}\n")
	envOK := writeFile(t, dir, "env-ok.yml", "targets:\n  - {name: app, kind: tcp, instance: \"${VIGIL_TEST_POD}\", tcp: {address: \"localhost:8080\"}}\n  - {name: db, kind: tcp, job: \"${VIGIL_TEST_UNSET:db}\", tcp: {address: \"localhost:27017\"}}\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"valid", []string{"--check-config", good}, 0, []string{"SUCCESS", "2 targets"}, nil},
		{"valid single dash", []string{"-check-config", good}, 0, []string{"SUCCESS"}, nil},
		{"every problem", []string{"--check-config", bad}, 1, nil, []string{
			"FAILED: " + bad,
			"global.timeout (line 4): 20s must be less than interval 10s",
			"targets[0].http.url (line 8)",
			`targets[1].name (line 9): duplicate target name "web"`,
			"targets[1].redis.password_file (line 11): password and password_file are mutually exclusive",
		}},
		{"missing file", []string{"--check-config", filepath.Join(dir, "nope.yml")}, 1, nil, []string{"nope.yml", "no such file"}},
		{"bad rule file", []string{"--check-config", badRules}, 1, nil, []string{"FAILED", "broken.yml"}},
		{"bad web config", []string{"--web.config.file", writeFile(t, dir, "web.yml", "tls_server_config: {cert_file: /nonexistent.pem}\n"), "--check-config", good}, 1, nil, []string{"--web.config.file"}},
		{"good web config", []string{"--web.config.file", writeFile(t, dir, "web-ok.yml", "basic_auth_users: {admin: $2y$10$abcdefghijklmnopqrstuu5K5dPyQvZ8X1vF4m3mF2vQ8e6aV4zG}\n"), "--check-config", good}, 0, []string{"SUCCESS"}, nil},
		{"expand env", []string{"--config.expand-env", "--check-config", envOK}, 0, []string{"SUCCESS", "2 targets"}, nil},
		{"expand env, unset variable", []string{"--config.expand-env", "--check-config", envCfg}, 1, nil, []string{"line 3: environment variable VIGIL_TEST_UNSET is not set"}},
		{"no expansion without the flag", []string{"--check-config", envCfg}, 0, []string{"SUCCESS"}, nil},
		{"version", []string{"--version"}, 0, []string{"vigil agent, version"}, nil},
		{"unknown flag", []string{"--bogus"}, 2, nil, []string{"bogus"}},
		{"stray argument", []string{"agent.yml"}, 2, nil, []string{"unexpected arguments"}},
		{"bad log level", []string{"--log.level", "loud"}, 2, nil, []string{"--log.level"}},
		{"bad log format", []string{"--log.format", "xml"}, 2, nil, []string{"--log.format"}},
		{"bad GOMEMLIMIT ratio", []string{"--auto-gomemlimit.ratio", "1.2"}, 2, nil, []string{"--auto-gomemlimit.ratio 1.2: want a ratio greater than 0 and at most 1"}},
		{"GOMEMLIMIT ratio 0", []string{"--auto-gomemlimit.ratio", "0"}, 2, nil, []string{"--auto-gomemlimit.ratio 0:"}},
		{"missing config file", []string{"--config.file", filepath.Join(dir, "nope.yml"), "--web.listen-address", "127.0.0.1:0"}, 1, nil, []string{"nope.yml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, &stdout, &stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, &stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, &stderr)
				}
			}
		})
	}
}

// startAgent runs the agent's main logic until the test ends.
func startAgent(t *testing.T, args ...string) (base string, logs *testserver.LogBuffer) {
	t.Helper()
	return startAgentAuth(t, "", args...)
}

// startAgentAuth is startAgent for an agent behind basic auth (user admin).
func startAgentAuth(t *testing.T, password string, args ...string) (base string, logs *testserver.LogBuffer) {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(t)))
	args = append(args, "--web.listen-address", addr, "--storage.path", t.TempDir(), "--log.level", "debug")
	logs = &testserver.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("agent exited %d after shutdown:\n%s", code, logs)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("agent did not shut down within 15s:\n%s", logs)
		}
	})
	base = "http://" + addr
	waitHTTP(t, base+"/-/ready", password, done, logs)
	return base, logs
}

func waitHTTP(t *testing.T, url, password string, done chan int, logs *testserver.LogBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("agent exited %d before being ready:\n%s", code, logs)
		default:
		}
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if password != "" {
			req.SetBasicAuth("admin", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 20s:\n%s", url, logs)
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func targetNames(t *testing.T, base string) []string {
	t.Helper()
	var resp struct {
		Data struct {
			Targets []struct{ Name, Health string }
		}
	}
	if err := json.Unmarshal([]byte(fetch(t, base+"/api/v1/targets")), &resp); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range resp.Data.Targets {
		names = append(names, tg.Name)
	}
	return names
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunServesAndReloadsOnSIGHUP(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(web.Close)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "agent.yml", fmt.Sprintf(`
targets:
  - {name: web, kind: http, interval: 200ms, timeout: 100ms, http: {url: %q}}
`, web.URL))
	base, logs := startAgent(t, "--config.file", cfg)

	eventually(t, "probe_success for web in /metrics", func() bool {
		return strings.Contains(fetch(t, base+"/metrics"), fmt.Sprintf(`probe_success{instance=%q,job="blackbox"} 1`, web.URL))
	})
	metrics := fetch(t, base+"/metrics")
	for _, want := range []string{"vigil_build_info{", "vigil_config_last_reload_successful 1", "vigil_probes_total{", "go_goroutines", "process_cpu_seconds_total", "go_gc_gomemlimit_bytes"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(fetch(t, base+"/api/v1/alerts"), `"status":"success"`) {
		t.Error("the alerting engine's API is not served")
	}
	if !strings.Contains(fetch(t, base+"/"), `data-target="web"`) {
		t.Error("status page lacks the target")
	}

	writeFile(t, dir, "agent.yml", fmt.Sprintf(`
targets:
  - {name: web, kind: http, interval: 200ms, timeout: 100ms, http: {url: %q}}
  - {name: web2, kind: http, interval: 200ms, timeout: 100ms, http: {url: %q}}
`, web.URL, web.URL+"/2"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web2 after SIGHUP", func() bool {
		names := targetNames(t, base)
		return len(names) == 2 && names[1] == "web2"
	})
	if !strings.Contains(logs.String(), "configuration reloaded") {
		t.Errorf("reload not logged:\n%s", logs)
	}
	// Whatever the host's cgroup, the start says what became of GOMEMLIMIT.
	if strings.Count(logs.String(), "component=memlimit") != 1 {
		t.Errorf("want one GOMEMLIMIT line at start:\n%s", logs)
	}
}

func TestRunWithoutAutoGOMEMLIMIT(t *testing.T) {
	_, logs := startAgent(t, "--auto-gomemlimit=false", "--config.file", writeFile(t, t.TempDir(), "agent.yml", "targets:\n  - {name: box, kind: host}\n"))
	if !strings.Contains(logs.String(), "GOMEMLIMIT not set from the cgroup: --auto-gomemlimit=false") {
		t.Errorf("--auto-gomemlimit=false not logged:\n%s", logs)
	}
}

func TestRunWithoutConfigWatchesTheApp(t *testing.T) {
	app := http.NewServeMux()
	app.HandleFunc("GET /api/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"status":"ok"}`) })
	app.HandleFunc("GET /api/metrics", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "app_up 1\n") })
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	t.Setenv("VIGIL_APP_URL", srv.URL)

	base, _ := startAgent(t)
	names := targetNames(t, base)
	if strings.Join(names, ",") != "host,app" {
		t.Errorf("default targets = %v, want [host app]", names)
	}
	// The app target probes VIGIL_APP_URL's /api/health (first probe within 15s of jitter).
	eventually(t, "the app target probed up", func() bool {
		return strings.Contains(fetch(t, base+"/metrics"), fmt.Sprintf(`probe_success{instance=%q,job="blackbox"} 1`, srv.URL+"/api/health"))
	})
}

func TestRunFailsWhenThePortIsTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := writeFile(t, t.TempDir(), "agent.yml", "targets: []\n")
	var stderr testserver.LogBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(t.Context(), []string{"--config.file", cfg, "--web.listen-address", l.Addr().String(), "--storage.path", t.TempDir()}, io.Discard, &stderr)
	}()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(stderr.String(), "address already in use") {
			t.Errorf("exit %d, want 1 with the listen error; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("agent kept running although it cannot listen")
	}
}
