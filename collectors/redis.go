package collectors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func init() { register(config.KindRedis, newRedis) }

const (
	redisPoolSize = 2

	helpRedisUp   = "1 if the Redis server answered PING."
	helpRedisPing = "Round trip of the PING of the last probe, in seconds."
)

// redisProber keeps one small go-redis pool per target for the life of the
// target: reconnecting on every probe (as redis_exporter does) costs a TCP
// and TLS handshake and AUTH per scrape and hides pool problems.
type redisProber struct {
	name    string
	addr    string // redacted, for errors and logs
	timeout time.Duration
	logger  *slog.Logger
	opts    *redis.Options
	// configCmd is CONFIG's name on the server; "" sends no CONFIG GET.
	configCmd string

	mu     sync.Mutex
	client *redis.Client
	closed bool
}

func newRedis(t config.Target, logger *slog.Logger) (Prober, error) {
	if t.Redis == nil {
		return nil, fmt.Errorf("target %q: missing redis block", t.Name)
	}
	timeout := time.Duration(t.Timeout)
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	opts, addr, err := redisOptions(t.Redis)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	opts.PoolSize = redisPoolSize
	opts.MaxIdleConns = redisPoolSize
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.PoolTimeout = timeout
	// The probe's context bounds every command, whatever the target does.
	opts.ContextTimeoutEnabled = true
	// One retry covers a pooled connection the server closed while idle;
	// more would only delay reporting a dead server.
	opts.MaxRetries = 1
	opts.MinRetryBackoff = time.Millisecond
	opts.MaxRetryBackoff = 10 * time.Millisecond
	opts.DialerRetries = 1
	opts.DisableIdentity = true
	opts.ClientName = "vigil-agent"
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	configCmd := t.Redis.ConfigCommand
	switch configCmd {
	case "":
		configCmd = "CONFIG"
	case "-":
		configCmd = ""
	}
	return &redisProber{name: t.Name, addr: addr, timeout: timeout, logger: logger, opts: opts, configCmd: configCmd}, nil
}

// redisOptions turns the target's configuration into go-redis options. The
// returned address is safe to log.
func redisOptions(c *config.RedisTarget) (*redis.Options, string, error) {
	var opts *redis.Options
	addr := c.Address
	switch {
	case strings.HasPrefix(c.Address, "redis://"), strings.HasPrefix(c.Address, "rediss://"):
		u, err := url.Parse(c.Address)
		if err != nil {
			// url.Error repeats the whole URL, password included.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, "", fmt.Errorf("parsing redis address: %w", err)
		}
		addr = u.Redacted()
		if opts, err = redis.ParseURL(c.Address); err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, "", fmt.Errorf("parsing redis address %s: %w", addr, err)
		}
	case c.Address == "":
		return nil, "", errors.New("redis address is empty")
	default:
		opts = &redis.Options{Addr: c.Address}
	}
	if c.Username != "" {
		opts.Username = c.Username
	}
	if c.Password != "" {
		opts.Password = c.Password
	}
	if c.PasswordFile != "" {
		// Read on every new connection, so a rotated secret is picked up
		// without restarting the agent.
		path, user := c.PasswordFile, opts.Username
		if _, err := readPasswordFile(path); err != nil {
			return nil, "", err
		}
		opts.Password = ""
		opts.CredentialsProviderContext = func(context.Context) (string, string, error) {
			pw, err := readPasswordFile(path)
			return user, pw, err
		}
	}
	if c.DB != 0 {
		opts.DB = c.DB
	}
	// Any TLS setting turns TLS on: a ca_file given but silently unused
	// would send the password in clear text.
	if c.TLS.Enabled || c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.ServerName != "" || c.TLS.InsecureSkipVerify {
		tc, err := redisTLSConfig(c.TLS, opts.TLSConfig)
		if err != nil {
			return nil, "", err
		}
		opts.TLSConfig = tc
	}
	if opts.TLSConfig != nil && opts.TLSConfig.ServerName == "" && !opts.TLSConfig.InsecureSkipVerify {
		if host, _, err := net.SplitHostPort(opts.Addr); err == nil {
			opts.TLSConfig.ServerName = host
		}
	}
	return opts, addr, nil
}

