package e2e_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// BenchmarkFaultToPage measures, for two agent binaries in the same run and
// with the same settings — the shipped rules (RedisDown: redis_up == 0 for
// 1m), the default 15s probe and evaluation intervals and
// deploy/alertmanager.yml's timings — the time from stopping Redis to
// RedisDown at Alertmanager's webhook. scripts/fault-bench.sh builds the
// "before" binary from a git revision (the agent that reached its TSDB by
// scraping itself) and runs it:
//
//	scripts/fault-bench.sh [REV] [RUNS]
//
// Every run of both binaries goes at once, each with its own Redis and
// Alertmanager, so the machine's load is the same for both.
func BenchmarkFaultToPage(b *testing.B) {
	before := os.Getenv("VIGIL_AGENT_BEFORE")
	if before == "" {
		b.Fatal("VIGIL_AGENT_BEFORE is not set: run scripts/fault-bench.sh, which builds it")
	}
	runs := 5
	if n, err := fmt.Sscan(os.Getenv("VIGIL_FAULT_RUNS"), &runs); n != 1 || err != nil {
		runs = 5
	}
	after := agentBinary(b)
	for b.Loop() {
		var (
			mu   sync.Mutex
			took = map[string][]time.Duration{}
			wg   sync.WaitGroup
		)
		for i := range runs {
			for name, bin := range map[string]string{"before": before, "after": after} {
				wg.Go(func() {
					d := faultToPage(b, fmt.Sprintf("%s-%d", name, i), bin)
					mu.Lock()
					took[name] = append(took[name], d)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		med := map[string]time.Duration{}
		for name, ds := range took {
			slices.Sort(ds)
			med[name] = ds[len(ds)/2]
			b.Logf("%s: %v (median %v)", name, ds, med[name])
		}
		b.ReportMetric(med["before"].Seconds(), "before-median-s")
		b.ReportMetric(med["after"].Seconds(), "after-median-s")
		b.ReportMetric(float64(med["after"])/float64(med["before"]), "after/before")
	}
}

// agentBinary builds cmd/agent from this tree once.
func agentBinary(b *testing.B) string {
	out := filepath.Join(b.TempDir(), "agent")
	build := exec.Command("go", "build", "-o", out, "./cmd/agent")
	build.Dir = repoRoot
	if msg, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/agent: %v\n%s", err, msg)
	}
	return out
}

// faultToPage runs one agent with one Redis target and the shipped
// settings, stops Redis once the agent has seen it up and evaluated its
// rules, and returns how long RedisDown took to reach the webhook.
func faultToPage(b *testing.B, name, bin string) time.Duration {
	hook := newWebhook(b)
	am := testserver.Alertmanager(b, regexp.MustCompile(`(?m)^(\s*-?\s*url:\s*)['"]?http://[^\s'"]+['"]?\s*$`).
		ReplaceAllString(string(readRepo(b, "deploy/alertmanager.yml")), "${1}'"+hook.URL+"'"))
	rds := testserver.Redis(b)
	dir := b.TempDir()
	listen := "127.0.0.1:" + port(b)
	cfg := writeFile(b, dir, "agent.yml", []byte(fmt.Sprintf(
		"targets:\n  - {name: redis, kind: redis, redis: {address: %q}}\nalerting:\n  alertmanagers: [{url: %q}]\n", rds.Addr, am.URL)))
	p, err := testserver.StartProcess(bin, []string{"--config.file=" + cfg, "--web.listen-address=" + listen, "--storage.path=" + filepath.Join(dir, "data")},
		nil, "", filepath.Join(dir, name+".log"))
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	b.Cleanup(func() { p.Stop(20 * time.Second) })
	// Up, probed and evaluated: the Watchdog, which fires at once, reached
	// the webhook, so rules run; the status page shows Redis up.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, watchdog := hook.find("Watchdog", "firing", nil)
		code, body, err := httpGet(b.Context(), "http://"+listen+"/api/v1/targets")
		if watchdog && err == nil && code == http.StatusOK && strings.Contains(string(body), `"health":"up"`) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: not ready after 3m (watchdog %v, targets %d %s %v)", name, watchdog, code, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A random phase against the probe and evaluation timers.
	time.Sleep(time.Duration(time.Now().UnixNano()%int64(15*time.Second)) + 16*time.Second)
	start := time.Now()
	rds.Stop()
	for {
		if at, ok := hook.find("RedisDown", "firing", nil); ok {
			return at.Sub(start)
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%s: no RedisDown after 5m; webhook has:\n%s", name, hook.summary())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
