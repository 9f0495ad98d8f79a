// Package alerts evaluates Prometheus alerting and recording rules inside the
// agent and delivers the resulting alerts to Alertmanagers. It keeps a local
// Prometheus TSDB filled by the agent's probes (appended as each finishes,
// with the target's job and instance), by scraping the agent's own registry
// and by the configured scrape targets, runs the upstream PromQL engine and rules
// manager over it (so `for`, `keep_firing_for`, templating, ALERTS and
// ALERTS_FOR_STATE behave exactly as in Prometheus), and ships alerts through
// the Alertmanager v2 API with a bounded, retrying queue per Alertmanager.
package alerts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/vigil-sh/vigil/internal/agent/config"
)

// Defaults for settings the configuration leaves empty.
const (
	DefaultStoragePath        = "data/agent"
	DefaultRetention          = 2 * time.Hour
	DefaultEvaluationInterval = 15 * time.Second
	DefaultScrapeInterval     = 15 * time.Second
	DefaultScrapeTimeout      = 5 * time.Second
	DefaultResendDelay        = time.Minute
	DefaultOutageTolerance    = time.Hour
	DefaultForGracePeriod     = time.Minute
	DefaultSelfInstance       = "localhost"
	DefaultQueryTimeout       = 2 * time.Minute
	DefaultQueryMaxSamples    = 50_000_000
)

// Options are the agent-runtime dependencies of an Engine.
type Options struct {
	Logger *slog.Logger
	// Registerer receives the engine's metrics, the rules manager's
	// prometheus_rule_* metrics and the TSDB's; they are unregistered on
	// Close so an Engine can be recreated on the same registry.
	Registerer prometheus.Registerer
	// Gatherer is self-scraped every global interval as job="agent".
	Gatherer     prometheus.Gatherer
	SelfInstance string // instance label of the self-scrape
	// ExternalURL is the agent's URL used in generatorURL when the
	// configuration's global.external_url is empty; without either it is
	// http://<SelfInstance>.
	ExternalURL string
	StoragePath string // overrides cfg.Storage.Path if set

	// OutageTolerance is how long the agent may be down for the `for`
	// state of pending alerts to be restored (default 1h).
	OutageTolerance time.Duration
	// ForGracePeriod is the minimum time a restored pending alert waits
	// before firing; alerts whose `for` is shorter restart their hold
	// (default 1m). See docs/alerting.md.
	ForGracePeriod time.Duration
	// StorageRecoveryHold is how long every write must succeed before a
	// storage failure counts as over (default DefaultStorageRecoveryHold).
	StorageRecoveryHold time.Duration
	// ScrapeReloadInterval is how often discovered target changes reach
	// the scrape manager (default DefaultScrapeReloadInterval).
	ScrapeReloadInterval time.Duration

	// QueryTimeout and QueryMaxSamples bound every PromQL query, the rules'
	// and the query API's (defaults DefaultQueryTimeout and
	// DefaultQueryMaxSamples, Prometheus's --query.timeout and
	// --query.max-samples).
	QueryTimeout    time.Duration
	QueryMaxSamples int

	// RemoteFlushDeadline bounds each remote_write queue's flush on Close
	// (default DefaultRemoteFlushDeadline).
	RemoteFlushDeadline time.Duration
}

// Alert is one active alert, as /api/v1/alerts reports it.
type Alert struct {
	Name        string
	State       string // pending or firing
	Value       float64
	Labels      map[string]string
	Annotations map[string]string
	ActiveAt    time.Time
}

// Engine owns the TSDB, the scrape and discovery managers, the
// self-scrape, the rules manager and the Alertmanager queues.
type Engine struct {
	opts      Options
	logger    *slog.Logger
	reg       *trackingRegisterer
	notifiers *notifierSet
	loader    ruleLoader
	extURL    atomic.Pointer[string]
	// evalInterval is the global evaluation interval in ms: the step of
	// subqueries that give none (x[5m:]), as in Prometheus.
	evalInterval atomic.Int64
	// health tracks the TSDB's writes; gate and self act on its changes.
	health       *storageHealth
	gate         *heartbeatGate
	self         selfAlerts
	selfSettings atomic.Pointer[selfAlertSettings]

	applyMu  sync.Mutex // serializes ApplyConfig: validation runs outside mu
	mu       sync.Mutex
	db       *tsdb.DB
	app      storage.AppendableV2 // db, watched by health
	remote   *remoteWriter        // remote_write over db's WAL
	query    *promql.Engine
	manager  *promrules.Manager
	cfg      *config.Config
	pending  *ruleUpdate        // rules applied before Run, loaded when it starts
	scrape   *promconfig.Config // the scrape configs in force
	scrapers *scrapers          // nil unless Run is running
	// scrapeMgr is scrapers' manager, for remote_write's metadata watcher,
	// which asks from its own goroutine and must not wait on mu.
	scrapeMgr atomic.Pointer[scrape.Manager]
	selfScr   *selfScrape // nil without Options.Gatherer
	probes    probeWriters
	runCtx    context.Context // nil unless Run is running
	runStop   context.CancelFunc
	runDone   chan struct{}
	finished  bool // Run returned: the rules manager cannot restart
	closed    bool
}

