// Package agent is the agent's runtime: it loads and reloads the
// configuration, runs one probe loop per target in the background, keeps each
// target's latest result and recent history, and serves them — /metrics for
// Prometheus, a status page and JSON for people — without ever probing on a
// request. A reload validates the whole new configuration before swapping it
// in, as blackbox_exporter's SafeConfig does, and restarts only the targets
// whose configuration changed.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promcollectors "github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vigil-sh/vigil/collectors"
	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/agent/promapi"
)

// RuleEngine is what the agent needs of the alerting engine (package alerts):
// it gets every validated configuration and lists its alerts for the status
// page. An engine that also has Register(*http.ServeMux) serves its API on
// the agent's mux.
type RuleEngine interface {
	ApplyConfig(cfg *config.Config) error
	Alerts() []Alert
}

// Alert is a pending or firing alert as the status page shows it.
type Alert struct {
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Value       float64           `json:"value"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	ActiveAt    time.Time         `json:"activeAt"`
}

// Options configures an Agent. Only the zero value of each field has a
// default; there are no functional options.
type Options struct {
	Logger *slog.Logger
	// Registry receives the self-metrics; nil means a new registry with the
	// process and Go collectors (NewRegistry). /metrics serves it with
	// every target's series.
	Registry *prometheus.Registry
	// ConfigFile is re-read on every Reload; empty means config.Default.
	ConfigFile string
	// ExpandEnv expands ${NAME} and ${NAME:default} in ConfigFile from the
	// environment on every load (--config.expand-env).
	ExpandEnv bool
	// AppURL is the app's base URL for the default configuration.
	AppURL string
	// StoragePath, when set, overrides storage.path of every loaded config.
	StoragePath string
	// CheckConfig validates what config.Load cannot, such as rule files
	// (alerts.CheckConfig); it runs before anything is swapped in.
	CheckConfig func(*config.Config) error
	// Rules receives every applied configuration; may be nil, or set later
	// with SetRuleEngine.
	Rules RuleEngine
	// Writer receives every finished probe for the local TSDB; may be nil.
	Writer ProbeWriter
	// NewProber builds a target's prober; nil means collectors.New.
	NewProber func(config.Target, *slog.Logger) (collectors.Prober, error)
	// AllowEmpty accepts a configuration file that parses to nothing and a
	// reload that drops every target and every Alertmanager
	// (--config.allow-empty); by default both are refused.
	AllowEmpty bool
	// BuildProbers makes LoadConfig build (and close) every target's prober
	// as ApplyConfig would, for `--check-config`: a reload builds only new
	// and changed ones, in ApplyConfig.
	BuildProbers bool
	// HistorySize is how many recent probes the status page shows per target
	// (default 10).
	HistorySize int

	// Query is the storage and engine of the Prometheus query API
	// (/api/v1/query and the rest, /graph); nil serves none of it.
	Query promapi.Source
	// ScrapeTargets lists the scrape manager's targets for
	// /api/v1/targets; nil or returning nil lists none.
	ScrapeTargets func() promapi.TargetRetriever
	// QueryTimeout caps every query of the query API (default
	// promapi.DefaultTimeout).
	QueryTimeout time.Duration
}

// Agent runs the probes of the current configuration. It is safe for
// concurrent use.
type Agent struct {
	opts    Options
	logger  *slog.Logger
	reg     *prometheus.Registry
	metrics *selfMetrics
	ctx     context.Context // bounds every probe loop
	stop    context.CancelFunc

	reloadMu sync.Mutex // serialises ApplyConfig and Reload

	mu      sync.RWMutex // guards the fields below
	cfg     *config.Config
	runners map[string]*runner
	order   []string // target names in configuration order
	rules   RuleEngine
	ready   bool
	web     *webConfig // nil without --web.config.file
	started time.Time
	// lastReload is the outcome of the last Reload, for the status page.
	lastReload reloadState
}

// NewRegistry is a registry with the process and Go collectors, as every
// Prometheus exporter serves.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		promcollectors.NewProcessCollector(promcollectors.ProcessCollectorOpts{}),
		promcollectors.NewGoCollector(),
	)
	return reg
}

// New returns an agent with no targets; ApplyConfig or Reload starts them.
// ctx bounds the probe loops: cancelling it stops them, as Close does.
func New(ctx context.Context, o Options) (*Agent, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = NewRegistry()
	}
	if o.NewProber == nil {
		o.NewProber = collectors.New
	}
	if o.HistorySize <= 0 {
		o.HistorySize = 10
	}
	a := &Agent{
		opts:    o,
		logger:  o.Logger,
		reg:     o.Registry,
		runners: map[string]*runner{},
		rules:   o.Rules,
	}
	m, err := newSelfMetrics(a.reg)
	if err != nil {
		return nil, err
	}
	a.metrics = m
	a.ctx, a.stop = context.WithCancel(ctx)
	a.started = time.Now()
	return a, nil
}

// Registry holds the agent's own series: the alerting engine scrapes it into
// its TSDB as job "agent". Targets' series reach the TSDB through the
// ProbeWriter instead.
func (a *Agent) Registry() *prometheus.Registry { return a.reg }

// SetRuleEngine attaches the alerting engine once it exists; it receives the
// configuration from the next ApplyConfig or Reload on.
func (a *Agent) SetRuleEngine(e RuleEngine) {
	a.mu.Lock()
	a.rules = e
	a.mu.Unlock()
}

// Config is the configuration in force, nil before the first ApplyConfig.
// Callers must not modify it.
func (a *Agent) Config() *config.Config {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg
}

// Ready reports whether a configuration is loaded and its probes scheduled.
func (a *Agent) Ready() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.ready
}

// LoadConfig reads the configured file (or the default configuration),
// applies the storage path override and runs CheckConfig. It starts nothing.
func (a *Agent) LoadConfig() (*config.Config, error) {
	return LoadConfig(a.opts)
}

// LoadConfig is Agent.LoadConfig for `agent --check-config`, which has no agent.
func LoadConfig(o Options) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if o.ConfigFile == "" {
		cfg, err = config.LoadDefault(o.AppURL)
	} else if o.ExpandEnv {
		cfg, err = config.LoadExpandEnv(o.ConfigFile)
	} else {
		if !o.AllowEmpty {
			if err := config.CheckNotEmpty(o.ConfigFile); err != nil {
				return nil, fmt.Errorf("%w; refusing it (--config.allow-empty accepts it)", err)
			}
		}
		cfg, err = config.Load(o.ConfigFile)
	}
	if err != nil {
		return nil, err
	}
	if o.StoragePath != "" {
		cfg.Storage.Path = o.StoragePath
	}
	var problems config.Errors
	if o.BuildProbers {
		var lines []int
		if o.ConfigFile != "" {
			lines = config.TargetLines(o.ConfigFile)
		}
		problems = checkProbers(cfg, lines, o.NewProber)
	}
	if o.CheckConfig != nil {
		if err := o.CheckConfig(cfg); err != nil {
			if len(problems) == 0 {
				return nil, fmt.Errorf("checking rules: %w", err)
			}
			problems = append(problems, config.Problem{Msg: "checking rules: " + err.Error()})
		}
	}
	if len(problems) > 0 {
		if o.ConfigFile != "" {
			return nil, fmt.Errorf("config %s: %w", o.ConfigFile, problems)
		}
		return nil, problems
	}
	return cfg, nil
}

// Reload re-reads the configuration and applies it. On any error the
// previous configuration keeps running, vigil_config_last_reload_successful
// drops to 0 and the error is returned (and logged).
func (a *Agent) Reload(ctx context.Context) error {
	err := a.reload(ctx)
	a.noteReload(err)
	return err
}

func (a *Agent) reload(ctx context.Context) error {
	cfg, err := a.LoadConfig()
	if err == nil && !a.opts.AllowEmpty {
		err = a.checkDropsEverything(cfg)
	}
	if err == nil {
		err = a.ApplyConfig(ctx, cfg)
	} else {
		a.metrics.reloadFailed()
	}
	if err != nil {
		a.logger.Error("reloading configuration failed; the previous configuration stays in force", "file", a.opts.ConfigFile, "err", err)
		return err
	}
	a.mu.RLock()
	w := a.web
	a.mu.RUnlock()
	if w != nil {
		if err := w.reload(false); err != nil {
			a.metrics.reloadFailed()
			a.logger.Error("reloading the web configuration failed; the previous one stays in force", "err", err)
			return err
		}
	}
	a.logger.Info("configuration reloaded", "file", a.opts.ConfigFile, "targets", len(cfg.Targets))
	return nil
}

// ApplyConfig swaps in a validated configuration. Targets whose
// configuration is unchanged keep their probe loop, prober and results;
// removed ones stop and their series go; new and changed ones start. If a
// prober cannot be built or the rule engine rejects the configuration,
// nothing changes.
func (a *Agent) ApplyConfig(ctx context.Context, cfg *config.Config) (err error) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	defer func() {
		if err != nil {
			a.metrics.reloadFailed()
		} else {
			a.metrics.reloadSucceeded()
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}

	a.mu.RLock()
	old := a.runners
	rules := a.rules
	a.mu.RUnlock()

	next := make(map[string]*runner, len(cfg.Targets))
	order := make([]string, 0, len(cfg.Targets))
	var fresh []*runner
	closeFresh := func() {
		for _, r := range fresh {
			if err := r.prober.Close(); err != nil {
				a.logger.Warn("closing unused prober", "target", r.target.Name, "kind", r.target.Kind, "err", err)
			}
		}
	}
	var problems config.Errors
	var lines []int
	for i, t := range cfg.Targets {
		order = append(order, t.Name)
		if r, ok := old[t.Name]; ok && reflect.DeepEqual(r.target, t) {
			next[t.Name] = r
			continue
		}
		logger := a.logger.With("target", t.Name, "kind", string(t.Kind))
		p, err := a.opts.NewProber(t, a.logger)
		if err != nil {
			// Every bad target is reported, each with its line.
			if lines == nil && a.opts.ConfigFile != "" {
				lines = config.TargetLines(a.opts.ConfigFile)
			}
			line := 0
			if i < len(lines) {
				line = lines[i]
			}
			problems = append(problems, config.Problem{Path: fmt.Sprintf("targets[%d]", i), Line: line, Msg: proberError(t, err)})
			continue
		}
		r := newRunner(t, p, a.opts.HistorySize, a.metrics, a.opts.Writer, logger)
		next[t.Name] = r
		fresh = append(fresh, r)
	}
	if len(problems) > 0 {
		closeFresh()
		return problems
	}
	if rules != nil {
		if err := rules.ApplyConfig(cfg); err != nil {
			closeFresh()
			return fmt.Errorf("applying configuration to the alerting engine: %w", err)
		}
	}

	a.mu.Lock()
	a.cfg = cfg
	a.runners = next
	a.order = order
	a.mu.Unlock()

	for name, r := range old {
		if next[name] == r {
			continue
		}
		r.stop()
		if n, ok := next[name]; !ok || n.target.Kind != r.target.Kind {
			a.metrics.forget(name, r.target.Kind)
		}
		if _, ok := next[name]; !ok {
			r.forget()
		}
	}
	for _, r := range fresh {
		a.metrics.track(r.target)
		r.start(a.ctx)
	}

	a.mu.Lock()
	a.ready = true
	a.mu.Unlock()
	if rules != nil && len(cfg.Alerting.Alertmanagers) == 0 {
		a.logger.Warn("no Alertmanager configured: alerts are evaluated and shown on the status page, but notify no one (set alerting.alertmanagers)")
	}
	return nil
}

// Close stops every probe loop and closes the probers.
func (a *Agent) Close() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	a.stop()
	a.mu.Lock()
	runners := a.runners
	a.runners = map[string]*runner{}
	a.order = nil
	a.ready = false
	a.mu.Unlock()
	var errs []error
	for _, r := range runners {
		r.stop()
		if err := r.wait(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// snapshot lists the current runners in configuration order.
func (a *Agent) snapshot() []*runner {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]*runner, 0, len(a.order))
	for _, name := range a.order {
		if r, ok := a.runners[name]; ok {
			out = append(out, r)
		}
	}
	return out
}

// alerts lists the rule engine's alerts, firing first, then by name.
func (a *Agent) alerts() []Alert {
	a.mu.RLock()
	rules := a.rules
	a.mu.RUnlock()
	if rules == nil {
		return nil
	}
	list := rules.Alerts()
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].State != list[j].State {
			return list[i].State == "firing"
		}
		return list[i].Name < list[j].Name
	})
	return list
}

// registerer is implemented by engines that serve their own API.
type registerer interface{ Register(*http.ServeMux) }
