package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vigil-sh/vigil/dashboards"
)

// Handler serves the agent's endpoints:
//
//	/                 status page
//	/api/v1/targets   scrape targets in Prometheus's shape, and the status page's data
//	/api/v1/query, query_range, series, labels, label/{name}/values,
//	metadata, status/buildinfo: Prometheus's query API over the local TSDB
//	/graph            the page alerts' generatorURL links to
//	/api/v1/status/config  the configuration in force, secrets redacted
//	/api/v1/dashboards     the Grafana dashboards shipped with this version
//	/metrics          self-metrics and every target's series with its job and instance
//	/probe?target=    one target's latest series, for the multi-target pattern
//	/-/healthy        200 while the process runs
//	/-/ready          200 once a configuration is loaded and its probes scheduled,
//	                  503 with the reason before, or while the TSDB cannot be written
//	/-/reload         POST: re-read the configuration
//
// plus the alerting engine's API when it has one.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{a.reg, targetSeries{a}}, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelError),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          a.reg,
		Timeout:           10 * time.Second,
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /probe", a.serveProbe)
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := a.notReady(); why != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "Not ready: "+why)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", a.serveReload)
	// Prometheus's query API and the /graph page of generatorURL; its
	// /api/v1/targets keeps the status page's "targets" beside Prometheus's
	// activeTargets and droppedTargets.
	a.registerQueryAPI(mux)
	mux.HandleFunc("GET /api/v1/status/config", a.serveConfig)
	// The dashboards matching this agent's version, for deployments to fetch.
	dash := dashboards.Handler()
	mux.Handle("/api/v1/dashboards", dash)
	mux.Handle("/api/v1/dashboards/", dash)
	mux.HandleFunc("GET /{$}", a.serveStatus)
	a.mu.RLock()
	rules := a.rules
	a.mu.RUnlock()
	if r, ok := rules.(registerer); ok {
		r.Register(mux)
	}
	return mux
}

func (a *Agent) serveReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
		return
	}
	if err := a.Reload(r.Context()); err != nil {
		writeError(w, r, http.StatusInternalServerError, fmt.Errorf("failed to reload config: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "Configuration reloaded")
}

// writeJSONError answers a JSON error, as the API's clients expect.
func writeJSONError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": err.Error()})
}

// writeError answers JSON to clients that ask for it, text otherwise.
func writeError(w http.ResponseWriter, r *http.Request, code int, err error) {
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": err.Error()})
		return
	}
	http.Error(w, err.Error(), code)
}

func wantsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if len(v) >= 16 && v[:16] == "application/json" {
			return true
		}
	}
	return false
}

// Serve serves Handler on the --web.listen-address addresses with TLS and
// basic auth from --web.config.file (exporter-toolkit) until ctx is done.
func (a *Agent) Serve(ctx context.Context, flags *web.FlagConfig) error {
	f := *flags
	path, err := a.useWebConfig(f.WebConfigFile)
	if err != nil {
		return err
	}
	f.WebConfigFile = &path
	srv := a.server()
	return a.serve(ctx, srv, func() error { return web.ListenAndServe(srv, &f, a.logger) })
}

// useWebConfig loads --web.config.file and returns the path of the private
// copy the toolkit is to read (see webConfig); "" without one.
func (a *Agent) useWebConfig(file *string) (string, error) {
	if file == nil || *file == "" {
		return "", nil
	}
	w, err := loadWebConfig(*file)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.web.close()
	a.web = w
	a.mu.Unlock()
	return w.path(), nil
}

// ServeListener is Serve on an existing listener, for tests and socket
// activation; webConfigFile may be empty.
func (a *Agent) ServeListener(ctx context.Context, l net.Listener, webConfigFile string) error {
	path, err := a.useWebConfig(&webConfigFile)
	if err != nil {
		return err
	}
	srv := a.server()
	systemd := false
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{l.Addr().String()},
		WebSystemdSocket:   &systemd,
		WebConfigFile:      &path,
	}
	return a.serve(ctx, srv, func() error { return web.Serve(l, srv, flags, a.logger) })
}

func (a *Agent) server() *http.Server {
	return &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
}

func (a *Agent) serve(ctx context.Context, srv *http.Server, run func() error) error {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			a.logger.Warn("shutting down the web server", "err", err)
		}
	}()
	err := run()
	a.mu.Lock()
	a.web.close()
	a.web = nil
	a.mu.Unlock()
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	return err
}

// serveConfig shows the configuration in force, with defaults applied and
// secrets redacted, in Prometheus' /api/v1/status/config shape.
func (a *Agent) serveConfig(w http.ResponseWriter, r *http.Request) {
	cfg := a.Config()
	if cfg == nil {
		writeError(w, r, http.StatusServiceUnavailable, errors.New("no configuration loaded yet"))
		return
	}
	out, err := cfg.EffectiveYAML()
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, fmt.Errorf("encoding the configuration: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]string{"yaml": string(out)}})
}
