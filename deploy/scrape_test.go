package deploy_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// agentExposition is what an agent with a Redis, a MongoDB, an HTTP and a
// host target serves (docs/metrics.md): /metrics with the self-metrics bare
// and every target's series under its own job and instance; /probe?target=
// one target's series, by name or instance, without job and instance.
type agentExposition struct {
	mu     sync.Mutex
	probed map[string]int
}

var probeBodies = map[string]string{
	"redis:6379":                       "redis_up 1\n",
	"mongo:27017":                      "mongodb_up 1\n",
	"http://localhost:8080/api/health": "probe_success 1\nprobe_duration_seconds 0.01\n",
	"host":                             "node_memory_MemTotal_bytes 1000\n",
}

func (a *agentExposition) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, `vigil_build_info{version="test"} 1
vigil_target_up{target="cache",kind="redis"} 1
redis_up{job="redis",instance="redis:6379"} 1
mongodb_up{job="mongodb",instance="mongo:27017"} 1
probe_success{job="blackbox",instance="http://localhost:8080/api/health"} 1
node_memory_MemTotal_bytes{job="node",instance="node-1"} 1000
`)
	case "/probe":
		target := r.URL.Query().Get("target")
		a.mu.Lock()
		a.probed[target]++
		a.mu.Unlock()
		body, ok := probeBodies[target]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error": "no target named %q"}`, target)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, body)
	default:
		http.NotFound(w, r)
	}
}

func startAgentExposition(t *testing.T) (*agentExposition, string) {
	t.Helper()
	a := &agentExposition{probed: map[string]int{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, strings.TrimPrefix(srv.URL, "http://")
}

// shippedConfig reads a shipped scrape config with its agent addresses
// replaced and its intervals shortened for the test.
func shippedConfig(t *testing.T, rel string, agents map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("scrape_interval: 15s", "scrape_interval: 1s", "scrape_timeout: 10s", "scrape_timeout: 500ms").Replace(string(b))
	for from, to := range agents {
		if !strings.Contains(s, from) {
			t.Fatalf("%s does not name the agent %s; update this test", rel, from)
		}
		s = strings.ReplaceAll(s, from, to)
	}
	return s
}

// expectSeries waits until every query returns exactly the wanted number of
// series, and reports those that never do.
func expectSeries(t *testing.T, prom *testserver.PrometheusServer, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var wrong []string
		for q, n := range want {
			v, err := prom.Query(t.Context(), q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if len(v) != n {
				wrong = append(wrong, fmt.Sprintf("%s: %d series %v, want %d", q, len(v), v, n))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in Prometheus:\n  %s", strings.Join(wrong, "\n  "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestScrapeAgentMetrics runs the recommended scrape of two agents that
// probe the same Redis in a real Prometheus: target series keep their own
// job and instance (no exported_job), one per agent, the agent's own take
// job="agent".
func TestScrapeAgentMetrics(t *testing.T) {
	t.Parallel()
	_, a1 := startAgentExposition(t)
	_, a2 := startAgentExposition(t)
	cfg := shippedConfig(t, "deploy/prometheus/scrape-agent-metrics.yml", map[string]string{"app1:9465": a1, "app2:9465": a2})
	prom := testserver.Prometheus(t, cfg, nil)
	expectSeries(t, prom, map[string]int{
		`redis_up{job="redis", instance="redis:6379"} == 1`:                          2,
		fmt.Sprintf(`redis_up{job="redis", instance="redis:6379", agent=%q}`, a1):    1,
		`mongodb_up{job="mongodb", instance="mongo:27017"}`:                          2,
		`probe_success{job="blackbox", instance="http://localhost:8080/api/health"}`: 2,
		`node_memory_MemTotal_bytes{job="node", instance="node-1"}`:                  2,
		fmt.Sprintf(`vigil_build_info{job="agent", instance=%q}`, a2):                1,
		`vigil_target_up{job="agent", target="cache", kind="redis"}`:                 2,
		`up{job="agent"} == 1`:                          2,
		`{exported_job!=""} or {exported_instance!=""}`: 0,
	})
}

// TestScrapeAgentProbe runs the multi-target scrape of scrape-agent-probe.yml
// in a real Prometheus: each job's static targets reach /probe as
// ?target=, come back as instance, and the target series arrive once.
func TestScrapeAgentProbe(t *testing.T) {
	t.Parallel()
	agent, addr := startAgentExposition(t)
	cfg := shippedConfig(t, "deploy/prometheus/scrape-agent-probe.yml", map[string]string{"app1:9465": addr})
	prom := testserver.Prometheus(t, cfg, nil)
	expectSeries(t, prom, map[string]int{
		`redis_up{job="redis", instance="redis:6379"} == 1`:                                                    1,
		`mongodb_up{job="mongodb", instance="mongo:27017"} == 1`:                                               1,
		`probe_success{job="blackbox", instance="http://localhost:8080/api/health"}`:                           1,
		fmt.Sprintf(`node_memory_MemTotal_bytes{job="node", instance=%q}`, addr):                               1,
		`count by (__name__) ({__name__=~"redis_up|mongodb_up|probe_success|node_memory_MemTotal_bytes"}) > 1`: 0,
		fmt.Sprintf(`vigil_build_info{job="agent", instance=%q}`, addr):                                        1,
		`up{job=~"agent|blackbox|redis|mongodb|node"} == 1`:                                                    5,
		`up{instance="redis:6379"}`:                                                                            1,
	})
	agent.mu.Lock()
	defer agent.mu.Unlock()
	for target := range probeBodies {
		if agent.probed[target] == 0 {
			t.Errorf("Prometheus never asked /probe?target=%s (asked %v)", target, agent.probed)
		}
	}
}
