package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	amclient "github.com/prometheus/alertmanager/api/v2/client"
	amalert "github.com/prometheus/alertmanager/api/v2/client/alert"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/notifier"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// Delivery defaults, as Prometheus's notifier.
const (
	defaultQueueCapacity = 10000
	defaultMaxBatch      = 256
	defaultAMTimeout     = 10 * time.Second
	defaultMinBackoff    = 100 * time.Millisecond
	defaultMaxBackoff    = 10 * time.Second
	// maxDrain bounds the last delivery at shutdown, well inside the
	// usual 30s termination grace period.
	maxDrain = 5 * time.Second
)

// senderMetrics are shared by every Alertmanager queue; the alertmanager
// label is the host:port of a configured URL, so its cardinality is bounded
// by the configuration.
type senderMetrics struct {
	sent       *prometheus.CounterVec
	errors     *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	queueLen   *prometheus.GaugeVec
	queueCap   prometheus.Gauge
	discovered prometheus.Gauge
}

func newSenderMetrics(reg prometheus.Registerer) (*senderMetrics, error) {
	m := &senderMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notifications_sent_total",
			Help: "Alerts successfully sent to an Alertmanager.",
		}, []string{"alertmanager"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notifications_errors_total",
			Help: "Alerts in batches whose delivery to an Alertmanager failed (they are retried).",
		}, []string{"alertmanager"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notifications_dropped_total",
			Help: "Alerts dropped because an Alertmanager's queue was full.",
		}, []string{"alertmanager"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_notification_latency_seconds",
			Help:    "Latency of alert batch deliveries to an Alertmanager.",
			Buckets: prometheus.DefBuckets,
		}, []string{"alertmanager"}),
		queueLen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_notifications_queue_length",
			Help: "Alerts waiting to be sent to an Alertmanager.",
		}, []string{"alertmanager"}),
		queueCap: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_notifications_queue_capacity",
			Help: "Capacity of each Alertmanager's alert queue.",
		}),
		discovered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_alertmanagers_discovered",
			Help: "Alertmanagers the agent sends alerts to.",
		}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.errors, m.dropped, m.latency, m.queueLen, m.queueCap, m.discovered} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering notification metrics: %w", err)
		}
	}
	return m, nil
}

// postFunc delivers one batch to one Alertmanager.
type postFunc func(ctx context.Context, alerts []*notifier.Alert) error

