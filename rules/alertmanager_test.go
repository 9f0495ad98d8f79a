package rules

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// The on-call Alertmanager configuration routes these rules: the tests live
// beside them so that a new severity or alert cannot go unrouted.
var alertmanagerConfig = filepath.Join("..", "deploy", "alertmanager.yml")

func TestAlertmanagerConfigValid(t *testing.T) {
	amtool := lookPath(t, "amtool", "prometheus-alertmanager")
	out, err := exec.CommandContext(t.Context(), amtool, "check-config", alertmanagerConfig).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config %s: %v\n%s", alertmanagerConfig, err, out)
	}
}

// TestAlertmanagerRoutes asks amtool where label sets go: every alert of the
// rules by its severity, and the corner cases.
func TestAlertmanagerRoutes(t *testing.T) {
	amtool := lookPath(t, "amtool", "prometheus-alertmanager")
	type route struct {
		labels []string
		want   string
	}
	routes := []route{
		{[]string{"alertname=Watchdog", "severity=info"}, "heartbeat"},
		{[]string{"alertname=Watchdog", "severity=none"}, "heartbeat"},
		{[]string{"alertname=Anything", "severity=critical"}, "pager"},
		{[]string{"alertname=Anything", "severity=warning"}, "ticket"},
		{[]string{"alertname=Anything", "severity=info"}, "null"},
		{[]string{"alertname=Anything", "severity=none"}, "null"},
		{[]string{"alertname=NoSeverity"}, "ticket"}, // nothing is lost
	}
	bySeverity := map[string]string{SeverityCritical: "pager", SeverityWarning: "ticket", SeverityInfo: "null"}
	for _, g := range Groups().Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			want := bySeverity[r.Labels["severity"]]
			if r.Alert == "Watchdog" {
				want = "heartbeat"
			}
			routes = append(routes, route{[]string{"alertname=" + r.Alert, "severity=" + r.Labels["severity"], "job=app"}, want})
		}
	}
	for _, rt := range routes {
		t.Run(strings.Join(rt.labels, ","), func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=" + alertmanagerConfig}, rt.labels...)
			out, err := exec.CommandContext(t.Context(), amtool, args...).Output()
			if err != nil {
				t.Fatalf("amtool %s: %v", strings.Join(args, " "), err)
			}
			if got := strings.TrimSpace(string(out)); got != rt.want {
				t.Errorf("routed to %q, want %q", got, rt.want)
			}
		})
	}
}

// TestAlertmanagerDelivery runs the configuration in a real Alertmanager,
// its webhooks pointed at a test server: routing, inhibition and delivery.
func TestAlertmanagerDelivery(t *testing.T) {
	t.Parallel() // waits for the routes' group_wait (30s for tickets)
	cfg, err := os.ReadFile(alertmanagerConfig)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string][]string{} // receiver path → alertname/job/instance/severity
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, a := range msg.Alerts {
			got[r.URL.Path] = append(got[r.URL.Path], alertKey(a.Labels))
		}
	}))
	t.Cleanup(hook.Close)
	if !strings.Contains(string(cfg), "http://localhost:5001/") {
		t.Fatalf("%s has no webhook at the placeholder http://localhost:5001/", alertmanagerConfig)
	}
	am := testserver.Alertmanager(t, strings.ReplaceAll(string(cfg), "http://localhost:5001/", hook.URL+"/"))
	ctx := t.Context()

	alerts := []map[string]string{
		{"alertname": "Watchdog", "severity": "info"},
		{"alertname": "DatabaseDown", "severity": "critical", "job": "mongodb", "instance": "db-1:27017"},
		{"alertname": "HighErrorRate", "severity": "critical", "job": "app"},
		{"alertname": "AvailabilitySLOFastBurn", "severity": "critical", "job": "app"},
		{"alertname": "HighErrorRate", "severity": "critical", "job": "other"},
		{"alertname": "DiskSpaceLow", "severity": "critical", "job": "node", "instance": "host-1"},
		{"alertname": "DiskSpaceLow", "severity": "warning", "job": "node", "instance": "host-1"},
		{"alertname": "DiskSpaceLow", "severity": "warning", "job": "node", "instance": "host-2"},
		{"alertname": "RedisEvictingKeys", "severity": "info", "job": "redis"},
	}
	var post []testserver.Alert
	for _, l := range alerts {
		post = append(post, testserver.Alert{Labels: l, EndsAt: time.Now().Add(time.Hour)})
	}
	if err := am.PostAlerts(ctx, post...); err != nil {
		t.Fatal(err)
	}

	// The inhibitor learns of source alerts asynchronously: poll briefly.
	wantSuppressed := map[string]bool{
		"HighErrorRate/app//critical":           true, // DatabaseDown inhibits the app's symptoms
		"AvailabilitySLOFastBurn/app//critical": true,
		"DiskSpaceLow/node/host-1/warning":      true, // critical inhibits warning, same alertname and instance
	}
	t.Run("inhibition", func(t *testing.T) {
		var problems []string
		for deadline := time.Now().Add(10 * time.Second); ; {
			listed, err := am.Alerts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			problems = nil
			if len(listed) != len(alerts) {
				problems = append(problems, fmt.Sprintf("listed %d alerts, posted %d", len(listed), len(alerts)))
			}
			for _, a := range listed {
				k := alertKey(a.Labels)
				inhibited := a.Status != nil && a.Status.State == "suppressed" && len(a.Status.InhibitedBy) > 0
				if inhibited != wantSuppressed[k] {
					problems = append(problems, fmt.Sprintf("%s: status %+v, want inhibited %v", k, a.Status, wantSuppressed[k]))
				}
			}
			if len(problems) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, p := range problems {
			t.Error(p)
		}
	})

	t.Run("delivery", func(t *testing.T) {
		want := map[string][]string{
			"/heartbeat": {"Watchdog///info"},
			"/pager":     {"DatabaseDown/mongodb/db-1:27017/critical", "DiskSpaceLow/node/host-1/critical", "HighErrorRate/other//critical"},
			"/ticket":    {"DiskSpaceLow/node/host-2/warning"},
		}
		// The pager route waits 10s (group_wait) before its first notification.
		deadline := time.Now().Add(40 * time.Second)
		for {
			mu.Lock()
			snapshot := map[string][]string{}
			for k, v := range got {
				s := slices.Clone(v)
				slices.Sort(s)
				snapshot[k] = slices.Compact(s)
			}
			mu.Unlock()
			diff := fmt.Sprint(snapshot) != fmt.Sprint(want)
			if !diff {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("webhooks received %v, want %v", snapshot, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

func alertKey(l map[string]string) string {
	return l["alertname"] + "/" + l["job"] + "/" + l["instance"] + "/" + l["severity"]
}