type ruleUpdate struct {
	interval time.Duration
	files    []string
	ext      labels.Labels
	url      string
}

// New builds an Engine; nothing runs and no storage is opened until
// ApplyConfig and Run.
func New(ctx context.Context, o Options) (*Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	o.SelfInstance = cmp.Or(o.SelfInstance, DefaultSelfInstance)
	o.OutageTolerance = cmp.Or(o.OutageTolerance, DefaultOutageTolerance)
	o.ForGracePeriod = cmp.Or(o.ForGracePeriod, DefaultForGracePeriod)
	o.StorageRecoveryHold = cmp.Or(o.StorageRecoveryHold, DefaultStorageRecoveryHold)
	o.ScrapeReloadInterval = cmp.Or(o.ScrapeReloadInterval, DefaultScrapeReloadInterval)
	o.QueryTimeout = cmp.Or(o.QueryTimeout, DefaultQueryTimeout)
	o.QueryMaxSamples = cmp.Or(o.QueryMaxSamples, DefaultQueryMaxSamples)
	e := &Engine{
		opts:   o,
		logger: o.Logger,
		reg:    &trackingRegisterer{Registerer: o.Registerer, own: prometheus.NewRegistry()},
		loader: newRuleLoader(defaultRules(), o.Logger.With("component", "rule loader")),
	}
	sm, err := newSenderMetrics(e.reg)
	if err != nil {
		e.reg.unregisterAll()
		return nil, err
	}
	e.notifiers = newNotifierSet(sm, o.Logger.With("component", "notifier"))
	e.health, err = newStorageHealth(e.reg, o.StorageRecoveryHold)
	if err != nil {
		e.reg.unregisterAll()
		return nil, err
	}
	e.health.onChange = e.onStorageChange
	e.gate = &heartbeatGate{next: e.notifiers, failing: func() bool { return !e.health.Status().Healthy }}
	u := o.ExternalURL
	e.extURL.Store(&u)
	return e, nil
}

// validated is a configuration checked in full before any of it is applied.
type validated struct {
	rules  ruleUpdate
	queues map[string]*amQueue
	scrape *promconfig.Config
	extURL string
}

func (e *Engine) validate(cfg *config.Config) (*validated, error) {
	var errs []error
	v := &validated{}
	ids, err := ruleFileIDs(e.loader.embedded, cfg)
	if err != nil {
		errs = append(errs, err)
	} else if err := checkRuleFiles(e.loader, ids); err != nil {
		errs = append(errs, err)
	}
	// generatorURL must be absolute for Alertmanager's links to work.
	v.extURL = strings.TrimSuffix(cmp.Or(cfg.Global.ExternalURL, e.opts.ExternalURL, "http://"+e.opts.SelfInstance), "/")
	if u, err := url.Parse(v.extURL); err != nil || !u.IsAbs() {
		errs = append(errs, fmt.Errorf("global.external_url %q: want an absolute URL", redactURL(v.extURL)))
	}
	ext := labels.FromMap(cfg.Global.ExternalLabels)
	v.rules = ruleUpdate{
		interval: cmp.Or(time.Duration(cfg.Global.EvaluationInterval), DefaultEvaluationInterval),
		files:    ids,
		ext:      ext,
		url:      v.extURL,
	}
	v.queues, err = prepareQueues(cfg.Alerting.Alertmanagers, e.notifiers.metrics, e.notifiers.logger)
	if err != nil {
		errs = append(errs, err)
	}
	if err := validAlertRelabel(cfg.Alerting.AlertRelabelConfigs); err != nil {
		errs = append(errs, err)
	}
	v.scrape, err = scrapeConfig(cfg)
	if err != nil {
		errs = append(errs, err)
	}
	if err := checkRemoteWrite(cfg); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return v, nil
}

