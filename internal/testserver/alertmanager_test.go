package testserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func TestAlertmanager(t *testing.T) {
	// A webhook receiver, to see Alertmanager deliver what it accepted.
	var mu sync.Mutex
	var delivered []string
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
			delivered = append(delivered, a.Labels["alertname"])
		}
	}))
	t.Cleanup(hook.Close)
	cfg := fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: %s/
`, hook.URL)
	srv := testserver.Alertmanager(t, cfg)
	ctx := t.Context()

	post := func(name string) {
		t.Helper()
		err := srv.PostAlerts(ctx, testserver.Alert{
			Labels:      map[string]string{"alertname": name, "severity": "critical"},
			Annotations: map[string]string{"summary": "testing " + name},
		})
		if err != nil {
			t.Fatalf("posting %s: %v", name, err)
		}
	}
	listed := func(name string) error {
		alerts, err := srv.Alerts(ctx)
		if err != nil {
			return err
		}
		for _, a := range alerts {
			if a.Labels["alertname"] != name {
				continue
			}
			if a.Annotations["summary"] != "testing "+name {
				return fmt.Errorf("%s listed with annotations %v", name, a.Annotations)
			}
			if a.Status == nil || a.Status.State != "active" {
				return fmt.Errorf("%s listed with status %+v, want active", name, a.Status)
			}
			if !slices.Equal(a.Receivers, []string{"hook"}) {
				return fmt.Errorf("%s routed to %v, want [hook]", name, a.Receivers)
			}
			return nil
		}
		return fmt.Errorf("%s not among %d listed alerts", name, len(alerts))
	}
	wasDelivered := func(name string) error {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(delivered, name) {
			return fmt.Errorf("%s not delivered to the webhook (got %v)", name, delivered)
		}
		return nil
	}

	t.Run("accepts, lists and delivers a posted alert", func(t *testing.T) {
		post("TestFirst")
		eventually(t, 10*time.Second, func() error { return listed("TestFirst") })
		eventually(t, 10*time.Second, func() error { return wasDelivered("TestFirst") })
	})

	t.Run("rejects an invalid alert", func(t *testing.T) {
		err := srv.PostAlerts(ctx, testserver.Alert{Labels: map[string]string{}})
		if err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("posting an alert without labels: err = %v, want a 400", err)
		}
	})

	t.Run("stops and starts on the same address", func(t *testing.T) {
		url := srv.URL
		srv.Stop()
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := srv.Alerts(qctx); err == nil {
			t.Fatal("listing alerts succeeded on a stopped server")
		}
		srv.Start()
		if srv.URL != url {
			t.Fatalf("URL changed from %s to %s", url, srv.URL)
		}
		post("TestAfterRestart")
		eventually(t, 10*time.Second, func() error { return listed("TestAfterRestart") })
	})
}

func TestAlertmanagerBadConfigFails(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		testserver.Alertmanager(ft, "route: {receiver: missing}\nreceivers: []\n")
	}()
	if !ft.failed {
		t.Fatal("Alertmanager started with an invalid configuration without failing the test")
	}
	if !strings.Contains(ft.msg, "did not become ready") {
		t.Errorf("failure message %q does not say the server did not become ready", ft.msg)
	}
}
