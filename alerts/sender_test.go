package alerts

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func testAlerts(from, n int) []*notifier.Alert {
	out := make([]*notifier.Alert, n)
	for i := range out {
		out[i] = &notifier.Alert{Labels: labels.FromStrings("alertname", "A", "i", strconv.Itoa(from+i))}
	}
	return out
}

func alertIDs(as []*notifier.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Labels.Get("i")
	}
	return out
}

func newTestQueue(t *testing.T, url string) (*amQueue, *senderMetrics) {
	t.Helper()
	m, err := newSenderMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	q, err := newAMQueue(config.AlertmanagerConfig{URL: url}, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return q, m
}

func TestQueueDropsOldest(t *testing.T) {
	cases := []struct {
		name        string
		capacity    int
		sends       []int // batch sizes, in order
		requeue     int   // size of a failed batch put back at the head
		wantIDs     []string
		wantDropped float64
	}{
		{name: "fits", capacity: 3, sends: []int{2}, wantIDs: []string{"0", "1"}},
		{name: "one call over capacity", capacity: 3, sends: []int{5}, wantIDs: []string{"2", "3", "4"}, wantDropped: 2},
		{name: "several calls over capacity", capacity: 3, sends: []int{2, 2, 2}, wantIDs: []string{"3", "4", "5"}, wantDropped: 3},
		{name: "requeued batch over capacity loses its oldest", capacity: 4, sends: []int{2}, requeue: 3, wantIDs: []string{"r1", "r2", "0", "1"}, wantDropped: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, m := newTestQueue(t, "http://am.example:9093")
			q.capacity = c.capacity
			next := 0
			for _, n := range c.sends {
				q.enqueue(testAlerts(next, n))
				next += n
			}
			if c.requeue > 0 {
				batch := make([]*notifier.Alert, c.requeue)
				for i := range batch {
					batch[i] = &notifier.Alert{Labels: labels.FromStrings("i", "r"+strconv.Itoa(i))}
				}
				q.requeue(batch)
			}
			if got := alertIDs(q.queue); !equalStrings(got, c.wantIDs) {
				t.Errorf("queue = %v, want %v", got, c.wantIDs)
			}
			if got := testutil.ToFloat64(m.dropped.WithLabelValues("am.example:9093")); got != c.wantDropped {
				t.Errorf("dropped = %v, want %v", got, c.wantDropped)
			}
			if got := testutil.ToFloat64(m.queueLen.WithLabelValues("am.example:9093")); got != float64(len(c.wantIDs)) {
				t.Errorf("queue length metric = %v, want %d", got, len(c.wantIDs))
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRetryBackoff fails the first deliveries: the batch is retried with
// doubling delays, capped, and delivered in order once the post succeeds.
func TestRetryBackoff(t *testing.T) {
	cases := []struct {
		name      string
		failures  int
		wantGaps  []time.Duration
		wantDelay time.Duration // first attempt to delivery
	}{
		{name: "no failure", failures: 0, wantGaps: nil, wantDelay: 0},
		{name: "three failures", failures: 3, wantGaps: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}, wantDelay: 700 * time.Millisecond},
		{
			name: "capped at the maximum", failures: 9,
			wantGaps: []time.Duration{
				100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
				1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond, 10 * time.Second, 10 * time.Second,
			},
			wantDelay: 100*time.Millisecond + 200*time.Millisecond + 400*time.Millisecond + 800*time.Millisecond +
				1600*time.Millisecond + 3200*time.Millisecond + 6400*time.Millisecond + 20*time.Second,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q, m := newTestQueue(t, "http://am.example:9093")
				var (
					mu        sync.Mutex
					attempts  []time.Time
					delivered []string
				)
				q.post = func(ctx context.Context, as []*notifier.Alert) error {
					mu.Lock()
					defer mu.Unlock()
					attempts = append(attempts, time.Now())
					if len(attempts) <= c.failures {
						return errors.New("alertmanager down")
					}
					delivered = append(delivered, alertIDs(as)...)
					return nil
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				q.start(ctx)
				q.enqueue(testAlerts(0, 3))
				time.Sleep(time.Minute)
				synctest.Wait()

				mu.Lock()
				defer mu.Unlock()
				if len(attempts) != c.failures+1 {
					t.Fatalf("%d attempts, want %d", len(attempts), c.failures+1)
				}
				for i, want := range c.wantGaps {
					if got := attempts[i+1].Sub(attempts[i]); got != want {
						t.Errorf("gap before attempt %d = %v, want %v", i+2, got, want)
					}
				}
				if got := attempts[len(attempts)-1].Sub(attempts[0]); got != c.wantDelay {
					t.Errorf("delivered %v after the first attempt, want %v", got, c.wantDelay)
				}
				if !equalStrings(delivered, []string{"0", "1", "2"}) {
					t.Errorf("delivered %v, want [0 1 2] in order", delivered)
				}
				if got := testutil.ToFloat64(m.errors.WithLabelValues(q.name)); got != float64(3*c.failures) {
					t.Errorf("errors = %v, want %d", got, 3*c.failures)
				}
				if got := testutil.ToFloat64(m.sent.WithLabelValues(q.name)); got != 3 {
					t.Errorf("sent = %v, want 3", got)
				}
				q.stop(false)
			})
		})
	}
}

// TestHungAlertmanagerNeverBlocksSend: while a delivery hangs until its
// timeout, Send returns at once, the queue stays bounded and the overflow is
// counted; the hung call is cut by the timeout and retried.
func TestHungAlertmanagerNeverBlocksSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := newSenderMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		n := newNotifierSet(m, slog.New(slog.DiscardHandler))
		queues, err := prepareQueues([]config.AlertmanagerConfig{{URL: "http://am.example:9093", Timeout: cfgDuration(5 * time.Second)}}, m, n.logger)
		if err != nil {
			t.Fatal(err)
		}
		q := queues["http://am.example:9093"]
		var calls atomic.Int32
		q.post = func(ctx context.Context, _ []*notifier.Alert) error {
			calls.Add(1)
			<-ctx.Done() // hangs until the per-call timeout
			return ctx.Err()
		}
		n.apply(queues, labels.FromStrings("cluster", "c1"), nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		n.start(ctx)

		n.Send(testAlerts(0, 100)...)
		synctest.Wait() // the loop took a batch and hangs in post
		start := time.Now()
		for i := range 10 {
			n.Send(testAlerts(100+i*2500, 2500)...)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Send blocked for %v", d)
		}
		if got := q.length(); got != defaultQueueCapacity {
			t.Errorf("queue length = %d, want capacity %d", got, defaultQueueCapacity)
		}
		if got := testutil.ToFloat64(m.dropped.WithLabelValues("am.example:9093")); got != 25000-defaultQueueCapacity {
			t.Errorf("dropped = %v, want %d", got, 25000-defaultQueueCapacity)
		}
		q.mu.Lock()
		head := q.queue[0]
		q.mu.Unlock()
		if got := head.Labels.Get("cluster"); got != "c1" {
			t.Errorf("external label cluster = %q, want c1", got)
		}
		time.Sleep(5*time.Second + 50*time.Millisecond) // past the timeout, within the first backoff
		synctest.Wait()
		if got := testutil.ToFloat64(m.errors.WithLabelValues("am.example:9093")); got != 100 {
			t.Errorf("errors after the timeout = %v, want the 100 alerts of the hung batch", got)
		}
		if got := calls.Load(); got != 1 {
			t.Errorf("%d delivery attempts before the backoff ends, want 1", got)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := calls.Load(); got != 2 {
			t.Errorf("%d delivery attempts after the backoff, want a retry", got)
		}
		n.stop()
	})
}

func TestExternalLabelsDoNotOverrideAlertLabels(t *testing.T) {
	m, err := newSenderMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	n := newNotifierSet(m, slog.New(slog.DiscardHandler))
	queues, err := prepareQueues([]config.AlertmanagerConfig{{URL: "http://a:1"}, {URL: "http://b:2"}}, m, n.logger)
	if err != nil {
		t.Fatal(err)
	}
	n.apply(queues, labels.FromStrings("cluster", "c1", "region", "eu"), nil)
	orig := &notifier.Alert{Labels: labels.FromStrings("alertname", "A", "region", "us")}
	n.Send(orig)
	for u, q := range queues {
		if q.length() != 1 {
			t.Fatalf("%s: %d queued, want every Alertmanager to get the alert", u, q.length())
		}
		got := q.queue[0].Labels
		if got.Get("cluster") != "c1" || got.Get("region") != "us" {
			t.Errorf("%s: labels %v, want cluster=c1 added and region=us kept", u, got)
		}
	}
	if orig.Labels.Has("cluster") {
		t.Error("Send modified the caller's alert")
	}
	if got := testutil.ToFloat64(m.discovered); got != 2 {
		t.Errorf("alertmanagers discovered = %v, want 2", got)
	}
}

func TestPrepareQueuesRejectsBadURLs(t *testing.T) {
	cases := []struct {
		url  string
		want string
	}{
		{"localhost:9093", "want http(s)://host:port"},
		{"ftp://am:21", "want http(s)://host:port"},
		{"http://user:secret@am:9093/%zz", "alertmanagers[0]"},
	}
	m, err := newSenderMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		_, err := prepareQueues([]config.AlertmanagerConfig{{URL: c.url}}, m, slog.New(slog.DiscardHandler))
		if err == nil {
			t.Errorf("%q accepted", c.url)
			continue
		}
		if !containsAll(err.Error(), c.want) || containsAll(err.Error(), "secret") {
			t.Errorf("%q: error %q, want it to contain %q and no password", c.url, err, c.want)
		}
	}
}

