package store

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Embedded is a FerretDB (SQLite backend) run in-process when no
// MONGODB_URI is configured: the app then needs nothing installed, and its
// data persists under the data directory across restarts.
type Embedded struct {
	URI    string
	cancel context.CancelFunc
	done   chan error
}

// StartEmbedded starts FerretDB listening on addr with its data in dir and
// returns once it accepts connections.
func StartEmbedded(ctx context.Context, addr, dir string, logger *slog.Logger) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating embedded MongoDB data directory %s: %w", dir, err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("creating embedded FerretDB on %s (data %s): %w", addr, dir, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Embedded{cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- f.Run(runCtx) }()
	e.URI = f.MongoDBURI() // blocks until the listener is bound
	host := e.URI[len("mongodb://") : len(e.URI)-1]
	if err := waitTCP(ctx, host, 10*time.Second); err != nil {
		e.Stop()
		return nil, fmt.Errorf("starting embedded FerretDB on %s: %w", addr, err)
	}
	return e, nil
}

// Stop shuts FerretDB down and waits for it (bounded).
func (e *Embedded) Stop() {
	e.cancel()
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
	}
}

func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not accepting connections: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
