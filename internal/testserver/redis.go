package testserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RedisServer is a redis-server process owned by one test.
type RedisServer struct {
	Addr     string // 127.0.0.1:port
	Password string

	extra    []string // more redis.conf lines
	sentinel bool     // run as Redis Sentinel (redis-server --sentinel)

	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	proc *Process
}

// RedisOption configures Redis.
type RedisOption func(*RedisServer)

// WithPassword makes the server require a password (requirepass).
func WithPassword(pw string) RedisOption { return func(s *RedisServer) { s.Password = pw } }

// WithConfig adds redis.conf lines, e.g. "rename-command CONFIG x" or
// "cluster-enabled yes".
func WithConfig(lines ...string) RedisOption {
	return func(s *RedisServer) { s.extra = append(s.extra, lines...) }
}

// WithSentinel runs the server as a Redis Sentinel (redis-server
// --sentinel) monitoring master under name, with a quorum of 1 so that
// this one sentinel can reach it.
func WithSentinel(name string, master *RedisServer) RedisOption {
	return func(s *RedisServer) {
		s.sentinel = true
		host, port, _ := net.SplitHostPort(master.Addr)
		s.extra = append(s.extra, fmt.Sprintf("sentinel monitor %s %s %s 1", name, host, port))
		if master.Password != "" {
			s.extra = append(s.extra, fmt.Sprintf("sentinel auth-pass %s %s", name, master.Password))
		}
	}
}

// Redis starts redis-server on an ephemeral loopback port with its data in a
// temporary directory; it is stopped when the test ends.
func Redis(t testing.TB, opts ...RedisOption) *RedisServer {
	t.Helper()
	s := &RedisServer{
		t:    t,
		bin:  LookBinary(t, "redis-server", "redis-server"),
		dir:  t.TempDir(),
		port: FreePort(t),
	}
	for _, o := range opts {
		o(s)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the redis:// URL of the server, with its password if any.
func (s *RedisServer) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr, Path: "/0"}
	if s.Password != "" {
		u.User = url.UserPassword("", s.Password)
	}
	return u.String()
}

// Start starts (or restarts) the server on the same port and data directory.
func (s *RedisServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return
	}
	conf := []string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		"dir " + s.dir,
		"daemonize no",
		"protected-mode no",
		"loglevel warning",
		"logfile " + filepath.Join(s.dir, "redis.log"),
	}
	if !s.sentinel { // a sentinel keeps no data
		conf = append(conf, "save \"\"", "appendonly no")
	}
	if s.Password != "" {
		conf = append(conf, "requirepass "+s.Password)
	}
	conf = append(conf, s.extra...)
	confPath := filepath.Join(s.dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		s.t.Fatalf("writing redis config: %v", err)
	}
	args := []string{confPath}
	if s.sentinel { // it rewrites confPath with what it learns
		args = append(args, "--sentinel")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		proc, err := StartProcess(s.bin, args, nil, s.dir, filepath.Join(s.dir, "redis-server.out"))
		if err != nil {
			s.t.Fatal(err)
		}
		if err := s.waitPing(proc.Exited()); err != nil {
			proc.Kill()
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.proc = proc
		return
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	s.t.Fatalf("redis-server on %s did not start: %v\n%s", s.Addr, lastErr, log)
}

// Stop stops the server; Start brings it back on the same address.
func (s *RedisServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Stop(5 * time.Second)
	s.proc = nil
}

// waitPing waits for a PONG (or NOAUTH, which also proves it listens).
func (s *RedisServer) waitPing(exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited")
		default:
		}
		last = ping(s.Addr, s.Password)
		if last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return last
}

func ping(addr, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	r := bufio.NewReader(c)
	if password != "" {
		fmt.Fprintf(c, "AUTH %s\r\n", password)
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "+OK") {
			return fmt.Errorf("AUTH: %s", strings.TrimSpace(line))
		}
	}
	fmt.Fprintf(c, "PING\r\n")
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING: %s", strings.TrimSpace(line))
	}
	return nil
}