// amQueue is the bounded queue and send loop of one Alertmanager. Send never
// blocks: when the queue is full the oldest alerts are dropped, since a newer
// state of the same alert will be re-sent by the rules manager anyway.
type amQueue struct {
	name    string // host:port, the metrics label
	cfg     config.AlertmanagerConfig
	post    postFunc
	timeout time.Duration
	logger  *slog.Logger
	metrics *senderMetrics

	capacity   int
	maxBatch   int
	minBackoff time.Duration
	maxBackoff time.Duration

	mu     sync.Mutex
	queue  []*notifier.Alert
	state  deliveryState // guarded by mu, for the status page
	more   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func newAMQueue(cfg config.AlertmanagerConfig, metrics *senderMetrics, logger *slog.Logger) (*amQueue, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("alertmanager url %q: %w", redactURL(cfg.URL), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("alertmanager url %q: want http(s)://host:port", redactURL(cfg.URL))
	}
	timeout := time.Duration(cfg.Timeout)
	if timeout <= 0 {
		timeout = defaultAMTimeout
	}
	q := &amQueue{
		name:       u.Host,
		cfg:        cfg,
		timeout:    timeout,
		logger:     logger.With("alertmanager", u.Host),
		metrics:    metrics,
		capacity:   defaultQueueCapacity,
		maxBatch:   defaultMaxBatch,
		minBackoff: defaultMinBackoff,
		maxBackoff: defaultMaxBackoff,
		more:       make(chan struct{}, 1),
	}
	q.post = newAPIPoster(u, cfg, timeout)
	return q, nil
}

// initSeries creates the queue's series so that a 0 is visible before the
// first event; it runs when the queue is adopted, not when it is validated.
func (q *amQueue) initSeries() {
	q.metrics.queueLen.WithLabelValues(q.name).Set(float64(q.length()))
	q.metrics.sent.WithLabelValues(q.name)
	q.metrics.errors.WithLabelValues(q.name)
	q.metrics.dropped.WithLabelValues(q.name)
}

// newAPIPoster posts through the Alertmanager v2 API client; the HTTP client
// carries the timeout so a hung Alertmanager never holds the loop longer.
func newAPIPoster(u *url.URL, cfg config.AlertmanagerConfig, timeout time.Duration) postFunc {
	basePath := strings.TrimSuffix(u.Path, "/") + "/api/v2"
	rt := httptransport.NewWithClient(u.Host, basePath, []string{u.Scheme}, &http.Client{Timeout: timeout})
	if cfg.Username != "" || cfg.Password != "" {
		rt.DefaultAuthentication = httptransport.BasicAuth(cfg.Username, cfg.Password)
	}
	api := amclient.New(rt, strfmt.Default)
	return func(ctx context.Context, alerts []*notifier.Alert) error {
		params := amalert.NewPostAlertsParamsWithContext(ctx).WithTimeout(timeout).WithAlerts(toPostable(alerts))
		_, err := api.Alert.PostAlerts(params)
		return err
	}
}

func toPostable(alerts []*notifier.Alert) models.PostableAlerts {
	out := make(models.PostableAlerts, 0, len(alerts))
	for _, a := range alerts {
		pa := &models.PostableAlert{
			Annotations: labelSet(a.Annotations),
			StartsAt:    strfmt.DateTime(a.StartsAt),
			EndsAt:      strfmt.DateTime(a.EndsAt),
			Alert: models.Alert{
				GeneratorURL: strfmt.URI(a.GeneratorURL),
				Labels:       labelSet(a.Labels),
			},
		}
		out = append(out, pa)
	}
	return out
}

// validAlertRelabel checks configurations built without the config
// package's parser (which validates them) and sets their label name scheme,
// which relabelling needs.
func validAlertRelabel(rcs []*relabel.Config) error {
	for i, rc := range rcs {
		if rc == nil {
			return fmt.Errorf("alerting.alert_relabel_configs[%d]: empty relabel config", i)
		}
		if err := rc.Validate(model.UTF8Validation); err != nil {
			return fmt.Errorf("alerting.alert_relabel_configs[%d]: %w", i, err)
		}
	}
	return nil
}

func labelSet(ls labels.Labels) models.LabelSet {
	m := make(models.LabelSet, ls.Len())
	ls.Range(func(l labels.Label) { m[l.Name] = l.Value })
	return m
}

// enqueue adds alerts, dropping the oldest beyond capacity. It never blocks.
func (q *amQueue) enqueue(alerts []*notifier.Alert) {
	q.mu.Lock()
	q.queue = append(q.queue, alerts...)
	if over := len(q.queue) - q.capacity; over > 0 {
		q.metrics.dropped.WithLabelValues(q.name).Add(float64(over))
		q.state.dropped += uint64(over)
		q.queue = append(q.queue[:0:0], q.queue[over:]...)
	}
	q.metrics.queueLen.WithLabelValues(q.name).Set(float64(len(q.queue)))
	q.mu.Unlock()
	select {
	case q.more <- struct{}{}:
	default:
	}
}

// next takes up to maxBatch alerts from the head of the queue.
func (q *amQueue) next() []*notifier.Alert {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.queue), q.maxBatch)
	batch := append([]*notifier.Alert(nil), q.queue[:n]...)
	q.queue = q.queue[n:]
	q.metrics.queueLen.WithLabelValues(q.name).Set(float64(len(q.queue)))
	return batch
}

