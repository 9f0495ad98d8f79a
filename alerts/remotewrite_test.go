package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// remoteWrite parses a remote_write list in Prometheus's format.
func remoteWrite(t *testing.T, yml string) []*config.RemoteWriteConfig {
	t.Helper()
	cfg, err := config.Parse([]byte("remote_write:\n" + yml))
	if err != nil {
		t.Fatalf("remote_write config: %v", err)
	}
	return cfg.RemoteWrite
}

// fastQueue makes upstream's queue send and retry within tens of
// milliseconds, so a test sees every stage in seconds.
const fastQueue = `  queue_config: {batch_send_deadline: 100ms, min_backoff: 20ms, max_backoff: 200ms, retry_on_http_429: true}
  metadata_config: {send: false}
`

// receiver is a Prometheus accepting remote_write, as the tests ask.
func receiver(t *testing.T) *testserver.PrometheusServer {
	t.Helper()
	return testserver.Prometheus(t, "global: {scrape_interval: 1h}\n", nil, testserver.WithRemoteWriteReceiver())
}

// samplesExpr selects every raw sample of the last hour: both sides count
// the points of its matrix at one instant, so they compare the same window.
const samplesExpr = `{__name__=~".+"}[1h]`

// localCount counts the samples of selector in the engine's own TSDB
// newer than from.
func localCount(t *testing.T, e *Engine, selector string, from, at time.Time) float64 {
	t.Helper()
	return localCountBySecond(t, e, selector, from, at, nil)
}

// localCountBySecond is localCount that also counts the samples of each
// second (Unix time) into perSecond.
func localCountBySecond(t *testing.T, e *Engine, selector string, from, at time.Time, perSecond map[int64]int) float64 {
	t.Helper()
	q, err := e.query.NewInstantQuery(t.Context(), e.db, nil, selector, at)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	res := q.Exec(t.Context())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m, err := res.Matrix()
	if err != nil {
		t.Fatalf("local %s: %v", selector, err)
	}
	n, after := 0, from.UnixMilli()
	for _, s := range m {
		for _, p := range s.Floats {
			if p.T > after {
				n++
				if perSecond != nil {
					perSecond[p.T/1000]++
				}
			}
		}
	}
	return float64(n)
}

// remoteCount counts the samples of selector on the receiver newer than
// from; -1 when it does not answer.
func remoteCount(t *testing.T, prom *testserver.PrometheusServer, selector string, from, at time.Time) float64 {
	t.Helper()
	return remoteCountBySecond(t, prom, selector, from, at, nil)
}

func remoteCountBySecond(t *testing.T, prom *testserver.PrometheusServer, selector string, from, at time.Time, perSecond map[int64]int) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	v, _, _, err := prom.API().Query(ctx, selector, at)
	if err != nil {
		t.Logf("querying the receiver: %v", err)
		return -1
	}
	m, ok := v.(model.Matrix)
	if !ok {
		t.Fatalf("receiver answered %s with a %s", selector, v.Type())
	}
	n, after := 0, model.TimeFromUnixNano(from.UnixNano())
	for _, s := range m {
		for _, p := range s.Values {
			if p.Timestamp > after {
				n++
				if perSecond != nil {
					perSecond[int64(p.Timestamp)/1000]++
				}
			}
		}
	}
	return float64(n)
}

func receiverLog(prom *testserver.PrometheusServer) string {
	b, _ := os.ReadFile(filepath.Join(prom.Dir, "prometheus.log"))
	return string(b)
}

// stopAppending ends Run, so nothing more is appended to the TSDB, and
// returns an instant after the last sample.
func stopAppending(t *testing.T, r *running) time.Time {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	return time.Now().Add(time.Second)
}

