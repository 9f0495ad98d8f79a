// Command agent is Vigil's sidecar: it probes the configured targets, serves
// their results on /metrics and a status page, scrapes the app into a local
// TSDB, evaluates alert rules and notifies Alertmanager. See docs/agent.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vigil-sh/vigil/alerts"
	"github.com/vigil-sh/vigil/internal/agent"
	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/agent/promapi"
	"github.com/vigil-sh/vigil/internal/buildinfo"
	"github.com/vigil-sh/vigil/internal/memlimit"
	"github.com/vigil-sh/vigil/internal/redislog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// flags are the command line, named as Prometheus exporters name theirs.
type flags struct {
	configFile    string
	expandEnv     bool
	allowEmpty    bool
	listen        listFlag
	webConfigFile string
	externalURL   string
	logLevel      string
	logFormat     string
	storagePath   string
	checkConfig   string
	version       bool
	// Rule timing, as Prometheus's --rules.alert.* flags.
	forOutageTolerance time.Duration
	forGracePeriod     time.Duration
	// GOMEMLIMIT from the cgroup, as Prometheus 3's --auto-gomemlimit*.
	autoMemlimit      bool
	autoMemlimitRatio float64
	// Query limits, as Prometheus's --query.* flags.
	queryTimeout    time.Duration
	queryMaxSamples int
	// How long each remote_write queue may flush on shutdown.
	remoteFlush time.Duration
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

const defaultListenAddress = ":9465"

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configFile, "config.file", "", "configuration file; empty: watch the local host and app (see docs/agent.md)")
	fs.BoolVar(&f.expandEnv, "config.expand-env", false, "expand ${NAME} and ${NAME:default} in the configuration file from the environment (e.g. instance: ${POD_NAME})")
	fs.BoolVar(&f.allowEmpty, "config.allow-empty", false, "accept a configuration file with nothing in it, and a reload that drops every target and every Alertmanager (refused by default: a truncated file would silence every alert)")
	fs.Var(&f.listen, "web.listen-address", "address to listen on for the web interface and /metrics; repeatable (default "+defaultListenAddress+")")
	fs.StringVar(&f.webConfigFile, "web.config.file", "", "exporter-toolkit web configuration file enabling TLS or basic auth")
	fs.StringVar(&f.externalURL, "web.external-url", "", "URL the agent is reachable at, for alerts' generatorURL (default: global.external_url)")
	fs.StringVar(&f.logLevel, "log.level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log.format", "logfmt", "log format: logfmt or json")
	fs.StringVar(&f.storagePath, "storage.path", "", "TSDB directory, overriding storage.path of the configuration")
	fs.StringVar(&f.checkConfig, "check-config", "", "validate this configuration file, its rule files and --web.config.file if given, print every problem, and exit 0 or 1")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.DurationVar(&f.forOutageTolerance, "rules.alert.for-outage-tolerance", alerts.DefaultOutageTolerance, "max time the agent may be down for a pending alert's 'for' state to be restored")
	fs.DurationVar(&f.forGracePeriod, "rules.alert.for-grace-period", alerts.DefaultForGracePeriod, "minimum time between a restart and a restored alert firing; alerts whose 'for' is shorter restart it")
	fs.BoolVar(&f.autoMemlimit, "auto-gomemlimit", true, "set GOMEMLIMIT from the container's cgroup memory limit unless the GOMEMLIMIT environment variable is set")
	fs.Float64Var(&f.autoMemlimitRatio, "auto-gomemlimit.ratio", memlimit.DefaultRatio, "share of the cgroup memory limit given to GOMEMLIMIT, in (0, 1]")
	fs.DurationVar(&f.queryTimeout, "query.timeout", alerts.DefaultQueryTimeout, "maximum time a query may take (rules and /api/v1/query), as Prometheus's flag")
	fs.IntVar(&f.queryMaxSamples, "query.max-samples", alerts.DefaultQueryMaxSamples, "maximum number of samples a single query may load into memory, as Prometheus's flag")
	fs.DurationVar(&f.remoteFlush, "storage.remote.flush-deadline", alerts.DefaultRemoteFlushDeadline, "how long each remote_write queue may flush on shutdown")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := memlimit.ValidateRatio(f.autoMemlimitRatio); err != nil {
		return nil, err
	}
	if f.queryTimeout <= 0 || f.queryMaxSamples <= 0 {
		return nil, fmt.Errorf("--query.timeout and --query.max-samples must be positive, got %s and %d", f.queryTimeout, f.queryMaxSamples)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(f.listen) == 0 {
		f.listen = listFlag{defaultListenAddress}
	}
	return f, nil
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log.level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "logfmt":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log.format %q: want logfmt or json", format)
}

