package testserver

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// PrometheusServer is a prometheus process owned by one test (Debian's
// package, Prometheus 2.42 at the time of writing).
type PrometheusServer struct {
	URL string // http://127.0.0.1:port
	// Dir holds the configuration, the extra files and the TSDB (under data/).
	Dir string

	d *daemon
}

// Prometheus writes cfgYAML as prometheus.yml, and each of extraFiles (name
// relative to the config, e.g. "rules/app.yml" → content) beside it, into a
// temporary directory; relative paths in the config (rule_files, file_sd)
// resolve there. It starts prometheus on an ephemeral loopback port with its
// TSDB in that directory, waits until /-/ready answers 200 and stops it when
// the test ends. The lifecycle API is on, for Reload.
func Prometheus(t testing.TB, cfgYAML string, extraFiles map[string]string, opts ...PrometheusOption) *PrometheusServer {
	t.Helper()
	var extra []string
	for _, o := range opts {
		extra = append(extra, o...)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"prometheus.yml": cfgYAML})
	writeFiles(t, dir, extraFiles)
	d := &daemon{
		t:    t,
		name: "prometheus",
		bin:  LookBinary(t, "prometheus", "prometheus"),
		dir:  dir,
		args: func(addr string) []string {
			return append([]string{
				"--config.file=" + filepath.Join(dir, "prometheus.yml"),
				"--storage.tsdb.path=" + filepath.Join(dir, "data"),
				"--web.listen-address=" + addr,
				"--web.enable-lifecycle",
				"--log.level=warn",
			}, extra...)
		},
	}
	d.start(true)
	t.Cleanup(d.stop)
	return &PrometheusServer{URL: d.url(), Dir: dir, d: d}
}

// PrometheusOption adds command-line flags to a test's Prometheus.
type PrometheusOption []string

// WithRemoteWriteReceiver makes the server accept remote_write on
// /api/v1/write (Prometheus's --web.enable-remote-write-receiver).
func WithRemoteWriteReceiver() PrometheusOption {
	return PrometheusOption{"--web.enable-remote-write-receiver"}
}

// Stop stops the server; Start brings it back on the same port and TSDB.
func (s *PrometheusServer) Stop() { s.d.stop() }

// Start starts a stopped server again on the same port and TSDB.
func (s *PrometheusServer) Start() { s.t().Helper(); s.d.start(false) }

func (s *PrometheusServer) t() testing.TB { return s.d.t }

// API is a client of the server's HTTP API.
func (s *PrometheusServer) API() promv1.API {
	c, err := api.NewClient(api.Config{Address: s.URL, Client: &http.Client{Timeout: 10 * time.Second}})
	if err != nil { // only for a malformed address, which URL is not
		panic(fmt.Sprintf("prometheus API client for %s: %v", s.URL, err))
	}
	return promv1.NewAPI(c)
}

// Query evaluates an instant query now and returns its vector; a result of
// another type (scalar, matrix, string) is an error.
func (s *PrometheusServer) Query(ctx context.Context, expr string) (model.Vector, error) {
	v, _, _, err := s.API().Query(ctx, expr, time.Now(), promv1.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("querying %q on %s: %w", expr, s.URL, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("querying %q on %s: got a %s, want a vector", expr, s.URL, v.Type())
	}
	return vec, nil
}

// Reload makes the server re-read its configuration and rule files (after
// the test rewrote them under Dir).
func (s *PrometheusServer) Reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/-/reload", nil)
	if err != nil {
		return fmt.Errorf("reloading %s: %w", s.URL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reloading %s: %w", s.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reloading %s: %s", s.URL, resp.Status)
	}
	return nil
}

// writeFiles writes name → content under dir, creating subdirectories.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if rel, err := filepath.Rel(dir, p); err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("file name %q leaves the server's directory", name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatalf("creating the directory of %s: %v", p, err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatalf("writing %s: %v", p, err)
		}
	}
}

// daemon runs a server binary that serves HTTP with a readiness endpoint
// (/-/ready, as Prometheus and Alertmanager have) for one test. None of them
// can listen on :0 and report the port, so one is picked and, on a bind
// conflict at first start, picked again.
type daemon struct {
	t    testing.TB
	name string
	bin  string
	dir  string
	args func(listenAddr string) []string
	// ready is the path that answers 200 once the server serves; "" is /-/ready.
	ready string

	mu   sync.Mutex
	port int
	proc *Process
}

func (d *daemon) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

func (d *daemon) url() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return "http://" + d.addr()
}

// start starts the process unless it runs. newPort allows moving to another
// port when the picked one was taken meanwhile (first start only: a restart
// must keep its address).
func (d *daemon) start(newPort bool) {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc != nil {
		return
	}
	if d.port == 0 {
		d.port = FreePort(d.t)
	}
	logPath := filepath.Join(d.dir, d.name+".log")
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		_ = os.Remove(logPath) // the log of this attempt only
		proc, err := StartProcess(d.bin, d.args(d.addr()), nil, d.dir, logPath)
		if err != nil {
			d.t.Fatal(err)
		}
		lastErr = waitReady(d.t.Context(), "http://"+d.addr()+cmp.Or(d.ready, "/-/ready"), proc.Exited(), 30*time.Second)
		if lastErr == nil {
			d.proc = proc
			return
		}
		proc.Kill()
		log, _ := os.ReadFile(logPath)
		if !strings.Contains(string(log), "address already in use") {
			d.t.Fatalf("%s on %s did not become ready: %v\n%s", d.name, d.addr(), lastErr, log)
		}
		if newPort {
			d.port = FreePort(d.t)
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	d.t.Fatalf("%s: no free port to listen on: %v", d.name, lastErr)
}

// stop sends SIGTERM and waits for the process to exit, killing it after 10s.
func (d *daemon) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return
	}
	d.proc.Stop(10 * time.Second)
	d.proc = nil
}

// waitReady polls url until it answers 200, the process exits or the
// timeout passes.
func waitReady(ctx context.Context, url string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("exited before ready: %w", last)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
