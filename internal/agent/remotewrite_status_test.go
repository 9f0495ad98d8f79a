package agent

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// remoteWriteRules is a RuleEngine whose remote_write state is fixed.
type remoteWriteRules struct {
	staticRules
	queues []RemoteWriteState
}

func (r remoteWriteRules) RemoteWrite() []RemoteWriteState { return r.queues }

func TestStatusPageShowsRemoteWriteQueues(t *testing.T) {
	q := RemoteWriteState{Name: "mimir", Endpoint: "https://mimir.example/api/v1/push", Pending: 1234, Sent: 98765, Failed: 7, Retried: 3, Shards: 2,
		LastSent: time.Now().Add(-90 * time.Second), Lag: 90 * time.Second}
	a := newTestAgent(t, "targets: []\n", func(o *Options) { o.Rules = remoteWriteRules{queues: []RemoteWriteState{q}} })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	page := string(body)
	i := strings.Index(page, `id="remote-write"`)
	if i < 0 {
		t.Fatalf("no remote-write table on the status page:\n%s", page)
	}
	row := page[i:]
	row = row[:strings.Index(row, "</table>")]
	for _, want := range []string{`data-queue="mimir"`, "https://mimir.example/api/v1/push", "<td>1234</td>", "<td>98765</td>", `<td class="down">7</td>`, "1m30s"} {
		if !strings.Contains(row, want) {
			t.Errorf("remote-write table lacks %q:\n%s", want, row)
		}
	}
}