// requeue puts a failed batch back at the head, keeping the order of alert
// states; alerts beyond capacity are dropped from the (oldest) head.
func (q *amQueue) requeue(batch []*notifier.Alert) {
	q.mu.Lock()
	defer q.mu.Unlock()
	merged := make([]*notifier.Alert, 0, len(batch)+len(q.queue))
	merged = append(merged, batch...)
	merged = append(merged, q.queue...)
	if over := len(merged) - q.capacity; over > 0 {
		q.metrics.dropped.WithLabelValues(q.name).Add(float64(over))
		q.state.dropped += uint64(over)
		merged = merged[over:]
	}
	q.queue = merged
	q.metrics.queueLen.WithLabelValues(q.name).Set(float64(len(q.queue)))
}

func (q *amQueue) length() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// start runs the send loop until stop is called or ctx ends.
func (q *amQueue) start(ctx context.Context) {
	ctx, q.cancel = context.WithCancel(ctx)
	q.done = make(chan struct{})
	go func() {
		defer close(q.done)
		q.run(ctx)
	}()
}

// stop ends the send loop. With drain set, what is still queued gets one
// last delivery attempt bounded by the Alertmanager's timeout and maxDrain, as
// Prometheus's notifier does on shutdown: a resolve queued at shutdown
// reaches Alertmanager instead of waiting for the alert's EndsAt.
func (q *amQueue) stop(drain bool) {
	if q.cancel == nil {
		return
	}
	q.cancel()
	<-q.done
	q.cancel = nil
	if !drain {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(q.timeout, maxDrain))
	defer cancel()
	for q.length() > 0 && ctx.Err() == nil {
		batch := q.next()
		if err := q.send(ctx, batch); err != nil {
			q.logger.Warn("alerts not delivered at shutdown", "alerts", len(batch)+q.length(), "err", err)
			return
		}
	}
}

// send posts one batch, bounded by the Alertmanager's timeout, and counts it.
func (q *amQueue) send(ctx context.Context, batch []*notifier.Alert) error {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, q.timeout)
	err := q.post(pctx, batch)
	cancel()
	q.metrics.latency.WithLabelValues(q.name).Observe(time.Since(start).Seconds())
	q.record(err, len(batch))
	if err != nil {
		q.metrics.errors.WithLabelValues(q.name).Add(float64(len(batch)))
		return err
	}
	q.metrics.sent.WithLabelValues(q.name).Add(float64(len(batch)))
	return nil
}

func (q *amQueue) run(ctx context.Context) {
	backoff := time.Duration(0)
	for {
		if q.length() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-q.more:
				continue
			}
		}
		batch := q.next()
		err := q.send(ctx, batch)
		if err == nil {
			backoff = 0
			continue
		}
		q.requeue(batch) // kept for the retry, or for the drain at shutdown
		if ctx.Err() != nil {
			return
		}
		backoff = nextBackoff(backoff, q.minBackoff, q.maxBackoff)
		q.logger.Warn("sending alerts failed; retrying", "alerts", len(batch), "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

func nextBackoff(cur, lo, hi time.Duration) time.Duration {
	if cur <= 0 {
		return lo
	}
	return min(2*cur, hi)
}

// notifierSet fans alerts out to every configured Alertmanager. It satisfies
// rules.Sender, so the rules manager's own SendAlerts computes EndsAt and
// generatorURL exactly as Prometheus does.
type notifierSet struct {
	logger  *slog.Logger
	metrics *senderMetrics

	mu             sync.RWMutex
	queues         map[string]*amQueue // by URL
	externalLabels labels.Labels
	relabel        []*relabel.Config // validated
	ctx            context.Context   // nil until started
}

func newNotifierSet(metrics *senderMetrics, logger *slog.Logger) *notifierSet {
	metrics.queueCap.Set(defaultQueueCapacity)
	return &notifierSet{logger: logger, metrics: metrics, queues: map[string]*amQueue{}}
}

// Send implements rules.Sender. External labels are added to each alert
// unless the alert already carries the label, then alerting's
// alert_relabel_configs run, as Prometheus's notifier does: an alert they
// drop is sent nowhere.
func (n *notifierSet) Send(alerts ...*notifier.Alert) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if len(n.queues) == 0 || len(alerts) == 0 {
		return
	}
	if !n.externalLabels.IsEmpty() || len(n.relabel) > 0 {
		out := make([]*notifier.Alert, 0, len(alerts))
		for _, a := range alerts {
			b := labels.NewBuilder(a.Labels)
			n.externalLabels.Range(func(l labels.Label) {
				if a.Labels.Get(l.Name) == "" {
					b.Set(l.Name, l.Value)
				}
			})
			if !relabel.ProcessBuilder(b, n.relabel...) {
				continue
			}
			c := *a
			c.Labels = b.Labels()
			out = append(out, &c)
		}
		alerts = out
	}
	if len(alerts) == 0 {
		return
	}
	for _, q := range n.queues {
		q.enqueue(alerts)
	}
}

