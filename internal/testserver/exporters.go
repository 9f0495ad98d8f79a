package testserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The upstream exporters Vigil replaces, pinned by the tools modules
// tools/exporters and tools/mongodbexporter (their go.mod and go.sum), as
// the tool names `go tool` knows.
const (
	RedisExporterTool    = "redis_exporter"
	NodeExporterTool     = "node_exporter"
	BlackboxExporterTool = "blackbox_exporter"
	MongoDBExporterTool  = "mongodb_exporter"
)

// toolsDir is the shared tools module's directory relative to the
// repository root.
const toolsDir = "tools/exporters"

// ownToolsDirs are the exporters whose dependencies conflict with the
// shared module's build list, each in a module of its own: Percona's is
// built against prometheus/common v0.61 and exporter-toolkit v0.13, and
// its promslog calls do not compile against the v0.70 and v0.17 the
// others need.
var ownToolsDirs = map[string]string{MongoDBExporterTool: "tools/mongodbexporter"}

// toolDir is the tools module that pins tool.
func toolDir(tool string) string {
	if d, ok := ownToolsDirs[tool]; ok {
		return d
	}
	return toolsDir
}

var exporterBuilds sync.Map // tool name → *exporterBuild

type exporterBuild struct {
	once sync.Once
	path string
	err  error
}

// ExporterBinary returns the path of one of the exporters pinned by
// tools/exporters (or its own tools module, see ownToolsDirs), building it on first use. `go tool -n` builds the tool
// into the Go build cache and prints its path, so a second test run (and a
// concurrent one in another package) reuses the binary: about 0.3 s per
// exporter warm, against about 45 s for all three from a cold cache. A build
// failure fails the test with the command that reproduces it.
func ExporterBinary(t testing.TB, tool string) string {
	t.Helper()
	v, _ := exporterBuilds.LoadOrStore(tool, &exporterBuild{})
	b := v.(*exporterBuild)
	b.once.Do(func() { b.path, b.err = buildExporter(tool) })
	if b.err != nil {
		t.Fatalf("building %s from %s: %v", tool, toolDir(tool), b.err)
	}
	return b.path
}

func buildExporter(tool string) (string, error) {
	dir, err := findToolsDir(toolDir(tool))
	if err != nil {
		return "", err
	}
	// Not the test's context: the result is shared by every test of the binary.
	cmd := exec.Command("go", "tool", "-n", tool)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w\n%s\nreproduce with: go -C %s tool -n %s", err, stderr.String(), dir, tool)
	}
	path := strings.TrimSpace(string(out))
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return "", fmt.Errorf("`go tool -n %s` printed %q, which is not a built binary (%v); reproduce with: go -C %s tool -n %s", tool, path, err, dir, tool)
	}
	return path, nil
}

// findToolsDir walks up from the test's working directory (its package
// directory) to the repository root holding the tools module rel.
func findToolsDir(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", rel, err)
	}
	for {
		cand := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(filepath.Join(cand, "go.mod")); err == nil {
			return cand, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("finding %s: %w", rel, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s/go.mod above the test's directory", rel)
		}
		dir = parent
	}
}

// ExporterServer is an exporter process owned by one test.
type ExporterServer struct {
	URL string // http://127.0.0.1:port
	Dir string // its working directory, configuration and log (<name>.log)

	d *daemon
}

// PID is the exporter's process id (0 while stopped), e.g. to read its CPU
// time under /proc.
func (s *ExporterServer) PID() int {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.d.proc == nil {
		return 0
	}
	return s.d.proc.cmd.Process.Pid
}

// Stop stops the exporter (it is also stopped when the test ends).
func (s *ExporterServer) Stop() { s.d.stop() }

// StartDaemon starts bin, a server that listens where args(addr) tells it
// (an exporter, or the agent in the parity tests), on an ephemeral loopback
// port with dir as its working directory and its output in dir/<name>.log.
// It waits until readyPath answers 200, moves to another port if the
// picked one was taken meanwhile, and stops the server when the test ends.
func StartDaemon(t testing.TB, name, bin, readyPath, dir string, args func(addr string) []string) *ExporterServer {
	t.Helper()
	d := &daemon{
		t:     t,
		name:  name,
		bin:   bin,
		dir:   dir,
		args:  args,
		ready: readyPath,
	}
	d.start(true)
	t.Cleanup(d.stop)
	return &ExporterServer{URL: d.url(), Dir: dir, d: d}
}

// RedisExporter starts oliver006/redis_exporter on an ephemeral loopback
// port for the multi-target pattern: scrape /scrape?target=<redis address>.
// Its own /metrics (the default localhost:6379) is not meant to be scraped.
// extraArgs are appended to the command line.
func RedisExporter(t testing.TB, extraArgs ...string) *ExporterServer {
	t.Helper()
	return StartDaemon(t, RedisExporterTool, ExporterBinary(t, RedisExporterTool), "/health", t.TempDir(), func(addr string) []string {
		return append([]string{"-web.listen-address=" + addr}, extraArgs...)
	})
}

// NodeExporter starts prometheus/node_exporter on an ephemeral loopback
// port with exactly the given arguments besides the listen address (e.g.
// --collector.disable-defaults --collector.meminfo --path.procfs=...).
func NodeExporter(t testing.TB, args ...string) *ExporterServer {
	t.Helper()
	return StartDaemon(t, NodeExporterTool, ExporterBinary(t, NodeExporterTool), "/", t.TempDir(), func(addr string) []string {
		return append([]string{"--web.listen-address=" + addr, "--log.level=warn"}, args...)
	})
}

// BlackboxExporter writes configYAML (blackbox.yml: its modules) into a
// temporary directory and starts prometheus/blackbox_exporter with it on an
// ephemeral loopback port: probe with /probe?target=...&module=....
func BlackboxExporter(t testing.TB, configYAML string, extraArgs ...string) *ExporterServer {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"blackbox.yml": configYAML})
	return StartDaemon(t, BlackboxExporterTool, ExporterBinary(t, BlackboxExporterTool), "/-/ready", dir, func(addr string) []string {
		return append([]string{
			"--config.file=" + filepath.Join(dir, "blackbox.yml"),
			"--web.listen-address=" + addr,
			"--log.level=warn",
		}, extraArgs...)
	})
}

// MongoDBExporter starts percona/mongodb_exporter on an ephemeral loopback
// port against the MongoDB at uri, scraped at /metrics, with exactly the
// given arguments besides the URI and listen address (e.g.
// --compatible-mode --collector.dbstats; --no-collector.exporter-metrics
// leaves out its own process_* and go_* families, which are on by default).
func MongoDBExporter(t testing.TB, uri string, args ...string) *ExporterServer {
	t.Helper()
	return StartDaemon(t, MongoDBExporterTool, ExporterBinary(t, MongoDBExporterTool), "/", t.TempDir(), func(addr string) []string {
		return append([]string{"--mongodb.uri=" + uri, "--web.listen-address=" + addr, "--log.level=error"}, args...)
	})
}
