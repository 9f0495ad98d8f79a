package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-sh/vigil/internal/app/api"
	"github.com/vigil-sh/vigil/internal/app/appconfig"
	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/cache"
	"github.com/vigil-sh/vigil/internal/app/health"
	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/app/ratelimit"
	"github.com/vigil-sh/vigil/internal/app/store"
	"github.com/vigil-sh/vigil/internal/buildinfo"
)

// healthInterval is how often dependencies are checked in the background,
// so app_dependency_up is current between /api/health calls.
const healthInterval = 15 * time.Second

// run serves the app until ctx is cancelled, then shuts down in order:
// stop accepting, let in-flight requests finish (up to cfg.ShutdownGrace),
// close Redis and MongoDB, stop the embedded FerretDB. ready, if set, is
// called with the listen address once the server accepts connections.
func run(ctx context.Context, cfg appconfig.Config, logger *slog.Logger, ready func(addr string)) error {
	logger.Info("starting app", "version", buildinfo.Version, "revision", buildinfo.Revision, "env", cfg.Env)
	if cfg.Development() {
		if cfg.JWTSecret == "" {
			cfg.JWTSecret = auth.GenerateSecret()
			logger.Warn("APP_ENV=development and JWT_SECRET unset: generated a random access-token secret; tokens will not survive a restart")
		}
		if cfg.JWTRefreshSecret == "" {
			cfg.JWTRefreshSecret = auth.GenerateSecret()
			logger.Warn("APP_ENV=development and JWT_REFRESH_SECRET unset: generated a random refresh-token secret; tokens will not survive a restart")
		}
	}
	hasher, err := auth.NewHasher(cfg.BcryptCost)
	if err != nil {
		return err
	}
	metrics := httpmetrics.New(cfg.SlowQueryThreshold)
	metrics.Logger = logger
	passwordSlots := auth.NewSlots(cfg.BcryptConcurrency, cfg.BcryptWait)
	logger.Info("password hashing bounded", "concurrency", passwordSlots.Size(), "queue_timeout", cfg.BcryptWait.String())

	mongoURI := cfg.MongoURI
	if mongoURI == "" {
		// FerretDB logs every connection at info: errors only.
		ferretLog := slog.New(minLevel{logger.Handler(), slog.LevelError}).With("component", "ferretdb")
		emb, err := store.StartEmbedded(ctx, cfg.EmbeddedMongoAddr, cfg.DataDir, ferretLog)
		if err != nil {
			return err
		}
		defer emb.Stop()
		mongoURI = emb.URI
		logger.Info("embedded FerretDB started", "addr", cfg.EmbeddedMongoAddr, "data_dir", cfg.DataDir)
	}
	cm, pm := metrics.MongoMonitors()
	st, err := store.Open(store.Options{
		URI: mongoURI, Database: cfg.MongoDatabase, MaxPoolSize: cfg.MongoMaxPoolSize,
		Timeout: cfg.MongoTimeout, ServerSelectionTimeout: cfg.ServerSelectionTimeout,
		CommandMonitor: cm, PoolMonitor: pm, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := st.Close(cctx); err != nil {
			logger.Warn("closing MongoDB", "err", err)
		}
	}()
	logger.Info("MongoDB configured", "uri", appconfig.RedactURI(mongoURI), "max_pool_size", cfg.MongoMaxPoolSize)
	// A database that is down at start must not keep the app from serving
	// (it answers 503 and reports unhealthy): indexes are retried, and
	// writes are refused until they exist.
	// The first attempt before serving, so that with MongoDB up the app
	// accepts writes from its first request.
	if err := st.EnsureIndexes(ctx); err == nil {
		logger.Info("MongoDB indexes ensured")
	} else {
		go ensureIndexes(ctx, st, logger)
	}
	metrics.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "app_mongodb_indexes_ready",
			Help: "Whether every MongoDB index exists (1) or not yet (0); until then writes answer 503.",
		}, func() float64 {
			if st.IndexesReady() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "app_mongodb_index_conflicts",
			Help: "Unique indexes that existing duplicate documents keep from being built.",
		}, func() float64 { return float64(st.IndexConflicts()) }),
	)

	var limOpts []ratelimit.Option
	if cfg.TrustProxies {
		limOpts = append(limOpts, ratelimit.TrustProxy(cfg.TrustedProxies...))
	}
	limOpts = append(limOpts, ratelimit.LogTo(logger))
	loginPolicy := ratelimit.LoginPolicy{
		Threshold: cfg.LoginFailures, ClientThreshold: cfg.LoginClientFailures,
		BaseDelay: time.Second, MaxDelay: cfg.LoginLockoutMax,
	}

	var (
		c               cache.Cache
		authLim, apiLim ratelimit.Limiter
		loginThrottle   *ratelimit.LoginThrottle
		redisCheck      = health.Check{Name: httpmetrics.DependencyRedis, Disabled: true}
	)
	if cfg.RedisURL != "" {
		opts, err := cache.RedisOptions(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		client := redis.NewClient(opts)
		defer client.Close()
		c = cache.NewRedis(client, metrics)
		authLim = ratelimit.NewRedis(client, cfg.RateLimitAuth, time.Second, logger)
		apiLim = ratelimit.NewRedis(client, cfg.RateLimitAPI, time.Second, logger)
		loginThrottle = ratelimit.NewLoginThrottle(client, loginPolicy, metrics, limOpts...)
		redisCheck = health.Check{Name: httpmetrics.DependencyRedis, Probe: c.Ping}
		logger.Info("Redis configured", "url", cache.Redact(cfg.RedisURL))
	} else {
		c = cache.NewLRU(cfg.CacheSize, metrics)
		authLim = ratelimit.NewLocal(cfg.RateLimitAuth, time.Second)
		apiLim = ratelimit.NewLocal(cfg.RateLimitAPI, time.Second)
		loginThrottle = ratelimit.NewLoginThrottle(nil, loginPolicy, metrics, limOpts...)
		logger.Info("no REDIS_URL: in-process cache and rate limiter")
		if !cfg.Development() {
			// Each replica would cache on its own and never see the others'
			// writes, and limits would multiply by the replica count.
			logger.Warn("no REDIS_URL outside development: the in-process cache, rate limiter and login throttle are per process; run a single replica, or set REDIS_URL")
		}
	}

	checker := &health.Checker{
		Version:  buildinfo.Version,
		Started:  time.Now(),
		Deadline: cfg.HealthDeadline,
		Up:       metrics.DependencyUp,
		Logger:   logger,
		Checks: []health.Check{
			// st.Up: a saturated pool is overload, not an outage.
			{Name: httpmetrics.DependencyMongoDB, Probe: st.Up, Critical: true},
			// Not ready until the indexes exist (writes are refused).
			{Name: "mongodb_indexes", Probe: st.CheckIndexes, Critical: true},
			redisCheck,
		},
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go checker.Watch(watchCtx, healthInterval)

	handler := api.NewServer(api.Deps{
		Store: st, Tokens: auth.NewTokens(cfg.JWTSecret, cfg.JWTRefreshSecret, cfg.AccessTokenTTL, cfg.RefreshTokenTTL),
		Hasher: hasher, Metrics: metrics, Logger: logger,
		Cache: c, CacheTTL: cfg.CacheTTL,
		RateLimit: func(next http.Handler) http.Handler {
			return ratelimit.Middleware(authLim, apiLim, metrics, next, limOpts...)
		},
		Health:        checker,
		MaxBodyBytes:  cfg.MaxBodyBytes,
		LoginThrottle: loginThrottle,
		PasswordSlots: passwordSlots,
	})

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr(), err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("in-flight requests did not finish in time", "err", err)
		_ = srv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP: %w", err)
	}
	logger.Info("stopped")
	return nil
}

func ensureIndexes(ctx context.Context, st *store.Store, logger *slog.Logger) {
	backoff := time.Second
	for {
		err := st.EnsureIndexes(ctx)
		if err == nil {
			logger.Info("MongoDB indexes ensured")
			return
		}
		level := slog.LevelWarn
		if errors.Is(err, store.ErrIndexConflict) {
			// Not an outage that passes: someone must fix the data.
			level = slog.LevelError
		}
		logger.Log(ctx, level, "ensuring MongoDB indexes; writes are refused until they exist; retrying", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// minLevel drops records below a level, whatever the wrapped handler's.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