func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading redis password_file %s: %w", path, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// redisTLSConfig builds the client TLS configuration; base is what a
// rediss:// URL already set up.
func redisTLSConfig(c config.TLSConfig, base *tls.Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		tc = base.Clone()
		if tc.MinVersion == 0 {
			tc.MinVersion = tls.VersionTLS12
		}
	}
	if c.ServerName != "" {
		tc.ServerName = c.ServerName
	}
	tc.InsecureSkipVerify = tc.InsecureSkipVerify || c.InsecureSkipVerify
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading tls ca_file %s: %w", c.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no PEM certificates found", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading tls cert_file %s / key_file %s: %w", c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// conn returns the target's pool, creating it on first use. go-redis dials
// lazily, so creating it does no I/O.
func (p *redisProber) conn() (*redis.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("redis %s: prober closed", p.addr)
	}
	if p.client == nil {
		p.client = redis.NewClient(p.opts)
	}
	return p.client, nil
}

// reset drops the pool c if it is still the current one.
func (p *redisProber) reset(c *redis.Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == c {
		p.client = nil
		_ = c.Close()
	}
}

func (p *redisProber) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.client == nil {
		return nil
	}
	err := p.client.Close()
	p.client = nil
	if err != nil {
		return fmt.Errorf("closing redis %s: %w", p.addr, err)
	}
	return nil
}

func (p *redisProber) Probe(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	s := newSink()
	res := p.probe(ctx, s)
	s.gauge("redis_up", helpRedisUp, boolToFloat(res.Success))
	return finishProbe(s, start, res.Reason, res.Err, p.logger)
}