// run is main without the process: it returns the exit code, so tests can
// drive every path. ctx ending shuts the agent down in order.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if f.version {
		fmt.Fprintf(stdout, "vigil agent, version %s (revision %s, %s)\n", buildinfo.Version, buildinfo.Revision, buildinfo.GoVersion())
		return 0
	}
	if f.checkConfig != "" {
		return checkConfig(f.checkConfig, f.webConfigFile, f.expandEnv, f.allowEmpty, stdout, stderr)
	}
	logger, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	redislog.Install(logger)
	if _, err := memlimit.Apply(memlimit.Options{Enabled: f.autoMemlimit, Ratio: f.autoMemlimitRatio, Logger: logger.With("component", "memlimit")}); err != nil {
		logger.Warn("GOMEMLIMIT not set from the cgroup", "err", err)
	}
	if err := serve(ctx, f, logger); err != nil {
		logger.Error("agent stopped", "err", err)
		return 1
	}
	return 0
}

// checkConfig is `agent --check-config FILE`: everything a start or a
// reload would validate, without starting anything.
func checkConfig(file, webConfigFile string, expandEnv, allowEmpty bool, stdout, stderr io.Writer) int {
	if webConfigFile != "" {
		if err := web.Validate(webConfigFile); err != nil {
			fmt.Fprintf(stderr, "FAILED: --web.config.file %s: %v\n", webConfigFile, err)
			return 1
		}
	}
	cfg, err := agent.LoadConfig(agent.Options{ConfigFile: file, ExpandEnv: expandEnv, CheckConfig: alerts.CheckConfig, AllowEmpty: allowEmpty, BuildProbers: true})
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %s\n", file)
		var problems config.Errors
		if errors.As(err, &problems) {
			for _, p := range problems {
				fmt.Fprintf(stderr, "  %s\n", p)
			}
			return 1
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "  %s\n", line)
		}
		return 1
	}
	fmt.Fprintf(stdout, "SUCCESS: %s is valid: %d targets, %d scrape configs, %d rule file patterns\n",
		file, len(cfg.Targets), len(cfg.ScrapeConfigs), len(cfg.RuleFiles))
	return 0
}