// waitDelivered waits until the receiver holds exactly as many samples
// newer than from as the agent's TSDB, then checks every series carries
// the external labels.
func waitDelivered(t *testing.T, prom *testserver.PrometheusServer, e *Engine, from, at time.Time, timeout time.Duration) {
	t.Helper()
	want := localCount(t, e, samplesExpr, from, at)
	if want < 100 {
		t.Fatalf("the agent's TSDB holds only %v samples since %s", want, from)
	}
	var got float64
	deadline := time.Now().Add(timeout)
	for got = remoteCount(t, prom, samplesExpr, from, at); got != want; got = remoteCount(t, prom, samplesExpr, from, at) {
		if time.Now().After(deadline) {
			local, remote := map[int64]int{}, map[int64]int{}
			localCountBySecond(t, e, samplesExpr, from, at, local)
			remoteCountBySecond(t, prom, samplesExpr, from, at, remote)
			var diff []string
			for sec, n := range local {
				if remote[sec] != n {
					diff = append(diff, fmt.Sprintf("%s: %d of %d", time.Unix(sec, 0).UTC().Format("15:04:05"), remote[sec], n))
				}
			}
			slices.Sort(diff)
			t.Fatalf("receiver holds %v samples, the agent's TSDB %v (from %s to %s UTC); seconds short: %v\nthe receiver's log:\n%s",
				got, want, from.UTC().Format("15:04:05"), at.UTC().Format("15:04:05"), diff, receiverLog(prom))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("receiver holds all %v samples", got)
	if without := remoteCount(t, prom, `{__name__=~".+", cluster!="test"}[1h]`, from, at); without != 0 {
		t.Errorf("%v samples arrived without the external label cluster=test", without)
	}
}

func TestRemoteWriteDeliversEverySampleToPrometheus(t *testing.T) {
	prom := receiver(t)
	a := newApp(t, "# TYPE rw_test_total counter\nrw_test_total{path=\"/a\"} 1\nrw_test_total{path=\"/b\"} 2\n")
	cfg := testConfig(nil, []string{a.metricsURL()})
	cfg.RemoteWrite = remoteWrite(t, "- url: "+prom.URL+"/api/v1/write\n  name: receiver\n"+fastQueue)
	r := startEngine(t, t.TempDir(), cfg, nil)

	eventually(t, 20*time.Second, "samples sent", func() bool {
		return metricValue(t, r.reg, "prometheus_remote_storage_samples_total", map[string]string{"remote_name": "receiver"}) > 0
	})
	// Upstream's WAL watcher sends samples newer than its start, which
	// races with the first appends: count from once it has sent.
	from := time.Now()
	time.Sleep(2 * time.Second)
	at := stopAppending(t, r)
	waitDelivered(t, prom, r.Engine, from, at, 30*time.Second)
	if got := remoteCount(t, prom, `rw_test_total{job="app", env="test", cluster="test"}[1h]`, from, at); got != localCount(t, r.Engine, `rw_test_total{job="app", env="test"}[1h]`, from, at) || got == 0 {
		t.Errorf("receiver has %v rw_test_total samples with job, env and cluster, want as many as the agent", got)
	}

	if problems, err := testutil.GatherAndLint(r.reg, "prometheus_remote_storage_samples_total", "prometheus_remote_storage_samples_pending",
		"prometheus_remote_storage_queue_highest_sent_timestamp_seconds", "prometheus_remote_storage_samples_failed_total"); err != nil || len(problems) > 0 {
		t.Errorf("upstream's remote-write metrics do not lint: %v %v", problems, err)
	}
	st := r.RemoteWriteStatus()
	if len(st) != 1 || st[0].Name != "receiver" || st[0].Sent == 0 || st[0].LastSent.IsZero() || st[0].Failed != 0 {
		t.Errorf("RemoteWriteStatus = %+v, want one queue \"receiver\" with samples sent and none failed", st)
	}
}

// statusReceiver answers remote_write with the status code code returns for
// the n-th request (from 1); 2xx requests count as accepted.
type statusReceiver struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	times    []time.Time
}

func newStatusReceiver(t *testing.T, code func(n int64, w http.ResponseWriter) int) *statusReceiver {
	t.Helper()
	s := &statusReceiver{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n := s.requests.Add(1)
		s.mu.Lock()
		s.times = append(s.times, time.Now())
		s.mu.Unlock()
		w.WriteHeader(code(n, w))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRemoteWriteHonoursRetryAfter(t *testing.T) {
	rcv := newStatusReceiver(t, func(n int64, w http.ResponseWriter) int {
		if n <= 2 {
			w.Header().Set("Retry-After", "2")
			return http.StatusTooManyRequests
		}
		return http.StatusNoContent
	})
	cfg := testConfig(nil, nil)
	cfg.RemoteWrite = remoteWrite(t, "- url: "+rcv.URL+"/push\n  name: limited\n"+fastQueue)
	r := startEngine(t, t.TempDir(), cfg, nil)

	eventually(t, 30*time.Second, "a batch accepted after the 429s", func() bool {
		return metricValue(t, r.reg, "prometheus_remote_storage_samples_total", map[string]string{"remote_name": "limited"}) > 0 &&
			rcv.requests.Load() >= 3
	})
	rcv.mu.Lock()
	gaps := []time.Duration{rcv.times[1].Sub(rcv.times[0]), rcv.times[2].Sub(rcv.times[1])}
	rcv.mu.Unlock()
	for i, g := range gaps {
		// max_backoff is 200ms: only Retry-After explains a 2s wait.
		if g < 1900*time.Millisecond {
			t.Errorf("retry %d came %s after a 429 with Retry-After: 2", i+1, g)
		}
	}
	if got := metricValue(t, r.reg, "prometheus_remote_storage_samples_retried_total", map[string]string{"remote_name": "limited"}); got == 0 {
		t.Error("no retried samples counted")
	}
	if got := metricValue(t, r.reg, "prometheus_remote_storage_samples_failed_total", map[string]string{"remote_name": "limited"}); got != 0 {
		t.Errorf("%v samples failed; a 429 must be retried", got)
	}
}

func TestRemoteWriteDropsAndCountsRejectedBatchesWithoutLoggingSecrets(t *testing.T) {
	const password, apiKey = "pw-s3cret-91", "key-s3cret-92"
	// A receiver that echoes the request's credentials in its error, as
	// some proxies do; upstream logs the body.
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, pw, _ := r.BasicAuth()
		http.Error(w, "refused: password "+pw+", key "+r.Header.Get("X-Api-Key"), http.StatusBadRequest)
	}))
	t.Cleanup(rcv.Close)
	logs := &testserver.LogBuffer{}
	cfg := testConfig(nil, nil)
	cfg.RemoteWrite = remoteWrite(t, "- url: "+rcv.URL+"/push\n  name: rejecting\n  basic_auth: {username: u, password: "+password+"}\n  headers: {X-Api-Key: "+apiKey+"}\n"+fastQueue)
	r := startEngine(t, t.TempDir(), cfg, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	eventually(t, 30*time.Second, "rejected samples counted as failed", func() bool {
		return metricValue(t, r.reg, "prometheus_remote_storage_samples_failed_total", map[string]string{"remote_name": "rejecting"}) > 0
	})
	if got := metricValue(t, r.reg, "prometheus_remote_storage_samples_retried_total", map[string]string{"remote_name": "rejecting"}); got != 0 {
		t.Errorf("%v samples retried after a 400; they must be dropped", got)
	}
	eventually(t, 10*time.Second, "the refusal logged", func() bool { return strings.Contains(logs.String(), "refused: password <secret>, key <secret>") })
	for _, s := range []string{password, apiKey} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log shows secret %s:\n%s", s, logs.String())
		}
	}
}