func (p *redisProber) probe(ctx context.Context, s *sink) Result {
	c, err := p.conn()
	if err != nil {
		return Result{Reason: ReasonConfig, Err: err}
	}
	pingStart := time.Now()
	if err := c.Ping(ctx).Err(); err != nil {
		// After PoolSize failed dials go-redis stops dialing and replays the
		// last error until a background redial (once a second) succeeds: a
		// probe would then neither test the server nor see it come back
		// promptly. A fresh pool after a failure keeps every probe honest;
		// healthy targets keep theirs.
		p.reset(c)
		return Result{Reason: redisReason(err), Err: fmt.Errorf("redis %s: PING: %w", p.addr, err)}
	}
	s.gauge("redis_exporter_last_scrape_ping_time_seconds", helpRedisPing, time.Since(pingStart).Seconds())

	// Everything else in one pipelined round trip: CONFIG GET, INFO ALL,
	// LATENCY HISTOGRAM and LATEST, SLOWLOG LEN and GET. Each command may be
	// refused on its own (ACL, rename-command): the server is up, we then
	// know less about it.
	var (
		configs []*redis.MapStringStringCmd
		info    *redis.StringCmd
		slowLen *redis.IntCmd
		slowGet *redis.SlowLogCmd
		hist    *redis.Cmd
		latest  *redis.Cmd
	)
	_, _ = c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		if p.configCmd != "" {
			for _, k := range redisConfigKeys {
				cmd := redis.NewMapStringStringCmd(ctx, p.configCmd, "GET", k)
				_ = pipe.Process(ctx, cmd)
				configs = append(configs, cmd)
			}
		}
		info = pipe.Info(ctx, "all")
		slowLen = pipe.SlowLogLen(ctx)
		slowGet = pipe.SlowLogGet(ctx, 1)
		hist = pipe.Do(ctx, "LATENCY", "HISTOGRAM")
		latest = pipe.Do(ctx, "LATENCY", "LATEST")
		return nil
	})
	if err := info.Err(); err != nil && !isRedisReply(err) {
		return Result{Reason: redisReason(err), Err: fmt.Errorf("redis %s: INFO: %w", p.addr, err)}
	}
	// The probe's result is settled: from here on a refused command only
	// costs its series.
	refused := func(cmd string, err error) {
		p.logger.Debug("redis command refused, its metrics are left out", "cmd", cmd, "err", err)
	}

	cfg := map[string]string{}
	for i, cmd := range configs {
		v, err := cmd.Result()
		if err != nil {
			refused(p.configCmd+" GET "+redisConfigKeys[i], err)
			continue
		}
		maps.Copy(cfg, v)
	}
	dbCount := parseRedisConfig(cfg, s)

	if text, err := info.Result(); err != nil {
		refused("INFO ALL", err)
	} else {
		if strings.Contains(text, "cluster_enabled:1") {
			dbCount = 1 // a cluster node has only db0
			// A second round trip, on cluster nodes only: elsewhere CLUSTER
			// INFO is an error reply, which the server would count in the
			// error statistics its users alert on.
			if ci, err := c.ClusterInfo(ctx).Result(); err != nil {
				if !isRedisReply(err) {
					return Result{Reason: redisReason(err), Err: fmt.Errorf("redis %s: CLUSTER INFO: %w", p.addr, err)}
				}
				refused("CLUSTER INFO", err)
			} else {
				parseRedisClusterInfo(ci, s)
			}
		} else if dbCount == 0 {
			dbCount = 16 // Redis's default, as redis_exporter assumes
		}
		_, cmds := parseRedisInfo(text, dbCount, time.Now(), s)
		if v, err := hist.Result(); err != nil {
			refused("LATENCY HISTOGRAM", err)
		} else {
			parseRedisLatencyHistogram(v, cmds, s)
		}
		// As CLUSTER INFO, SENTINEL only where INFO shows a sentinel:
		// elsewhere it is an error reply the server counts.
		if strings.Contains(text, "# Sentinel") {
			if err := p.probeSentinel(ctx, c, s, refused); err != nil {
				return Result{Reason: redisReason(err), Err: fmt.Errorf("redis %s: %w", p.addr, err)}
			}
		}
	}

	if v, err := latest.Result(); err != nil {
		refused("LATENCY LATEST", err)
	} else {
		parseRedisLatencyLatest(v, s)
	}
	if n, err := slowLen.Result(); err != nil {
		refused("SLOWLOG LEN", err)
	} else {
		s.gauge("redis_slowlog_length", "Number of entries in the slow log.", float64(n))
	}
	if entries, err := slowGet.Result(); err != nil {
		refused("SLOWLOG GET", err)
	} else {
		var id, dur float64
		if len(entries) > 0 {
			id, dur = float64(entries[0].ID), entries[0].Duration.Seconds()
		}
		s.gauge("redis_slowlog_last_id", "ID of the newest slow log entry; 0 if none.", id)
		s.gauge("redis_last_slow_execution_duration_seconds", "Duration of the newest slow log entry, in seconds; 0 if none.", dur)
	}
	return Result{Success: true}
}

// isRedisReply reports whether err is the server's error reply rather than
// a failure to talk to it.
func isRedisReply(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// redisReason classifies a go-redis error: server replies first, then the
// network errors classify knows.
func redisReason(err error) string {
	switch {
	case redis.IsAuthError(err),
		redis.HasErrorPrefix(err, "WRONGPASS"), redis.HasErrorPrefix(err, "NOAUTH"),
		redis.HasErrorPrefix(err, "AUTH"), redis.HasErrorPrefix(err, "NOPERM"):
		return ReasonAuth
	case errors.Is(err, redis.ErrPoolTimeout):
		return ReasonTimeout
	}
	if r := classify(err); r != ReasonOther {
		return r
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return ReasonConnect
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return ReasonProtocol
	}
	return ReasonOther
}
