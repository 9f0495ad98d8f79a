package alerts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// deliveryState is what the status page shows of one Alertmanager queue.
type deliveryState struct {
	sent, failed, dropped uint64
	lastSuccess           time.Time
	lastErr               string
	lastErrAt             time.Time
}

// record notes a delivery's outcome; the error is stripped of the
// Alertmanager's credentials.
func (q *amQueue) record(err error, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err == nil {
		q.state.sent += uint64(n)
		q.state.lastSuccess = time.Now()
		return
	}
	q.state.failed += uint64(n)
	q.state.lastErrAt = time.Now()
	q.state.lastErr = config.Scrub(err.Error(), []string{q.cfg.Password})
}

// AlertmanagerStatus is one Alertmanager's delivery state.
type AlertmanagerStatus struct {
	Name        string // host:port, as the metrics' alertmanager label
	URL         string // credentials redacted
	QueueLength int
	Sent        uint64 // alerts delivered since start
	Failed      uint64 // alerts in failed deliveries (retried)
	Dropped     uint64 // alerts dropped from a full queue
	LastSuccess time.Time
	LastError   string
	LastErrorAt time.Time
}

// Delivery reports every configured Alertmanager's delivery state, by URL.
func (e *Engine) Delivery() []AlertmanagerStatus {
	n := e.notifiers
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]AlertmanagerStatus, 0, len(n.queues))
	for u, q := range n.queues {
		q.mu.Lock()
		out = append(out, AlertmanagerStatus{
			Name:        q.name,
			URL:         config.RedactURI(u),
			QueueLength: len(q.queue),
			Sent:        q.state.sent,
			Failed:      q.state.failed,
			Dropped:     q.state.dropped,
			LastSuccess: q.state.lastSuccess,
			LastError:   q.state.lastErr,
			LastErrorAt: q.state.lastErrAt,
		})
		q.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b AlertmanagerStatus) int { return cmp.Compare(a.URL, b.URL) })
	return out
}

// Series is one series of a range query.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample of a Series.
type Point struct {
	T time.Time
	V float64
}

// QueryRange evaluates a PromQL expression over the local TSDB, for the
// status page's availability and latency charts.
func (e *Engine) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	e.mu.Lock()
	db, qe := e.db, e.query
	e.mu.Unlock()
	if db == nil || qe == nil {
		return nil, errors.New("no storage open yet")
	}
	q, err := qe.NewRangeQuery(ctx, db, nil, expr, start, end, step)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, res.Err)
	}
	m, err := res.Matrix()
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	out := make([]Series, 0, len(m))
	for _, s := range m {
		ser := Series{Labels: s.Metric.Map(), Points: make([]Point, 0, len(s.Floats))}
		for _, f := range s.Floats {
			ser.Points = append(ser.Points, Point{T: time.UnixMilli(f.T), V: f.F})
		}
		out = append(out, ser)
	}
	return out, nil
}

// Retention is the TSDB's retention, which bounds what the status page can
// show.
func (e *Engine) Retention() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg == nil {
		return DefaultRetention
	}
	return cmp.Or(time.Duration(e.cfg.Storage.Retention), DefaultRetention)
}