// ApplyConfig validates the whole configuration, then swaps in its scrape
// targets, rules, Alertmanagers and external labels. On any error nothing
// changes: the previous rules keep being evaluated.
func (e *Engine) ApplyConfig(cfg *config.Config) (err error) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	var remote *remoteWriter
	defer func() { // after e.mu is released: see remoteWriter.apply
		if err == nil && remote != nil {
			err = remote.apply(cfg)
		}
	}()
	v, err := e.validate(cfg)
	if err != nil {
		return fmt.Errorf("applying alerting config: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("applying alerting config: engine closed")
	}
	if e.db == nil {
		if err := e.open(cfg, v.extURL); err != nil {
			return err
		}
	} else if e.cfg != nil && e.storageChanged(cfg) {
		e.logger.Warn("storage settings changed; they take effect after a restart",
			"path", e.storagePath(e.cfg), "retention", e.cfg.Storage.Retention)
	}
	if e.cfg != nil && e.cfg.Alerting.ResendDelay != cfg.Alerting.ResendDelay {
		e.logger.Warn("alerting.resend_delay changed; it takes effect after a restart")
	}

	if e.runCtx != nil {
		if err := e.manager.Update(v.rules.interval, v.rules.files, v.rules.ext, v.rules.url, nil); err != nil {
			return fmt.Errorf("applying alerting config: loading rules: %w", err)
		}
	} else {
		r := v.rules
		e.pending = &r
	}
	e.extURL.Store(&v.extURL)
	e.evalInterval.Store(v.rules.interval.Milliseconds())
	e.selfSettings.Store(&selfAlertSettings{
		dir:    e.storagePath(cmp.Or(e.cfg, cfg)),
		resend: cmp.Or(time.Duration(cmp.Or(e.cfg, cfg).Alerting.ResendDelay), DefaultResendDelay),
	})
	if e.scrapers != nil {
		if err := e.scrapers.apply(v.scrape); err != nil {
			return fmt.Errorf("applying alerting config: %w", err)
		}
	}
	e.scrape = v.scrape
	e.notifiers.apply(v.queues, v.rules.ext, cfg.Alerting.AlertRelabelConfigs)
	e.applySelfScrape(cfg)
	remote = e.remote
	e.cfg = cfg
	e.logger.Info("alerting config applied", "rule_files", len(v.rules.files),
		"alertmanagers", len(v.queues), "scrape_configs", len(v.scrape.ScrapeConfigs))
	return nil
}

func (e *Engine) storagePath(cfg *config.Config) string {
	return cmp.Or(e.opts.StoragePath, cfg.Storage.Path, DefaultStoragePath)
}

func (e *Engine) storageChanged(cfg *config.Config) bool {
	return e.storagePath(cfg) != e.storagePath(e.cfg) || cfg.Storage.Retention != e.cfg.Storage.Retention
}

// headStripeSize is the TSDB head's number of series stripes (a power of
// two, as the head requires).
const headStripeSize = 1 << 10

