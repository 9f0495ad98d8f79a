package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

const (
	interval  = time.Second // probe, scrape and evaluation interval of the test config
	groupWait = time.Second // the test's Alertmanager group_wait
)

// TestRedisDownPagesAndResolves: stop Redis → RedisDown reaches the webhook
// within one probe interval + one evaluation interval + for + group_wait +
// 2 s (plus one self-scrape, since the agent stores its probe results by
// scraping itself), and the resolved notification follows when it returns.
func TestRedisDownPagesAndResolves(t *testing.T) {
	ruleFor := 2 * time.Second
	s := newStack(t, stackOptions{replicas: 1, interval: interval, ruleFor: ruleFor})
	waitForAgentSeries(t, s, `redis_up`)

	start := time.Now()
	s.redis.Stop()
	bound := interval + interval + interval + ruleFor + groupWait + 2*time.Second
	var firedAt time.Time
	waitFor(t, "RedisDown at the webhook", 60*time.Second, func() error {
		at, ok := s.hook.find("RedisDown", "firing", nil)
		if !ok {
			return fmt.Errorf("not yet; webhook has:\n%s", s.hook.summary())
		}
		firedAt = at
		return nil
	})
	took := firedAt.Sub(start)
	t.Logf("fault to page: %s (bound %s)", took, bound)
	if took > bound {
		t.Errorf("RedisDown took %s to reach the webhook, bound %s", took, bound)
	}

	s.redis.Start()
	waitFor(t, "RedisDown resolved at the webhook", 60*time.Second, func() error {
		if _, ok := s.hook.find("RedisDown", "resolved", nil); !ok {
			return fmt.Errorf("not yet; webhook has:\n%s", s.hook.summary())
		}
		return nil
	})
}

// TestAlertSurvivesAlertmanagerOutage: an alert that fires while
// Alertmanager is down arrives once it is back.
func TestAlertSurvivesAlertmanagerOutage(t *testing.T) {
	s := newStack(t, stackOptions{replicas: 1, interval: interval, ruleFor: 2 * time.Second})
	waitForAgentSeries(t, s, `redis_up`)
	s.am.Stop()
	s.redis.Stop()
	waitFor(t, "RedisDown firing in the agent", 60*time.Second, func() error {
		return agentAlert(t, s, "RedisDown", "firing", nil)
	})
	time.Sleep(2 * time.Second) // sends fail meanwhile and are retried
	s.am.Start()
	waitFor(t, "RedisDown at the webhook after Alertmanager returned", 60*time.Second, func() error {
		if _, ok := s.hook.find("RedisDown", "firing", nil); !ok {
			return fmt.Errorf("not yet; webhook has:\n%s", s.hook.summary())
		}
		return nil
	})
}

// TestPendingAlertSurvivesAgentRestart: an agent restarted while an alert is
// pending fires it on time: its `for` is restored from ALERTS_FOR_STATE in
// the TSDB, not restarted. As in Prometheus, the time the agent was down does
// not count as pending, so "on time" is fault + for + downtime.
func TestPendingAlertSurvivesAgentRestart(t *testing.T) {
	ruleFor := 20 * time.Second
	s := newStack(t, stackOptions{replicas: 1, interval: interval, ruleFor: ruleFor})
	waitForAgentSeries(t, s, `redis_up`)

	start := time.Now()
	s.redis.Stop()
	waitFor(t, "RedisDown pending", 30*time.Second, func() error {
		return agentAlert(t, s, "RedisDown", "pending", nil)
	})
	// Late in the pending time, so a restarted `for` would be far off.
	time.Sleep(time.Until(start.Add(ruleFor * 3 / 4)))
	agent := s.agents[0]
	agent.proc.Stop()
	agent.proc.Start()
	waitFor(t, "agent ready after restart", 30*time.Second, func() error {
		code, _, err := httpGet(t.Context(), agent.url+"/-/ready")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("ready: %d %v", code, err)
		}
		return nil
	})
	restarted := time.Now()

	var firedAt time.Time
	waitFor(t, "RedisDown at the webhook", 90*time.Second, func() error {
		at, ok := s.hook.find("RedisDown", "firing", nil)
		if !ok {
			return fmt.Errorf("not yet; webhook has:\n%s", s.hook.summary())
		}
		firedAt = at
		return nil
	})
	t.Logf("fault to page across an agent restart: %s (for %s, restart done %s after the fault)",
		firedAt.Sub(start), ruleFor, restarted.Sub(start))
	// Had the restart reset the pending state, the alert could not fire
	// before a whole `for` after the agent came back.
	if !firedAt.Before(restarted.Add(ruleFor)) {
		t.Errorf("RedisDown fired %s after the agent came back, a whole for (%s): its pending state was lost", firedAt.Sub(restarted), ruleFor)
	}
}

// TestErrorBurstFiresHighErrorRate: a burst of 5xx from the app (its
// database gone) fires HighErrorRate in the agent, naming the job.
func TestErrorBurstFiresHighErrorRate(t *testing.T) {
	s := newStack(t, stackOptions{replicas: 1, interval: interval, ruleFor: 2 * time.Second})
	app := s.apps[0]
	tok := session(t, app.url, "burst")
	waitForAgentSeries(t, s, `probe_success`)
	// A few scrapes of healthy traffic first, so the rate has a baseline.
	time.Sleep(3 * interval)

	s.mongo.Stop()
	defer s.mongo.Start()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var fivexx sync.Map
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := httpDo(t.Context(), http.MethodGet, app.url+"/api/projects", tok, nil)
				if err == nil && code >= 500 {
					fivexx.Store(code, true)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, "HighErrorRate firing for job app", 60*time.Second, func() error {
		return agentAlert(t, s, "HighErrorRate", "firing", map[string]string{"job": "app"})
	})
	if _, ok := fivexx.Load(http.StatusServiceUnavailable); !ok {
		t.Error("the app never answered 503 with its database down")
	}
}

func waitForAgentSeries(t *testing.T, s *stack, expr string) {
	t.Helper()
	for _, a := range s.agents {
		waitFor(t, a.name+" has "+expr, 60*time.Second, func() error {
			return agentQuery(t, a, expr)
		})
	}
}

// agentQuery checks that the agent exposes the metric on /metrics.
func agentQuery(t *testing.T, a *instance, metric string) error {
	code, body, err := httpGet(t.Context(), a.url+"/metrics")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("/metrics: %d", code)
	}
	if !containsMetric(body, metric) {
		return fmt.Errorf("%s not exposed yet", metric)
	}
	return nil
}

func containsMetric(body []byte, name string) bool {
	for _, line := range splitLines(body) {
		if len(line) > len(name) && string(line[:len(name)]) == name && (line[len(name)] == '{' || line[len(name)] == ' ') {
			return true
		}
	}
	return false
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	return append(out, b[start:])
}

// agentAlert checks the agent's /api/v1/alerts (Prometheus API shape) for an
// alert in the given state with the given labels.
func agentAlert(t *testing.T, s *stack, name, state string, labels map[string]string) error {
	code, body, err := httpGet(t.Context(), s.agents[0].url+"/api/v1/alerts")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("/api/v1/alerts: %d %s", code, body)
	}
	var resp struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("/api/v1/alerts: %w", err)
	}
next:
	for _, a := range resp.Data.Alerts {
		if a.Labels["alertname"] != name || a.State != state {
			continue
		}
		for k, v := range labels {
			if a.Labels[k] != v {
				continue next
			}
		}
		return nil
	}
	return fmt.Errorf("no %s %s alert with %v in %s", state, name, labels, body)
}