// prepare validates the Alertmanager list without changing anything, so a
// bad configuration leaves the running set untouched.
func prepareQueues(cfgs []config.AlertmanagerConfig, metrics *senderMetrics, logger *slog.Logger) (map[string]*amQueue, error) {
	out := map[string]*amQueue{}
	for i, c := range cfgs {
		if _, dup := out[c.URL]; dup {
			return nil, fmt.Errorf("alerting.alertmanagers[%d]: duplicate url %q", i, redactURL(c.URL))
		}
		q, err := newAMQueue(c, metrics, logger)
		if err != nil {
			return nil, fmt.Errorf("alerting.alertmanagers[%d]: %w", i, err)
		}
		out[c.URL] = q
	}
	return out, nil
}

// apply swaps in a prepared set: unchanged Alertmanagers keep their queue
// (and pending alerts), removed ones are stopped and their series deleted.
func (n *notifierSet) apply(next map[string]*amQueue, ext labels.Labels, rcs []*relabel.Config) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.externalLabels = ext
	n.relabel = rcs
	for u, nq := range next {
		if old, ok := n.queues[u]; ok && old.cfg == nq.cfg {
			next[u] = old
			continue
		}
		nq.initSeries()
		if n.ctx != nil {
			nq.start(n.ctx)
		}
	}
	for u, old := range n.queues {
		if next[u] == old {
			continue
		}
		old.stop(false)
		if nq, still := next[u]; still {
			// Same URL, new settings (say a password): keep what was queued.
			old.mu.Lock()
			pending := old.queue
			old.queue = nil
			old.mu.Unlock()
			nq.requeue(pending)
		}
		if _, still := next[u]; !still || next[u].name != old.name {
			n.deleteSeries(old.name, next)
		}
	}
	n.queues = next
	n.metrics.discovered.Set(float64(len(next)))
}

func (n *notifierSet) deleteSeries(name string, next map[string]*amQueue) {
	for _, q := range next {
		if q.name == name {
			return // another URL on the same host:port still uses it
		}
	}
	n.metrics.sent.DeleteLabelValues(name)
	n.metrics.errors.DeleteLabelValues(name)
	n.metrics.dropped.DeleteLabelValues(name)
	n.metrics.latency.DeleteLabelValues(name)
	n.metrics.queueLen.DeleteLabelValues(name)
}

func (n *notifierSet) start(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ctx = ctx
	for _, q := range n.queues {
		q.start(ctx)
	}
}

// stop ends every send loop, draining the queues concurrently so one slow
// Alertmanager does not hold up the others' last delivery.
func (n *notifierSet) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	var wg sync.WaitGroup
	for _, q := range n.queues {
		wg.Go(func() { q.stop(true) })
	}
	wg.Wait()
	n.ctx = nil
}

// redactURL hides a password in a URL for errors and logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable url>"
	}
	return u.Redacted()
}
