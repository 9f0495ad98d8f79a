package alerts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// ScrapeTargetRetriever lists the scrape manager's targets by job, as
// Prometheus's /api/v1/targets reads them; *scrape.Manager implements it.
type ScrapeTargetRetriever interface {
	TargetsActive() map[string][]*scrape.Target
	TargetsDropped() map[string][]*scrape.Target
}

// ScrapeTargets is the running scrape manager, or nil when none runs
// (before Run, after it, or on a nil Engine).
func (e *Engine) ScrapeTargets() ScrapeTargetRetriever {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scrapers == nil {
		return nil
	}
	return e.scrapers.scrape
}

// DefaultScrapeReloadInterval is how often the scrape manager applies
// discovered target changes, as in Prometheus.
const DefaultScrapeReloadInterval = 5 * time.Second

// scrapeConfig derives the upstream configuration the scrape and discovery
// managers apply: the scrape configs, validated against the agent's global
// interval and timeout, and the external labels (which seed the scrape
// offsets, so two replicas of an HA pair do not scrape in lockstep).
func scrapeConfig(cfg *config.Config) (*promconfig.Config, error) {
	pc, err := promconfig.Load("", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("scrape configs: %w", err)
	}
	g := cfg.Global
	g.Interval = model.Duration(cmp.Or(time.Duration(g.Interval), DefaultScrapeInterval))
	g.Timeout = model.Duration(min(cmp.Or(time.Duration(g.Timeout), DefaultScrapeTimeout), time.Duration(g.Interval)))
	ext := pc.GlobalConfig.ExternalLabels
	pc.GlobalConfig = config.ScrapeGlobal(g)
	pc.GlobalConfig.ExternalLabels = ext
	if len(cfg.Global.ExternalLabels) > 0 {
		pc.GlobalConfig.ExternalLabels = labels.FromMap(cfg.Global.ExternalLabels)
	}
	var errs []error
	jobs := map[string]bool{}
	for i := range cfg.ScrapeConfigs {
		sc := cfg.ScrapeConfigs[i].ScrapeConfig // a copy: Validate fills defaults
		if err := sc.Validate(pc.GlobalConfig); err != nil {
			errs = append(errs, fmt.Errorf("scrape_configs[%d]: %w", i, err))
			continue
		}
		if jobs[sc.JobName] || sc.JobName == config.SelfJobName || sc.JobName == "" {
			errs = append(errs, fmt.Errorf("scrape_configs[%d]: job_name %q empty, reserved or used twice", i, sc.JobName))
			continue
		}
		jobs[sc.JobName] = true
		// What the scrape pool would fail on at reload (a CA file that
		// does not exist, ...) is refused now, with the old config kept.
		if _, err := commoncfg.NewClientFromConfig(sc.HTTPClientConfig, sc.JobName); err != nil {
			errs = append(errs, fmt.Errorf("scrape_configs[%d] (job %s): HTTP client: %w", i, sc.JobName, err))
			continue
		}
		pc.ScrapeConfigs = append(pc.ScrapeConfigs, &sc)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return pc, nil
}

// scrapers are Prometheus's discovery and scrape managers, wired as
// cmd/prometheus wires them: discovery feeds target groups per job to the
// scrape manager, which appends every scrape through the engine's
// storage-health-watched appender.
type scrapers struct {
	disc   *discovery.Manager
	scrape *scrape.Manager
	done   chan struct{}
}

// startScrapers builds and runs the managers until ctx ends. Callers hold e.mu.
func (e *Engine) startScrapers(ctx context.Context, pc *promconfig.Config) (*scrapers, error) {
	logger := e.logger
	sdMetrics, err := discovery.CreateAndRegisterSDMetrics(e.reg)
	if err != nil {
		return nil, fmt.Errorf("starting scrape discovery: %w", err)
	}
	disc := discovery.NewManager(ctx, logger.With("component", "discovery manager scrape"), e.reg, sdMetrics,
		discovery.Name("scrape"), discovery.Updatert(e.opts.ScrapeReloadInterval))
	if disc == nil {
		return nil, errors.New("starting scrape discovery: registering its metrics failed")
	}
	// NewManager registers a collector before it sets the field that
	// collector reads: a concurrent Gather (the self-scrape, /metrics)
	// would race with it. Register once it is built.
	var held heldRegisterer
	sm, err := scrape.NewManager(&scrape.Options{
		DiscoveryReloadInterval:  model.Duration(e.opts.ScrapeReloadInterval),
		DiscoveryReloadOnStartup: true,
	}, logger.With("component", "scrape manager"), nil, nil, e.app, &held)
	if err != nil {
		return nil, fmt.Errorf("starting the scrape manager: %w", err)
	}
	for _, c := range held.cs {
		if err := e.reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering the scrape manager's metrics: %w", err)
		}
	}
	s := &scrapers{disc: disc, scrape: sm, done: make(chan struct{})}
	if err := s.apply(pc); err != nil {
		return nil, err
	}
	discDone := make(chan struct{})
	go func() {
		defer close(discDone)
		if err := disc.Run(); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("scrape discovery stopped", "err", err)
		}
	}()
	go func() {
		defer close(s.done)
		if err := sm.Run(disc.SyncCh()); err != nil {
			logger.Error("scrape manager stopped", "err", err)
		}
		<-discDone
	}()
	return s, nil
}

// apply hands a configuration to both managers, the scrape manager first
// as Prometheus's reloader does, so new jobs exist when their targets come.
func (s *scrapers) apply(pc *promconfig.Config) error {
	if err := s.scrape.ApplyConfig(pc); err != nil {
		return fmt.Errorf("applying scrape configs: %w", err)
	}
	sd := make(map[string]discovery.Configs, len(pc.ScrapeConfigs))
	for _, sc := range pc.ScrapeConfigs {
		sd[sc.JobName] = sc.ServiceDiscoveryConfigs
	}
	if err := s.disc.ApplyConfig(sd); err != nil {
		return fmt.Errorf("applying scrape discovery: %w", err)
	}
	return nil
}

// stop ends scraping without staleness markers (a restart continues the
// series) and waits for both managers. The discovery manager stops with
// the context startScrapers got, which the caller cancels.
func (s *scrapers) stop() {
	s.scrape.Stop()
}

// heldRegisterer keeps collectors to register later.
type heldRegisterer struct{ cs []prometheus.Collector }

func (h *heldRegisterer) Register(c prometheus.Collector) error {
	h.cs = append(h.cs, c)
	return nil
}

func (h *heldRegisterer) MustRegister(cs ...prometheus.Collector) { h.cs = append(h.cs, cs...) }

func (h *heldRegisterer) Unregister(prometheus.Collector) bool { return false }