func TestRemoteWriteHungReceiverBlocksNothing(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })

	dir := t.TempDir()
	rules := writeRules(t, dir, "r.yml", "groups:\n- name: g\n  rules:\n  - record: rw_up_sum\n    expr: sum(up)\n")
	a := newApp(t, "rw_test 1\n")
	cfg := testConfig([]string{rules}, []string{a.metricsURL()})
	cfg.RemoteWrite = remoteWrite(t, "- url: "+hung.URL+"/push\n  name: hung\n  remote_timeout: 1h\n"+fastQueue)
	r := startEngine(t, dir, cfg, func(o *Options) { o.RemoteFlushDeadline = time.Second })

	eventually(t, 20*time.Second, "samples pending for the hung receiver", func() bool {
		return metricValue(t, r.reg, "prometheus_remote_storage_samples_pending", map[string]string{"remote_name": "hung"}) > 0
	})
	count := func() (rec, up float64) {
		for _, c := range []struct {
			expr string
			v    *float64
		}{{"count_over_time(rw_up_sum[1h])", &rec}, {`count_over_time(up{job="app"}[1h])`, &up}} {
			q, err := r.query.NewInstantQuery(t.Context(), r.db, nil, c.expr, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			res := q.Exec(t.Context())
			if v, err := res.Vector(); err == nil && len(v) == 1 {
				*c.v = v[0].F
			}
			q.Close()
		}
		return rec, up
	}
	rec0, up0 := count()
	time.Sleep(2 * time.Second)
	rec1, up1 := count()
	// 100ms evaluations and scrapes: ~20 of each in 2s.
	if rec1-rec0 < 10 || up1-up0 < 10 {
		t.Errorf("with the receiver hung, 2s added %v rule results and %v scrapes, want ~20 each", rec1-rec0, up1-up0)
	}
	if st := r.RemoteWriteStatus(); len(st) != 1 || !st[0].LastSent.IsZero() || st[0].Pending == 0 {
		t.Errorf("RemoteWriteStatus = %+v, want one queue with samples pending and nothing sent", st)
	}
	start := time.Now()
	r.stop(t)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %s with a 1s flush deadline", d)
	}
}

