package testserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// ClusterOptions shorten Alertmanager's HA timings to what a test can wait
// for. Zero values take the defaults below.
type ClusterOptions struct {
	// PeerTimeout is how long the member at position i waits, times i,
	// before notifying, so that the notification log of the member before
	// it has reached it by gossip (Alertmanager's default: 15s).
	PeerTimeout time.Duration // default 2s
	// GossipInterval also sets how fast the cluster settles (10 gossip
	// intervals, three times) before the first notification.
	GossipInterval time.Duration // default 50ms
}

// AlertmanagerCluster starts n prometheus-alertmanager processes with the
// same configuration, gossiping with each other on loopback ports
// (--cluster.listen-address, one --cluster.peer per other member), and
// returns once every member reports a settled cluster of n peers. Clients
// send every alert to every member; the cluster notifies once.
func AlertmanagerCluster(t testing.TB, cfgYAML string, n int, o ClusterOptions) []*AlertmanagerServer {
	t.Helper()
	if o.PeerTimeout == 0 {
		o.PeerTimeout = 2 * time.Second
	}
	if o.GossipInterval == 0 {
		o.GossipInterval = 50 * time.Millisecond
	}
	gossip := make([]string, n)
	for i := range gossip {
		// Memberlist listens on this port over TCP and UDP.
		gossip[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	}
	members := make([]*AlertmanagerServer, n)
	for i := range members {
		args := []string{
			"--cluster.listen-address=" + gossip[i],
			"--cluster.advertise-address=" + gossip[i],
			"--cluster.peer-timeout=" + o.PeerTimeout.String(),
			"--cluster.gossip-interval=" + o.GossipInterval.String(),
			"--cluster.pushpull-interval=1s",
			"--cluster.probe-interval=200ms",
			"--cluster.reconnect-interval=1s",
			"--cluster.settle-timeout=10s",
		}
		for j, peer := range gossip {
			if j != i {
				args = append(args, "--cluster.peer="+peer)
			}
		}
		members[i] = newAlertmanager(t, cfgYAML, args)
		members[i].d.name = fmt.Sprintf("alertmanager%d", i)
	}
	for _, m := range members {
		m.d.start(true)
		m.URL = m.d.url()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, m := range members {
		for {
			st, err := m.ClusterStatus(ctx)
			if err == nil && st.Status == "ready" && len(st.Peers) == n {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("alertmanager cluster at %s did not settle with %d peers: %+v, %v", m.URL, n, st, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return members
}

// ClusterStatus is the cluster part of /api/v2/status.
type ClusterStatus struct {
	Name   string `json:"name"`   // this member's peer name
	Status string `json:"status"` // ready, settling or disabled
	Peers  []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"peers"`
}

// Position is this member's place in the notification order: the member at
// position 0 notifies first, the others wait Position × peer timeout and
// notify only what the notification log says was not sent.
func (c ClusterStatus) Position() int {
	names := make([]string, 0, len(c.Peers))
	for _, p := range c.Peers {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return slices.Index(names, c.Name)
}

// ClusterStatus reads the member's view of the cluster.
func (s *AlertmanagerServer) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	body, err := s.do(ctx, http.MethodGet, "/api/v2/status", nil)
	if err != nil {
		return ClusterStatus{}, err
	}
	var st struct {
		Cluster ClusterStatus `json:"cluster"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return ClusterStatus{}, fmt.Errorf("decoding the status of %s: %w", s.URL, err)
	}
	return st.Cluster, nil
}