// TestStopDrainsQueue stops a queue while its batch waits for a retry: a
// drain delivers it at once, a plain stop (Alertmanager removed) does not.
func TestStopDrainsQueue(t *testing.T) {
	for _, drain := range []bool{true, false} {
		t.Run("drain="+strconv.FormatBool(drain), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q, m := newTestQueue(t, "http://am.example:9093")
				var (
					mu        sync.Mutex
					attempts  []time.Duration
					delivered []string
				)
				start := time.Now()
				q.post = func(ctx context.Context, as []*notifier.Alert) error {
					mu.Lock()
					defer mu.Unlock()
					attempts = append(attempts, time.Since(start))
					if len(attempts) == 1 {
						return errors.New("alertmanager restarting")
					}
					delivered = append(delivered, alertIDs(as)...)
					return nil
				}
				q.start(t.Context())
				q.enqueue(testAlerts(0, 3))
				time.Sleep(50 * time.Millisecond) // inside the first 100ms backoff
				q.stop(drain)

				mu.Lock()
				defer mu.Unlock()
				if drain {
					if len(attempts) != 2 || attempts[1] != 50*time.Millisecond || !equalStrings(delivered, []string{"0", "1", "2"}) {
						t.Errorf("attempts at %v, delivered %v; want the drain to deliver [0 1 2] at 50ms", attempts, delivered)
					}
					if got := testutil.ToFloat64(m.sent.WithLabelValues(q.name)); got != 3 {
						t.Errorf("sent = %v, want 3", got)
					}
					return
				}
				if len(attempts) != 1 || len(delivered) != 0 || q.length() != 3 {
					t.Errorf("attempts at %v, delivered %v, %d queued; want no delivery after stop", attempts, delivered, q.length())
				}
			})
		})
	}
}

