// Package httpmetrics is the app's Prometheus instrumentation: the HTTP
// middleware, the MongoDB command and pool monitors, and the counters and
// gauges the cache, the rate limiter and the health checks update. Every
// metric lives on the Metrics' own registry, served by Handler at
// /api/metrics; the names are the contract in docs/metrics.md.
package httpmetrics

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-sh/vigil/internal/buildinfo"
)

// Dependency label values of DependencyUp.
const (
	DependencyMongoDB = "mongodb"
	DependencyRedis   = "redis"
)

// Scope label values of RateLimited.
const (
	ScopeAuth = "auth"
	ScopeAPI  = "api"
)

// Scope label values of LoginThrottled.
const (
	LoginScopeAccount = "account"
	LoginScopeClient  = "client"
)

// Resource label values of Busy.
const (
	BusyBcrypt    = "bcrypt"
	BusyMongoPool = "mongodb_pool"
)

// httpBuckets are the classic buckets of the request duration histogram: a
// superset of prometheus.DefBuckets with finer resolution under 5 ms, where a
// cached read lands, so latency objectives of 1 ms to 10 s can be expressed.
var httpBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// mongoBuckets cover a sub-millisecond point lookup up to a pathological scan.
var mongoBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics holds the app's collectors. The exported fields are for the parts
// of the app that update them directly (cache, rate limiter, health checks).
type Metrics struct {
	Registry *prometheus.Registry

	RequestsTotal   *prometheus.CounterVec   // http_requests_total{method,route,status}
	RequestDuration *prometheus.HistogramVec // http_request_duration_seconds{method,route}
	InFlight        prometheus.Gauge         // http_requests_in_flight

	MongoCommandDuration *prometheus.HistogramVec // app_mongodb_command_duration_seconds{command}
	MongoCommandFailures *prometheus.CounterVec   // app_mongodb_command_failures_total{command}
	MongoSlowOperations  *prometheus.CounterVec   // app_mongodb_slow_operations_total{command}
	MongoPoolConnections *prometheus.GaugeVec     // app_mongodb_pool_connections{state}
	MongoPoolMax         prometheus.Gauge         // app_mongodb_pool_max_connections

	CacheHits, CacheMisses prometheus.Counter     // app_cache_hits_total, app_cache_misses_total
	RateLimited            *prometheus.CounterVec // app_rate_limited_requests_total{scope}
	DependencyUp           *prometheus.GaugeVec   // app_dependency_up{dependency}
	LoginThrottled         *prometheus.CounterVec // app_login_throttled_total{scope}
	Busy                   *prometheus.CounterVec // app_busy_responses_total{resource}
	BuildInfo              *prometheus.GaugeVec   // app_build_info{version,revision,goversion}

	// Logger receives the slow-command warnings (slog.Default() when nil).
	Logger *slog.Logger

	slowThreshold time.Duration

	// series caches the children of RequestsTotal and RequestDuration per
	// (method, route, status), so the hot path is one map lookup instead
	// of hashing label values. Copy-on-write: readers never lock.
	series   atomic.Pointer[map[seriesKey]*seriesEntry]
	seriesMu sync.Mutex

	mongo mongoState
}

// New builds the metrics on a fresh registry with the process and Go runtime
// collectors and app_build_info. MongoDB commands slower than slowThreshold
// count in app_mongodb_slow_operations_total and are logged; zero disables
// that.
func New(slowThreshold time.Duration) *Metrics {
	m := &Metrics{
		Registry:      prometheus.NewRegistry(),
		slowThreshold: slowThreshold,
		RequestsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "http_request_duration_seconds",
			Help:                            "Time to serve an HTTP request, by method and route template.",
			Buckets:                         httpBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"method", "route"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		MongoCommandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "app_mongodb_command_duration_seconds",
			Help:                            "Duration of MongoDB commands as reported by the driver, by command name.",
			Buckets:                         mongoBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"command"}),
		MongoCommandFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "app_mongodb_command_failures_total",
			Help: "MongoDB commands that failed, by command name.",
		}, []string{"command"}),
		MongoSlowOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "app_mongodb_slow_operations_total",
			Help: "MongoDB commands slower than the slow query threshold, by command name.",
		}, []string{"command"}),
		MongoPoolConnections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "app_mongodb_pool_connections",
			Help: "Connections in the MongoDB driver's pools, by state (idle, in_use).",
		}, []string{"state"}),
		MongoPoolMax: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "app_mongodb_pool_max_connections",
			Help: "Maximum size of the MongoDB driver's connection pools, summed over servers.",
		}),
		CacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "app_cache_hits_total",
			Help: "Cache lookups that found the key.",
		}),
		CacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "app_cache_misses_total",
			Help: "Cache lookups that did not find the key (including lookups that failed).",
		}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "app_rate_limited_requests_total",
			Help: "Requests refused with 429 by the rate limiter, by scope (auth, api).",
		}, []string{"scope"}),
		DependencyUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "app_dependency_up",
			Help: "Whether the last health check of a dependency succeeded (1) or not (0).",
		}, []string{"dependency"}),
		LoginThrottled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "app_login_throttled_total",
			Help: "Login attempts refused with 429 after repeated failures, by scope (account, client).",
		}, []string{"scope"}),
		Busy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "app_busy_responses_total",
			Help: "Requests answered 503 busy because a bounded resource stayed saturated, by resource (bcrypt, mongodb_pool).",
		}, []string{"resource"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "app_build_info",
			Help: "A metric with a constant '1' value labeled by the app's version, revision and Go version.",
		}, []string{"version", "revision", "goversion"}),
	}
	m.BuildInfo.WithLabelValues(buildinfo.Version, buildinfo.Revision, buildinfo.GoVersion()).Set(1)
	// Known label values start at zero so that rate() and absent() work
	// before the first event.
	for _, s := range []string{ScopeAuth, ScopeAPI} {
		m.RateLimited.WithLabelValues(s)
	}
	for _, s := range []string{LoginScopeAccount, LoginScopeClient} {
		m.LoginThrottled.WithLabelValues(s)
	}
	for _, r := range []string{BusyBcrypt, BusyMongoPool} {
		m.Busy.WithLabelValues(r)
	}
	for _, s := range []string{poolIdle, poolInUse} {
		m.MongoPoolConnections.WithLabelValues(s)
	}
	empty := map[seriesKey]*seriesEntry{}
	m.series.Store(&empty)
	m.mongo.init()

	m.Registry.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		m.RequestsTotal, m.RequestDuration, m.InFlight,
		m.MongoCommandDuration, m.MongoCommandFailures, m.MongoSlowOperations,
		m.MongoPoolConnections, m.MongoPoolMax,
		m.CacheHits, m.CacheMisses, m.RateLimited, m.DependencyUp, m.BuildInfo,
		m.LoginThrottled, m.Busy,
	)
	return m
}

// Handler serves the registry in the Prometheus text format, or in
// OpenMetrics (with exemplars and created timestamps) when the scraper asks
// for it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          m.Registry, // promhttp_metric_handler_errors_total
		Timeout:           10 * time.Second,
	})
}
