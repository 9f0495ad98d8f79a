package testserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// MongoServer is an embedded FerretDB v1 (SQLite backend) speaking the
// MongoDB wire protocol, owned by one test. It lacks what FerretDB lacks:
// replica sets, TTL indexes and most of serverStatus.
type MongoServer struct {
	URI  string // mongodb://127.0.0.1:port/
	Addr string

	t   testing.TB
	dir string

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Mongo starts an embedded FerretDB on an ephemeral loopback port with its
// data in a temporary directory; it is stopped when the test ends.
func Mongo(t testing.TB) *MongoServer {
	t.Helper()
	s := &MongoServer{t: t, dir: t.TempDir()}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	s.URI = "mongodb://" + s.Addr + "/"
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func runFerret(ctx context.Context, addr, dir string, logger *slog.Logger) (<-chan error, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating FerretDB data dir %s: %w", dir, err)
	}
	if logger == nil {
		// FerretDB logs every connection at info; tests want errors only.
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("creating FerretDB on %s: %w", addr, err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	if err := waitTCP(ctx, addr, 10*time.Second); err != nil {
		return nil, fmt.Errorf("starting FerretDB: %w", err)
	}
	return done, nil
}

// Start starts (or restarts) the server on the same port and data.
func (s *MongoServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		done, err := runFerret(ctx, s.Addr, s.dir, nil)
		if err != nil {
			cancel()
			lastErr = err
			time.Sleep(200 * time.Millisecond)
			continue
		}
		s.cancel = cancel
		s.done = make(chan struct{})
		go func(d chan struct{}) { <-done; close(d) }(s.done)
		return
	}
	s.t.Fatalf("FerretDB on %s did not start: %v", s.Addr, lastErr)
}

// Stop closes the listener and every connection; Start brings it back.
func (s *MongoServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("FerretDB on %s did not stop within 10s", s.Addr)
	}
	s.cancel = nil
}