// TestApplyKeepsUnchangedQueuesAndDeletesRemovedSeries reloads the
// Alertmanager list: an unchanged one keeps its queue and what it holds, a
// removed one loses its series, so the alertmanager label stays bounded.
func TestApplyKeepsUnchangedQueuesAndDeletesRemovedSeries(t *testing.T) {
	m, err := newSenderMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	n := newNotifierSet(m, slog.New(slog.DiscardHandler))
	prep := func(urls ...string) map[string]*amQueue {
		t.Helper()
		var cfgs []config.AlertmanagerConfig
		for _, u := range urls {
			cfgs = append(cfgs, config.AlertmanagerConfig{URL: u})
		}
		qs, err := prepareQueues(cfgs, m, n.logger)
		if err != nil {
			t.Fatal(err)
		}
		return qs
	}
	n.apply(prep("http://a:1", "http://b:2"), labels.EmptyLabels(), nil)
	kept := n.queues["http://b:2"]
	n.Send(testAlerts(0, 2)...)

	n.apply(prep("http://b:2", "http://c:3"), labels.EmptyLabels(), nil)
	if n.queues["http://b:2"] != kept || kept.length() != 2 {
		t.Errorf("unchanged Alertmanager got a new queue or lost its alerts (%d queued)", n.queues["http://b:2"].length())
	}
	for _, c := range []struct {
		name string
		col  prometheus.Collector
		want int
	}{
		{"sent", m.sent, 2}, {"errors", m.errors, 2}, {"dropped", m.dropped, 2}, {"queue_length", m.queueLen, 2},
	} {
		if got := testutil.CollectAndCount(c.col); got != c.want {
			t.Errorf("%s: %d series after removing a:1, want %d (b:2, c:3)", c.name, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.queueLen.WithLabelValues("b:2")); got != 2 {
		t.Errorf("queue length of b:2 = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.discovered); got != 2 {
		t.Errorf("discovered = %v, want 2", got)
	}
	// New settings for the same URL: a new queue that keeps what was queued.
	changed, err := prepareQueues([]config.AlertmanagerConfig{{URL: "http://b:2", Username: "u", Password: "p"}, {URL: "http://c:3"}}, m, n.logger)
	if err != nil {
		t.Fatal(err)
	}
	n.apply(changed, labels.EmptyLabels(), nil)
	if q := n.queues["http://b:2"]; q == kept || q.length() != 2 || q.cfg.Password != "p" {
		t.Errorf("changed Alertmanager: same queue %v, %d queued, want a new queue holding the 2 alerts", q == kept, q.length())
	}

	// A bad list is rejected before anything changes.
	if _, err := prepareQueues([]config.AlertmanagerConfig{{URL: "http://d:4"}, {URL: "http://d:4"}}, m, n.logger); err == nil {
		t.Error("duplicate Alertmanager URL accepted")
	}
	if got := testutil.CollectAndCount(m.sent); got != 2 {
		t.Errorf("a rejected list created series: %d, want 2", got)
	}
}