// open creates the TSDB, the query engine and the rules manager.
func (e *Engine) open(cfg *config.Config, externalURL string) error {
	dir := e.storagePath(cfg)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating storage %s: %w", dir, err)
	}
	retention := cmp.Or(time.Duration(cfg.Storage.Retention), DefaultRetention)
	topts := tsdb.DefaultOptions()
	topts.RetentionDuration = retention.Milliseconds()
	// Blocks no longer than the retention, so old data is actually deleted.
	block := min(retention, 2*time.Hour).Milliseconds()
	topts.MinBlockDuration = block
	topts.MaxBlockDuration = block
	// A sidecar appends a few hundred series every few seconds: the default
	// 4 MiB head-chunk write buffer would be a tenth of its memory.
	topts.HeadChunksWriteBufferSize = chunks.MinWriteBufferSize
	// The head's series map is split into StripeSize locked stripes, each
	// allocated up front: the default 16384 hold 4 MiB before the first
	// series, half the agent's live heap. Stripes only spread lock
	// contention between concurrent appenders, and the agent appends one
	// probe result at a time per target, so 1024 are plenty.
	topts.StripeSize = headStripeSize
	db, err := tsdb.Open(dir, e.logger.With("component", "tsdb"), e.reg, topts, nil)
	if err != nil {
		return fmt.Errorf("opening storage %s: %w", dir, err)
	}
	e.db = db
	e.app = watchedAppendable{db: db, h: e.health}
	e.remote = newRemoteWriter(e.logger.With("component", "remote"), e.reg, db, dir, e.opts.RemoteFlushDeadline, runningScrapeManager{&e.scrapeMgr})
	e.query = promql.NewEngine(promql.EngineOpts{
		Logger:        e.logger.With("component", "query engine"),
		Reg:           e.reg,
		MaxSamples:    e.opts.QueryMaxSamples,
		Timeout:       e.opts.QueryTimeout,
		LookbackDelta: 5 * time.Minute,
		Parser:        e.loader.parser,
		// Without it the engine panics on a subquery without a step.
		NoStepSubqueryIntervalFn: func(int64) int64 { return e.evalInterval.Load() },
	})
	extURL, _ := url.Parse(externalURL) // validated
	e.manager = promrules.NewManager(&promrules.ManagerOptions{
		AppendableV2:    e.app,
		Queryable:       db,
		QueryFunc:       promrules.EngineQueryFunc(e.query, db),
		NotifyFunc:      e.notify,
		Context:         context.Background(),
		ExternalURL:     extURL,
		Logger:          e.logger.With("component", "rule manager"),
		Registerer:      e.reg,
		OutageTolerance: e.opts.OutageTolerance,
		ForGracePeriod:  e.opts.ForGracePeriod,
		ResendDelay:     cmp.Or(time.Duration(cfg.Alerting.ResendDelay), DefaultResendDelay),
		GroupLoader:     e.loader,
		Parser:          e.loader.parser,
	})
	return nil
}

// notify is the rules manager's NotifyFunc: the rules package's own
// SendAlerts computes EndsAt (ValidUntil while firing, ResolvedAt once
// resolved) and the generatorURL, as Prometheus's main does.
func (e *Engine) notify(ctx context.Context, expr string, alerts ...*promrules.Alert) {
	promrules.SendAlerts(e.gate, *e.extURL.Load())(ctx, expr, alerts...)
}

// Run scrapes, evaluates and delivers until ctx ends. It returns once
// everything it started has stopped.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return errors.New("running alerting engine: closed")
	case e.runCtx != nil || e.finished:
		e.mu.Unlock()
		return errors.New("running alerting engine: already run")
	case e.manager == nil:
		e.mu.Unlock()
		return errors.New("running alerting engine: no configuration applied")
	}
	runCtx, cancel := context.WithCancel(ctx)
	e.runCtx, e.runStop, e.runDone = runCtx, cancel, make(chan struct{})
	done := e.runDone
	defer close(done)
	if p := e.pending; p != nil {
		if err := e.manager.Update(p.interval, p.files, p.ext, p.url, nil); err != nil {
			e.runCtx, e.runStop = nil, nil
			e.mu.Unlock()
			cancel()
			return fmt.Errorf("running alerting engine: loading rules: %w", err)
		}
		e.pending = nil
	}
	e.notifiers.start(runCtx)
	if e.selfScr != nil {
		e.selfScr.start(runCtx)
	}
	scrapeCtx, stopDiscovery := context.WithCancel(runCtx)
	sc, err := e.startScrapers(scrapeCtx, e.scrape)
	if err != nil {
		e.selfScr.stop()
		e.notifiers.stop()
		e.runCtx, e.runStop = nil, nil
		e.mu.Unlock()
		stopDiscovery()
		cancel()
		return fmt.Errorf("running alerting engine: %w", err)
	}
	e.scrapers = sc
	e.scrapeMgr.Store(sc.scrape)
	managerDone := make(chan struct{})
	go func() {
		defer close(managerDone)
		e.manager.Run()
	}()
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		e.health.run(runCtx, e.reg.own, e.resendStorageAlert)
	}()
	e.mu.Unlock()

	<-runCtx.Done()
	<-healthDone

	e.mu.Lock()
	// No staleness markers: a restart must find the series to restore from.
	e.scrapers.stop()
	stopDiscovery()
	<-e.scrapers.done
	e.scrapers = nil
	e.scrapeMgr.Store(nil)
	if e.selfScr != nil {
		e.selfScr.stop()
	}
	e.manager.Stop()
	<-managerDone
	e.notifiers.stop()
	e.runCtx, e.runStop = nil, nil
	e.finished = true
	e.mu.Unlock()
	cancel()
	return nil
}

