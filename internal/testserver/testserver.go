// Package testserver starts the real servers the tests talk to — Redis,
// a MongoDB-wire server (embedded FerretDB), Prometheus and Alertmanager — on
// ephemeral loopback ports in temporary directories, and stops them when the
// test ends. A missing server binary fails the test with the command that
// installs it: a test that silently skips proves nothing.
package testserver

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// FreePort returns a loopback port that was free a moment ago. Servers that
// cannot listen on :0 and report their port need one picked for them.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LookBinary fails the test with the install command when a server binary
// is not on PATH.
func LookBinary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH: install it with `apt-get install -y %s` (or run `make test`, which does)", name, debianPackage)
	}
	return p
}

// waitTCP waits until addr accepts connections or the timeout passes.
func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not accepting connections after %s: %w", addr, timeout, last)
}