// serve runs the agent until ctx ends: probes, alerting engine, web server,
// reload on SIGHUP. Shutdown is ordered: web server, probes, engine.
func serve(ctx context.Context, f *flags, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	reg := agent.NewRegistry()
	engine, err := alerts.New(ctx, alerts.Options{
		Logger:       logger.With("component", "alerts"),
		Registerer:   reg,
		Gatherer:     reg,
		SelfInstance: selfInstance(f.listen[0]),
		ExternalURL:  f.externalURL,
		StoragePath:  f.storagePath,

		OutageTolerance:     f.forOutageTolerance,
		ForGracePeriod:      f.forGracePeriod,
		QueryTimeout:        f.queryTimeout,
		QueryMaxSamples:     f.queryMaxSamples,
		RemoteFlushDeadline: f.remoteFlush,
	})
	if err != nil {
		return fmt.Errorf("creating the alerting engine: %w", err)
	}
	defer func() {
		if err := engine.Close(); err != nil {
			logger.Error("closing the alerting engine", "err", err)
		}
	}()

	a, err := agent.New(ctx, agent.Options{
		Logger:      logger,
		Registry:    reg,
		ConfigFile:  f.configFile,
		ExpandEnv:   f.expandEnv,
		StoragePath: f.storagePath,
		CheckConfig: alerts.CheckConfig,
		AllowEmpty:  f.allowEmpty,
		Rules:       ruleEngine{engine},
		Writer:      engine,
		// Prometheus's query API over the engine's TSDB.
		Query:        engine,
		QueryTimeout: f.queryTimeout,
		ScrapeTargets: func() promapi.TargetRetriever {
			// An untyped nil when no scrape manager runs: a nil pointer in
			// the interface would be called.
			if t := engine.ScrapeTargets(); t != nil {
				return t
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("creating the agent: %w", err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			logger.Warn("closing probers", "err", err)
		}
	}()
	cfg, err := a.LoadConfig()
	if err != nil {
		// One line per problem, each with its field path and line.
		var problems config.Errors
		if errors.As(err, &problems) {
			for _, p := range problems {
				logger.Error("invalid configuration", "file", f.configFile, "problem", p.Error())
			}
			return fmt.Errorf("loading configuration %s: %d problems (logged above)", f.configFile, len(problems))
		}
		return fmt.Errorf("loading configuration: %w", err)
	}
	if err := a.ApplyConfig(ctx, cfg); err != nil {
		var problems config.Errors
		if errors.As(err, &problems) {
			for _, p := range problems {
				logger.Error("invalid configuration", "file", f.configFile, "problem", p.Error())
			}
			return fmt.Errorf("applying configuration %s: %d problems (logged above)", f.configFile, len(problems))
		}
		return fmt.Errorf("applying configuration: %w", err)
	}
	logger.Info("agent started", "version", buildinfo.Version, "config", cmpOr(f.configFile, "(built-in defaults)"),
		"targets", len(cfg.Targets), "listen", f.listen.String())

	engineDone := make(chan error, 1)
	go func() { engineDone <- engine.Run(ctx) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = a.Reload(ctx) // logged, and reported by vigil_config_last_reload_successful
			}
		}
	}()

	systemd := false
	listen := []string(f.listen)
	webErr := a.Serve(ctx, &web.FlagConfig{WebListenAddresses: &listen, WebSystemdSocket: &systemd, WebConfigFile: &f.webConfigFile})
	cancel()
	if err := <-engineDone; err != nil {
		logger.Error("alerting engine", "err", err)
	}
	if webErr != nil {
		return fmt.Errorf("web server: %w", webErr)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// selfInstance is the instance label of the agent's own series: the listen
// address, with localhost for an empty host as Prometheus would scrape it.
func selfInstance(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// ruleEngine adapts *alerts.Engine to agent.RuleEngine.
type ruleEngine struct{ e *alerts.Engine }

func (r ruleEngine) ApplyConfig(cfg *config.Config) error { return r.e.ApplyConfig(cfg) }
func (r ruleEngine) Register(mux *http.ServeMux)          { r.e.Register(mux) }

func (r ruleEngine) Delivery() []agent.AlertmanagerState {
	list := r.e.Delivery()
	out := make([]agent.AlertmanagerState, len(list))
	for i, d := range list {
		out[i] = agent.AlertmanagerState(d)
	}
	return out
}

func (r ruleEngine) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]agent.Series, error) {
	list, err := r.e.QueryRange(ctx, expr, start, end, step)
	out := make([]agent.Series, len(list))
	for i, s := range list {
		out[i] = agent.Series{Labels: s.Labels, Points: make([]agent.Point, len(s.Points))}
		for j, p := range s.Points {
			out[i].Points[j] = agent.Point(p)
		}
	}
	return out, err
}

func (r ruleEngine) Retention() time.Duration { return r.e.Retention() }

// ScrapeTargetLister feeds the status page's scrape-target health.
func (r ruleEngine) ScrapeTargetLister() agent.ScrapeTargetLister {
	if t := r.e.ScrapeTargets(); t != nil {
		return t
	}
	return nil
}

func (r ruleEngine) RemoteWrite() []agent.RemoteWriteState {
	list := r.e.RemoteWriteStatus()
	out := make([]agent.RemoteWriteState, len(list))
	for i, q := range list {
		out[i] = agent.RemoteWriteState(q)
	}
	return out
}

func (r ruleEngine) StorageStatus() agent.StorageStatus {
	s := r.e.StorageStatus()
	return agent.StorageStatus{Healthy: s.Healthy, Reason: s.Reason, Since: s.Since, LastFailure: s.LastFailure}
}

func (r ruleEngine) Alerts() []agent.Alert {
	list := r.e.Alerts()
	out := make([]agent.Alert, len(list))
	for i, a := range list {
		out[i] = agent.Alert{Name: a.Name, State: a.State, Value: a.Value, Labels: a.Labels, Annotations: a.Annotations, ActiveAt: a.ActiveAt}
	}
	return out
}
