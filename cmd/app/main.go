// Command app is the multi-tenant project tracker that Vigil watches: a
// JSON API on MongoDB (or an embedded FerretDB) and Redis (or an in-process
// cache), instrumented for Prometheus. Configuration comes from the
// environment, flags override it; see docs/app.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-sh/vigil/internal/app/appconfig"
	"github.com/vigil-sh/vigil/internal/redislog"
)

func main() {
	cfg, err := appconfig.Load(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "Usage: app [flags]; every flag has an environment variable:")
		appconfig.Usage(os.Stderr)
		return
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	redislog.Install(logger)
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger, nil); err != nil {
		logger.Error("app stopped", "err", err)
		os.Exit(1)
	}
}
