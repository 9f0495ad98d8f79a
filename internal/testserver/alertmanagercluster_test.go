package testserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// TestAlertmanagerCluster posts one alert to both members of a two-node
// cluster: the webhook gets it once. With the member that notified
// stopped, the other still sends the resolve.
func TestAlertmanagerCluster(t *testing.T) {
	var mu sync.Mutex
	var got []string // status of each notification
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Status string `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, msg.Status)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	count := func(status string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range got {
			if s == status {
				n++
			}
		}
		return n
	}
	cfg := fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s/
        send_resolved: true
`, hook.URL)
	const peerTimeout = time.Second
	ams := testserver.AlertmanagerCluster(t, cfg, 2, testserver.ClusterOptions{PeerTimeout: peerTimeout})
	ctx := t.Context()
	first := ams[0]
	if st, err := first.ClusterStatus(ctx); err != nil || st.Position() != 0 {
		first = ams[1]
	}

	alert := testserver.Alert{Labels: map[string]string{"alertname": "TestHA"}, StartsAt: time.Now()}
	for _, am := range ams {
		if err := am.PostAlerts(ctx, alert); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if count("firing") == 0 {
			return fmt.Errorf("no firing notification")
		}
		return nil
	})
	// The second member notifies after the peer timeout unless the first
	// one's notification log reached it.
	time.Sleep(3 * peerTimeout)
	if n := count("firing"); n != 1 {
		t.Fatalf("%d firing notifications from a two-node cluster, want 1", n)
	}

	first.Stop()
	alert.EndsAt = time.Now()
	for _, am := range ams {
		if am != first {
			if err := am.PostAlerts(ctx, alert); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, 10*time.Second, func() error {
		if count("resolved") != 1 {
			return fmt.Errorf("%d resolved notifications, want 1", count("resolved"))
		}
		return nil
	})
}
