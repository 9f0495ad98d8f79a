package e2e_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// TestHAPairAndAlertmanagerCluster runs the HA pattern of docs/ha.md: two
// agents with the same rules and targets, differing only in the external
// label __replica__ (which alert_relabel_configs drops from alerts), both
// sending to both members of a two-node Alertmanager cluster. Stopping the
// Redis both probe fires RedisDown in both agents; the on-call gets exactly
// one notification per alert group, each carrying one alert without
// __replica__. With the Alertmanager that notified stopped, the resolve
// still arrives, once.
func TestHAPairAndAlertmanagerCluster(t *testing.T) {
	t.Parallel() // its own Redis, Alertmanagers and agents: shares nothing
	const (
		interval    = 500 * time.Millisecond
		ruleFor     = time.Second
		peerTimeout = 2 * time.Second
	)
	_, agentBin := binaries(t)
	redis := testserver.Redis(t)
	hook := newWebhook(t)
	// The shipped routing, waits shortened (group_wait and group_interval 1s).
	base := &stack{t: t, hook: hook}
	ams := testserver.AlertmanagerCluster(t, base.alertmanagerConfig(stackOptions{}), 2, testserver.ClusterOptions{PeerTimeout: peerTimeout})
	rules := base.ruleCopies(ruleFor)

	dir := t.TempDir()
	var agents []*instance
	for _, replica := range []string{"a", "b"} {
		a := &instance{name: "agent-" + replica, port: port(t)}
		a.url = "http://127.0.0.1:" + a.port
		cfg := fmt.Sprintf(`global:
  interval: %[1]s
  timeout: 400ms
  evaluation_interval: %[1]s
  external_labels:
    cluster: e2e
    __replica__: %[2]s
targets:
  - name: redis
    kind: redis
    redis: {address: %[3]q}
disable_default_rules: true
rule_files: [%[4]q]
alerting:
  alertmanagers:
    - {url: %[5]q, timeout: 1s}
    - {url: %[6]q, timeout: 1s}
  alert_relabel_configs:
    - action: labeldrop
      regex: __replica__
`, interval, replica, redis.Addr, rules+"/*.yml", ams[0].URL, ams[1].URL)
		a.proc = startProc(t, a.name, agentBin, []string{
			"--config.file=" + writeFile(t, dir, a.name+".yml", []byte(cfg)),
			"--web.listen-address=127.0.0.1:" + a.port,
			"--storage.path=" + filepath.Join(dir, a.name+"-data"),
			"--log.level=debug",
			"--rules.alert.for-grace-period=1s",
		}, nil)
		agents = append(agents, a)
	}
	for _, a := range agents {
		waitFor(t, a.name+" has redis_up", 30*time.Second, func() error { return agentQuery(t, a, "redis_up") })
	}

	start := time.Now()
	redis.Stop()
	waitFor(t, "RedisDown at the webhook", 30*time.Second, func() error {
		if _, ok := hook.find("RedisDown", "firing", nil); !ok {
			return fmt.Errorf("not yet; webhook has:\n%s", hook.summary())
		}
		return nil
	})
	t.Logf("fault to page: %s", time.Since(start).Round(100*time.Millisecond))
	// The second member notifies a peer timeout after the first unless the
	// first one's notification log reached it; wait past that.
	time.Sleep(2*peerTimeout + time.Second)
	for _, name := range []string{"RedisDown", "Watchdog"} {
		if n := hook.notifications(name, "firing"); n != 1 {
			t.Errorf("%d firing notifications of the %s group, want 1; webhook has:\n%s", n, name, hook.summary())
		}
	}
	for _, a := range hook.alerts("RedisDown") {
		if _, has := a["__replica__"]; has || a["cluster"] != "e2e" {
			t.Errorf("RedisDown alert labels %v: want cluster=e2e and no __replica__", a)
		}
	}
	if n := len(hook.alerts("RedisDown")); n != 1 {
		t.Errorf("%d RedisDown alerts notified, want the two replicas' alerts as one", n)
	}

	// Stop the member that notifies first: the other one must take over.
	first := ams[0]
	if st, err := first.ClusterStatus(t.Context()); err != nil || st.Position() != 0 {
		first = ams[1]
	}
	first.Stop()
	start = time.Now()
	redis.Start()
	waitFor(t, "RedisDown resolved at the webhook with one Alertmanager down", 30*time.Second, func() error {
		if _, ok := hook.find("RedisDown", "resolved", nil); !ok {
			return fmt.Errorf("not yet; webhook has:\n%s", hook.summary())
		}
		return nil
	})
	t.Logf("recovery to resolve with one Alertmanager down: %s", time.Since(start).Round(100*time.Millisecond))
	if n := hook.notifications("RedisDown", "resolved"); n != 1 {
		t.Errorf("%d resolved notifications of the RedisDown group, want 1", n)
	}
}

// notifications counts the notifications with the status whose group holds
// an alert of the name.
func (w *webhook) notifications(name, status string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.got {
		if m.Status != status {
			continue
		}
		for _, a := range m.Alerts {
			if a.Labels["alertname"] == name {
				n++
				break
			}
		}
	}
	return n
}

// alerts returns the label sets of the distinct alerts of the name that
// were notified.
func (w *webhook) alerts(name string) []map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	var out []map[string]string
	for _, m := range w.got {
		for _, a := range m.Alerts {
			key := fmt.Sprint(a.Labels)
			if a.Labels["alertname"] != name || seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, a.Labels)
		}
	}
	return out
}
