package parity

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"

	"github.com/vigil-sh/vigil/collectors"
	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

var (
	serveWeb   = flag.String("parity.serve-web", "", "serve BenchmarkProbeCost's web page on this address and do nothing else")
	serveMongo = flag.String("parity.serve-mongo", "", "run BenchmarkProbeCost's FerretDB on this address, its data in ./data, before serving -parity.serve-web")
)

// startFerretDB runs FerretDB on addr in this process, which is then
// BenchmarkProbeCost's MongoDB server and nothing else: in the benchmark's
// own process, answering the agent's probes would count as the agent's CPU
// and answering the exporter's scrapes would not. It returns once FerretDB
// accepts connections and exits the process if it stops.
func startFerretDB(addr string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "FerretDB:", err)
		os.Exit(1)
	}
	wd, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	dir := filepath.Join(wd, "data")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		fail(err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		fail(err)
	}
	go func() { fail(fmt.Errorf("stopped: %w", f.Run(context.Background()))) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
	}
	fail(fmt.Errorf("not accepting connections on %s after 10s", addr))
}

// serveWebPage serves a small page until killed. The benchmark runs it in a
// process of its own (this test binary, re-executed) so that the page's
// CPU is neither the agent's nor blackbox_exporter's.
func serveWebPage(addr string) {
	err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// BenchmarkProbeCost is issue 10's probe cost per kind: the CPU of one
// probe of the agent's prober (in this process: getrusage) against the CPU
// of one scrape of the real exporter of the same server (its process, all
// threads: /proc/<pid>/stat), in the same run, as the ratio agent/exporter.
// The host kind runs node_exporter's collectors the agent has, on this
// machine's /proc and /sys. The agent's probe stops at its result: what it
// costs to append it to the TSDB and serve it is not counted, nor is the
// exporter's HTTP serving saved. MongoDB is FerretDB in a process of its
// own, holding one small collection; Percona's exporter runs with the
// collectors the agent has by default and, as by default, connects anew
// for every scrape. Run it with a count, e.g. -benchtime=200x: the
// exporters' CPU is read in clock ticks (10 ms), so too few scrapes measure
// nothing.
func BenchmarkProbeCost(b *testing.B) {
	redis := testserver.Redis(b)
	web := testserver.StartDaemon(b, "web", os.Args[0], "/", b.TempDir(), func(addr string) []string {
		return []string{"-parity.serve-web=" + addr}
	})
	webAddr := strings.TrimPrefix(web.URL, "http://")
	mongoAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(b)))
	// Ready once its page answers, which it serves after FerretDB started.
	testserver.StartDaemon(b, "ferretdb", os.Args[0], "/", b.TempDir(), func(addr string) []string {
		return []string{"-parity.serve-mongo=" + mongoAddr, "-parity.serve-web=" + addr}
	})
	mongoURI := "mongodb://" + mongoAddr + "/"
	seedMongo(b, mongoURI)
	mongoExp := testserver.MongoDBExporter(b, mongoURI, mongodbExporterArgs...)
	redisExp := testserver.RedisExporter(b)
	nodeArgs := []string{"--collector.disable-defaults", "--no-collector.netdev.netlink", "--web.disable-exporter-metrics",
		"--path.procfs=/proc", "--path.sysfs=/sys", "--path.rootfs=/"}
	for _, c := range config.HostCollectors {
		nodeArgs = append(nodeArgs, "--collector."+c)
	}
	nodeExp := testserver.NodeExporter(b, nodeArgs...)
	blackbox := testserver.BlackboxExporter(b, `modules:
  http_2xx: {prober: http, timeout: 5s, http: {preferred_ip_protocol: ip4}}
  tcp_connect: {prober: tcp, timeout: 5s, tcp: {preferred_ip_protocol: ip4}}
`)
	cfg, err := config.Parse(fmt.Appendf(nil, `global: {interval: 15s, timeout: 5s}
targets:
  - {name: redis, kind: redis, redis: {address: %q}}
  - {name: host, kind: host}
  - {name: http, kind: http, http: {url: %q, ip_protocol: ip4}}
  - {name: tcp, kind: tcp, tcp: {address: %q, ip_protocol: ip4}}
  - {name: mongodb, kind: mongodb, mongodb: {uri: %q}}
`, redis.Addr, web.URL, webAddr, mongoURI))
	if err != nil {
		b.Fatal(err)
	}
	probe := func(module, target string) string {
		return blackbox.URL + "/probe?" + url.Values{"module": {module}, "target": {target}}.Encode()
	}
	exporters := map[string]struct {
		exp     *testserver.ExporterServer
		url     string
		healthy string // in every answer of a scrape that worked
	}{
		"redis":   {redisExp, redisExp.URL + "/scrape?target=" + url.QueryEscape(redis.Addr), "\nredis_up 1\n"},
		"host":    {nodeExp, nodeExp.URL + "/metrics", "\nnode_load1 "},
		"http":    {blackbox, probe("http_2xx", web.URL), "\nprobe_success 1\n"},
		"tcp":     {blackbox, probe("tcp_connect", webAddr), "\nprobe_success 1\n"},
		"mongodb": {mongoExp, mongoExp.URL + "/metrics", "\nmongodb_up{cluster_role=\"mongod\"} 1\n"},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, t := range cfg.Targets {
		b.Run(t.Name, func(b *testing.B) {
			p, err := collectors.New(t, logger)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { p.Close() })
			e := exporters[t.Name]
			scrapeOnce := func() {
				code, body, err := get(b.Context(), e.url)
				if err != nil || code != http.StatusOK || !strings.Contains(string(body), e.healthy) {
					b.Fatalf("scraping %s: %d %v, want %q in:\n%s", e.url, code, err, e.healthy, body)
				}
			}
			probeOnce := func() {
				if res := p.Probe(b.Context()); !res.Success {
					b.Fatalf("probe %s failed: %s: %v", t.Name, res.Reason, res.Err)
				}
			}
			probeOnce() // connections and first-use allocations on both sides
			scrapeOnce()

			n := 0
			a0 := selfCPU(b)
			for b.Loop() {
				probeOnce()
				n++
			}
			agent := selfCPU(b) - a0
			e0 := processCPU(b, e.exp.PID())
			for range n {
				scrapeOnce()
			}
			time.Sleep(50 * time.Millisecond) // the exporter's accounting of the last scrape
			exporter := processCPU(b, e.exp.PID()) - e0
			b.ReportMetric(float64(agent.Microseconds())/float64(n), "agent-cpu-us/probe")
			b.ReportMetric(float64(exporter.Microseconds())/float64(n), "exporter-cpu-us/scrape")
			if exporter > 0 {
				b.ReportMetric(float64(agent)/float64(exporter), "agent/exporter")
			}
		})
	}
}

// selfCPU is this process's user and system CPU time.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is a process's user and system CPU time, all its threads, in
// clock ticks of 10 ms (USER_HZ, 100 on Linux).
func processCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// The command name may hold spaces: fields count from after its ')'.
	i := strings.LastIndexByte(string(raw), ')')
	f := strings.Fields(string(raw)[i+1:])
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