// outage is how long the receiver is down in the outage tests, as the issue
// asks; everything else in them is short (1s intervals and backoff).
const outage = 2 * time.Minute

// restartOutage is the receiver's outage around an agent restart: what is
// at stake is the samples written before the restart, whatever the
// outage's length, and go test runs two of these slow tests at a time on
// CI's two cores.
const restartOutage = 40 * time.Second

// outageConfig scrapes the app and evaluates every second and sends with a
// 1s maximum backoff, so the tests spend their time in the outage only.
func outageConfig(t *testing.T, appURL, receiverURL string) *config.Config {
	t.Helper()
	cfg := testConfig(nil, []string{appURL})
	cfg.Global.Interval = config.Duration(time.Second)
	cfg.Global.Timeout = config.Duration(500 * time.Millisecond)
	cfg.Global.EvaluationInterval = config.Duration(time.Second)
	cfg.RemoteWrite = remoteWrite(t, "- url: "+receiverURL+"/api/v1/write\n  name: receiver\n  basic_auth: {username: vigil, password: first}\n"+
		"  queue_config: {batch_send_deadline: 2s, min_backoff: 100ms, max_backoff: 1s}\n  metadata_config: {send: false}\n")
	return cfg
}

func TestRemoteWriteReceiverOutageAndReload(t *testing.T) {
	t.Parallel()
	prom := receiver(t)
	a := newApp(t, "rw_outage_total 1\n")
	cfg := outageConfig(t, a.metricsURL(), prom.URL)
	r := startEngine(t, t.TempDir(), cfg, nil)
	eventually(t, 20*time.Second, "samples sent", func() bool {
		return metricValue(t, r.reg, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", map[string]string{"remote_name": "receiver"}) > 0
	})
	from := time.Now()

	prom.Stop()
	time.Sleep(outage / 2)
	// A reload during the outage: new credentials for the receiver (upstream
	// keeps its queue and what it holds) and a second endpoint.
	second := newStatusReceiver(t, func(int64, http.ResponseWriter) int { return http.StatusNoContent })
	cfg2 := outageConfig(t, a.metricsURL(), prom.URL)
	cfg2.RemoteWrite[0].HTTPClientConfig.BasicAuth.Password = "second"
	cfg2.RemoteWrite = append(cfg2.RemoteWrite, remoteWrite(t, "- url: "+second.URL+"/push\n  name: second\n"+fastQueue)...)
	if err := r.ApplyConfig(cfg2); err != nil {
		t.Fatalf("reload during the outage: %v", err)
	}
	pending := metricValue(t, r.reg, "prometheus_remote_storage_samples_pending", map[string]string{"remote_name": "receiver"})
	if pending == 0 {
		t.Error("no samples pending for the receiver after the reload: its queue was restarted")
	}
	eventually(t, 20*time.Second, "the endpoint added by the reload receives samples", func() bool { return second.requests.Load() > 0 })
	time.Sleep(outage / 2)
	prom.Start()

	time.Sleep(5 * time.Second)
	at := stopAppending(t, r)
	waitDelivered(t, prom, r.Engine, from, at, time.Minute)
}

func TestRemoteWriteAgentRestartDuringOutage(t *testing.T) {
	t.Parallel()
	prom := receiver(t)
	a := newApp(t, "rw_restart_total 1\n")
	dir := t.TempDir()
	cfg := outageConfig(t, a.metricsURL(), prom.URL)
	flush := func(o *Options) { o.RemoteFlushDeadline = time.Second }
	first := startEngine(t, dir, cfg, flush)
	eventually(t, 20*time.Second, "samples sent", func() bool {
		return metricValue(t, first.reg, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", map[string]string{"remote_name": "receiver"}) > 0
	})
	from := time.Now()

	prom.Stop()
	time.Sleep(restartOutage / 4)
	first.stop(t) // its queue cannot flush: the receiver is down
	// As after a crash, the saved highest sent timestamp is behind what the
	// receiver has: the backfill re-sends samples it refuses as duplicates.
	state := filepath.Join(dir, sentStateFile)
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("the highest sent timestamps were not saved: %v", err)
	}
	var saved map[string]int64
	if err := json.Unmarshal(b, &saved); err != nil || saved["receiver"] < from.Add(-time.Minute).UnixMilli() {
		t.Fatalf("saved state %s: want the receiver's highest sent timestamp (%v)", b, err)
	}
	saved["receiver"] -= 10_000
	b, _ = json.Marshal(saved)
	if err := os.WriteFile(state, b, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(restartOutage / 4)
	second := startEngine(t, dir, cfg, flush)
	time.Sleep(restartOutage / 2)
	prom.Start()

	eventually(t, time.Minute, "the backfilled queue handed over to upstream's", func() bool {
		return metricValue(t, second.reg, "prometheus_remote_storage_samples_total", map[string]string{"remote_name": "receiver"}) > 0
	})
	time.Sleep(5 * time.Second)
	at := stopAppending(t, second)
	waitDelivered(t, prom, second.Engine, from, at, time.Minute)
}

func TestRemoteWriteReloadWithUnloadableTLSRefusedWhole(t *testing.T) {
	rcv := newStatusReceiver(t, func(int64, http.ResponseWriter) int { return http.StatusNoContent })
	cfg := testConfig(nil, nil)
	cfg.RemoteWrite = remoteWrite(t, "- url: "+rcv.URL+"/push\n  name: good\n"+fastQueue)
	r := startEngine(t, t.TempDir(), cfg, nil)
	eventually(t, 20*time.Second, "samples sent", func() bool { return rcv.requests.Load() > 0 })

	bad := testConfig(nil, nil)
	bad.RemoteWrite = remoteWrite(t, "- url: https://other.example/push\n  name: other\n  tls_config: {ca_file: "+filepath.Join(t.TempDir(), "missing-ca.pem")+"}\n")
	err := r.ApplyConfig(bad)
	if err == nil || !strings.Contains(err.Error(), "remote_write[0] https://other.example/push") || !strings.Contains(err.Error(), "missing-ca.pem") {
		t.Fatalf("ApplyConfig with an unloadable CA file = %v, want an error naming the entry and the file", err)
	}
	if st := r.RemoteWriteStatus(); len(st) != 1 || st[0].Name != "good" {
		t.Errorf("after the refused reload the queues are %+v, want the previous one only", st)
	}
	before := rcv.requests.Load()
	eventually(t, 20*time.Second, "the previous queue still sending", func() bool { return rcv.requests.Load() > before })
}

func TestRemoteWriteReloadChangingAQueueLosesNothing(t *testing.T) {
	t.Parallel()
	prom := receiver(t)
	a := newApp(t, "rw_changed_total 1\n")
	cfg := outageConfig(t, a.metricsURL(), prom.URL)
	// The reload waits for the replaced queue's flush deadline while the
	// receiver is down; 5s is enough to see appends keep going meanwhile.
	r := startEngine(t, t.TempDir(), cfg, func(o *Options) { o.RemoteFlushDeadline = 5 * time.Second })
	eventually(t, 20*time.Second, "samples sent", func() bool {
		return metricValue(t, r.reg, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds", map[string]string{"remote_name": "receiver"}) > 0
	})
	from := time.Now()
	prom.Stop()
	time.Sleep(10 * time.Second)
	// New queue settings: upstream replaces the queue, and what the old one
	// held would be lost without the backfill.
	changed := outageConfig(t, a.metricsURL(), prom.URL)
	changed.RemoteWrite[0].QueueConfig.MaxShards = 3
	if err := r.ApplyConfig(changed); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	prom.Start()
	eventually(t, time.Minute, "the new queue sending", func() bool {
		return metricValue(t, r.reg, "prometheus_remote_storage_shards_max", map[string]string{"remote_name": "receiver"}) == 3 &&
			metricValue(t, r.reg, "prometheus_remote_storage_samples_total", map[string]string{"remote_name": "receiver"}) > 0
	})
	time.Sleep(5 * time.Second)
	at := stopAppending(t, r)
	// Upstream stops the replaced queue under the lock its WAL notification
	// takes, for up to the flush deadline (5s here): the TSDB's commits must
	// not wait for it.
	perSecond := map[int64]int{}
	localCountBySecond(t, r.Engine, samplesExpr, from, at, perSecond)
	for sec := from.Unix() + 1; sec < at.Unix()-2; sec++ {
		if perSecond[sec] == 0 {
			t.Errorf("no sample appended at %s: appends stalled during the reload", time.Unix(sec, 0).UTC().Format("15:04:05"))
		}
	}
	waitDelivered(t, prom, r.Engine, from, at, time.Minute)
}

// TestRemoteWriteSendsScrapedMetadata: the metadata watcher reads the
// running scrape manager's targets, so HELP and TYPE reach the receiver as
// they do from Prometheus.
func TestRemoteWriteSendsScrapedMetadata(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "# HELP app_items Items in the tracker.\n# TYPE app_items gauge\napp_items 3\n")
	}))
	t.Cleanup(app.Close)
	rcv := newStatusReceiver(t, func(int64, http.ResponseWriter) int { return http.StatusNoContent })
	cfg := testConfig(nil, []string{app.URL + "/metrics"})
	cfg.RemoteWrite = remoteWrite(t, "- url: "+rcv.URL+"/push\n  name: meta\n  queue_config: {batch_send_deadline: 100ms}\n  metadata_config: {send: true, send_interval: 200ms}\n")
	r := startEngine(t, t.TempDir(), cfg, nil)
	eventually(t, 30*time.Second, "metadata sent", func() bool {
		return metricValue(t, r.reg, "prometheus_remote_storage_metadata_total", map[string]string{"remote_name": "meta"}) > 0
	})
}