// Close stops Run if it is running, then closes the TSDB and unregisters
// every metric the engine registered.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	stop, done := e.runStop, e.runDone
	e.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var err error
	if e.manager != nil && !e.finished {
		e.manager.Stop() // no groups were started: returns at once
	}
	if e.remote != nil {
		err = e.remote.close() // before the TSDB: queues flush what its WAL holds
	}
	if e.db != nil {
		if cerr := e.db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing storage: %w", cerr))
		}
	}
	e.reg.unregisterAll()
	return err
}

// Queryable is the TSDB, for the query API: nil until the first
// ApplyConfig opens it and after Close.
func (e *Engine) Queryable() storage.Queryable {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.db == nil || e.closed {
		return nil // not a typed nil: callers test for nil
	}
	return e.db
}

// QueryEngine is the PromQL engine the rules use, for the query API: nil
// until the first ApplyConfig and after Close.
func (e *Engine) QueryEngine() promql.QueryEngine {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.query == nil || e.closed {
		return nil
	}
	return e.query
}

// StorageStatus reports whether the TSDB accepts writes.
func (e *Engine) StorageStatus() StorageStatus { return e.health.Status() }

// Alerts returns the pending and firing alerts, ordered by name and labels.
func (e *Engine) Alerts() []Alert {
	e.mu.Lock()
	m := e.manager
	e.mu.Unlock()
	if m == nil {
		return nil
	}
	var out []Alert
	for _, r := range m.AlertingRules() {
		for _, a := range r.ActiveAlerts() {
			out = append(out, Alert{
				Name:        r.Name(),
				State:       a.State.String(),
				Value:       a.Value,
				Labels:      a.Labels.Map(),
				Annotations: a.Annotations.Map(),
				ActiveAt:    a.ActiveAt,
			})
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name),
			labels.Compare(labels.FromMap(a.Labels), labels.FromMap(b.Labels)))
	})
	return out
}

// trackingRegisterer remembers what it registered so Close can unregister
// it: the rules manager, TSDB and query engine register metrics of their own
// with MustRegister, which would panic on a second Engine otherwise.
type trackingRegisterer struct {
	prometheus.Registerer
	// own holds the same collectors, so the engine can read its TSDB's
	// counters without gathering the whole agent registry.
	own *prometheus.Registry
	mu  sync.Mutex
	cs  []prometheus.Collector
}

func (r *trackingRegisterer) Register(c prometheus.Collector) error {
	if err := r.Registerer.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	r.cs = append(r.cs, c)
	r.mu.Unlock()
	if r.own != nil {
		_ = r.own.Register(c) // best effort: only read for the TSDB's counters
	}
	return nil
}

func (r *trackingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *trackingRegisterer) Unregister(c prometheus.Collector) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.cs, c); i >= 0 {
		r.cs = slices.Delete(r.cs, i, i+1)
	}
	if r.own != nil {
		r.own.Unregister(c)
	}
	return r.Registerer.Unregister(c)
}

func (r *trackingRegisterer) unregisterAll() {
	r.mu.Lock()
	cs := r.cs
	r.cs = nil
	r.mu.Unlock()
	for _, c := range cs {
		r.Registerer.Unregister(c)
		if r.own != nil {
			r.own.Unregister(c)
		}
	}
}

// applySelfScrape starts, restarts (a changed interval or timeout) or keeps
// the scrape of the agent's own registry. Callers hold e.mu.
func (e *Engine) applySelfScrape(cfg *config.Config) {
	if e.opts.Gatherer == nil {
		return
	}
	interval := cmp.Or(time.Duration(cfg.Global.Interval), DefaultScrapeInterval)
	timeout := min(cmp.Or(time.Duration(cfg.Global.Timeout), DefaultScrapeTimeout), interval)
	if e.selfScr != nil && e.selfScr.interval == interval && e.selfScr.timeout == timeout {
		return
	}
	next := newSelfScrape(e.app, e.opts.Gatherer, e.opts.SelfInstance, interval, timeout, e.logger)
	if e.selfScr != nil {
		e.selfScr.stop()
		next.prev = e.selfScr.prev // the same series continue
	}
	e.selfScr = next
	if e.runCtx != nil {
		e.selfScr.start(e.runCtx)
	}
}
