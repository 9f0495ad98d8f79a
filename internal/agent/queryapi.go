package agent

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sh/vigil/internal/agent/promapi"
	"github.com/vigil-sh/vigil/internal/buildinfo"
)

// registerQueryAPI mounts Prometheus's query API over Options.Query and
// /api/v1/targets: the scrape targets in Prometheus's shape with the probe
// targets as the status page shows them.
func (a *Agent) registerQueryAPI(mux *http.ServeMux) {
	api := promapi.New(promapi.Options{
		Source:   a.opts.Query,
		Targets:  a.opts.ScrapeTargets,
		Metadata: prometheus.Gatherers{a.reg, targetSeries{a}},
		Timeout:  a.opts.QueryTimeout,
		BuildInfo: promapi.BuildInfo{
			Version:   buildinfo.Version,
			Revision:  buildinfo.Revision,
			GoVersion: buildinfo.GoVersion(),
		},
		Logger: a.logger.With("component", "query api"),
	})
	mux.Handle("GET /api/v1/targets", api.TargetsHandler(func() any { return a.Targets() }))
	if a.opts.Query != nil {
		api.Register(mux)
	}
}
