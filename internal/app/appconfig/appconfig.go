// Package appconfig loads the app's configuration from the environment, with
// command-line flags overriding it, and validates the whole of it at once so
// that a misconfigured deployment reports every problem in one start attempt.
package appconfig

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// Environments the app knows.
const (
	EnvProduction  = "production"
	EnvDevelopment = "development"
)

// MinSecretLen is the shortest JWT secret accepted outside development.
const MinSecretLen = 32

// Config is everything the app needs to start.
type Config struct {
	Port int
	// ListenAddr is the host (or host:port) to bind; empty binds every
	// interface, as before the setting existed.
	ListenAddr string
	// portGiven: PORT was set, which a port in ListenAddr would contradict.
	portGiven bool

	// MongoURI empty means an embedded FerretDB (SQLite) under DataDir,
	// listening on EmbeddedMongoAddr.
	MongoURI               string
	DataDir                string
	EmbeddedMongoAddr      string
	MongoDatabase          string
	MongoMaxPoolSize       uint64
	MongoTimeout           time.Duration
	ServerSelectionTimeout time.Duration
	SlowQueryThreshold     time.Duration

	// RedisURL empty means the in-process LRU cache and local rate limiter.
	RedisURL string

	JWTSecret        string
	JWTRefreshSecret string
	AccessTokenTTL   time.Duration
	RefreshTokenTTL  time.Duration
	BcryptCost       int
	// BcryptConcurrency bounds concurrent bcrypt work (0: GOMAXPROCS-1,
	// at least 1); a request waits BcryptWait for a slot, then gets 503.
	BcryptConcurrency int
	BcryptWait        time.Duration

	// Failed logins: LoginFailures per account (LoginClientFailures per
	// client) before attempts wait, doubling up to LoginLockoutMax.
	LoginFailures       int
	LoginClientFailures int
	LoginLockoutMax     time.Duration

	Env      string
	LogLevel slog.Level

	CacheTTL      time.Duration
	CacheSize     int
	RateLimitAuth int // requests per second per client IP on /api/auth/*
	RateLimitAPI  int // requests per second per client IP elsewhere
	// TrustProxies makes the rate limiter take the client address from
	// X-Forwarded-For when the peer is one of TrustedProxies (any peer
	// when that is empty).
	TrustProxies   bool
	TrustedProxies []netip.Prefix
	MaxBodyBytes   int64
	ShutdownGrace  time.Duration
	HealthDeadline time.Duration
}

// Addr is the address to listen on: ListenAddr, with Port unless it names
// its own.
func (c Config) Addr() string {
	if _, _, err := net.SplitHostPort(c.ListenAddr); err == nil {
		return c.ListenAddr
	}
	return net.JoinHostPort(strings.Trim(c.ListenAddr, "[]"), strconv.Itoa(c.Port))
}

// Development reports whether the app runs with development conveniences
// (generated JWT secrets).
func (c Config) Development() bool { return c.Env == EnvDevelopment }

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Port:                   8080,
		DataDir:                "./data/mongo",
		EmbeddedMongoAddr:      "127.0.0.1:27017",
		MongoMaxPoolSize:       10,
		MongoTimeout:           5 * time.Second,
		ServerSelectionTimeout: time.Second,
		SlowQueryThreshold:     time.Second,
		AccessTokenTTL:         15 * time.Minute,
		RefreshTokenTTL:        7 * 24 * time.Hour,
		BcryptCost:             12,
		BcryptWait:             2 * time.Second,
		LoginFailures:          5,
		LoginClientFailures:    20,
		LoginLockoutMax:        15 * time.Minute,
		Env:                    EnvProduction,
		LogLevel:               slog.LevelInfo,
		CacheTTL:               60 * time.Second,
		CacheSize:              10000,
		RateLimitAuth:          10,
		RateLimitAPI:           50,
		MaxBodyBytes:           1 << 20,
		ShutdownGrace:          15 * time.Second,
		HealthDeadline:         1500 * time.Millisecond,
	}
}

// setting binds one environment variable and its flag to a parser.
type setting struct {
	env, flag, usage string
	secret           bool
	parse            func(c *Config, v string) error
}

func settings() []setting {
	return []setting{
		{"PORT", "port", "HTTP listen port (0 picks a free one)", false, func(c *Config, v string) error {
			c.portGiven = true
			return intField(func(c *Config) *int { return &c.Port }, 0, 65535)(c, v)
		}},
		{"LISTEN_ADDR", "listen-addr", "address to bind: a host or IP (with PORT), or host:port; empty binds every interface", false, parseListenAddr},
		{"MONGODB_URI", "mongodb-uri", "MongoDB URI; empty runs an embedded FerretDB under DATA_DIR", true, func(c *Config, v string) error {
			if v != "" {
				if err := validateMongoURI(v); err != nil {
					return err
				}
			}
			c.MongoURI = v
			return nil
		}},
		{"DATA_DIR", "data-dir", "embedded FerretDB data directory", false, stringField(func(c *Config) *string { return &c.DataDir })},
		{"MONGODB_EMBEDDED_ADDR", "mongodb-embedded-addr", "listen address of the embedded FerretDB", false, stringField(func(c *Config) *string { return &c.EmbeddedMongoAddr })},
		{"MONGODB_DATABASE", "mongodb-database", "database name (default: the URI's, else vigil)", false, stringField(func(c *Config) *string { return &c.MongoDatabase })},
		{"MONGODB_MAX_POOL_SIZE", "mongodb-max-pool-size", "maximum MongoDB connections", false, func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n < 1 || n > 1000 {
				return errors.New("must be an integer between 1 and 1000")
			}
			c.MongoMaxPoolSize = n
			return nil
		}},
		{"MONGODB_TIMEOUT", "mongodb-timeout", "timeout of every MongoDB operation", false, durationField(func(c *Config) *time.Duration { return &c.MongoTimeout })},
		{"MONGODB_SERVER_SELECTION_TIMEOUT", "mongodb-server-selection-timeout", "how long an operation waits for a reachable server", false, durationField(func(c *Config) *time.Duration { return &c.ServerSelectionTimeout })},
		{"SLOW_QUERY_THRESHOLD", "slow-query-threshold", "MongoDB commands slower than this count as slow", false, durationField(func(c *Config) *time.Duration { return &c.SlowQueryThreshold })},
		{"REDIS_URL", "redis-url", "Redis URL; empty uses an in-process cache and limiter", true, func(c *Config, v string) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
					return errors.New("must be a redis:// or rediss:// URL")
				}
				// Every option the client will be built with, now: a typo
				// must stop the start with the other problems, not after
				// the database is up.
				if _, err := redis.ParseURL(v); err != nil {
					return redactErr(err, v)
				}
			}
			c.RedisURL = v
			return nil
		}},
		{"JWT_SECRET", "jwt-secret", "HMAC secret of access tokens (>= 32 bytes)", true, stringField(func(c *Config) *string { return &c.JWTSecret })},
		{"JWT_REFRESH_SECRET", "jwt-refresh-secret", "HMAC secret of refresh tokens (>= 32 bytes)", true, stringField(func(c *Config) *string { return &c.JWTRefreshSecret })},
		{"ACCESS_TOKEN_TTL", "access-token-ttl", "access token lifetime", false, durationField(func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
		{"REFRESH_TOKEN_TTL", "refresh-token-ttl", "refresh token lifetime", false, durationField(func(c *Config) *time.Duration { return &c.RefreshTokenTTL })},
		{"BCRYPT_COST", "bcrypt-cost", "bcrypt cost of password hashes (4-31)", false, intField(func(c *Config) *int { return &c.BcryptCost }, 4, 31)},
		{"BCRYPT_CONCURRENCY", "bcrypt-concurrency", "password hashes computed at once (0: one less than the CPUs, at least 1)", false, intField(func(c *Config) *int { return &c.BcryptConcurrency }, 0, 1024)},
		{"BCRYPT_QUEUE_TIMEOUT", "bcrypt-queue-timeout", "how long a login waits for a hashing slot before 503 busy", false, durationField(func(c *Config) *time.Duration { return &c.BcryptWait })},
		{"LOGIN_MAX_FAILURES", "login-max-failures", "failed logins of one account before attempts must wait", false, intField(func(c *Config) *int { return &c.LoginFailures }, 1, 1000)},
		{"LOGIN_MAX_CLIENT_FAILURES", "login-max-client-failures", "failed logins from one client (IP) before its attempts must wait", false, intField(func(c *Config) *int { return &c.LoginClientFailures }, 1, 100_000)},
		{"LOGIN_LOCKOUT_MAX", "login-lockout-max", "longest wait imposed after failed logins (starts at 1s, doubles per failure)", false, durationField(func(c *Config) *time.Duration { return &c.LoginLockoutMax })},
		{"APP_ENV", "env", "production or development", false, func(c *Config, v string) error {
			if v != EnvProduction && v != EnvDevelopment {
				return errors.New("must be production or development")
			}
			c.Env = v
			return nil
		}},
		{"LOG_LEVEL", "log-level", "debug, info, warn or error", false, func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return errors.New("must be debug, info, warn or error")
			}
			return nil
		}},
		{"CACHE_TTL", "cache-ttl", "lifetime of cached reads", false, durationField(func(c *Config) *time.Duration { return &c.CacheTTL })},
		{"CACHE_SIZE", "cache-size", "entries of the in-process cache", false, intField(func(c *Config) *int { return &c.CacheSize }, 1, 10_000_000)},
		{"RATE_LIMIT_AUTH", "rate-limit-auth", "requests per second per client IP on /api/auth/*", false, intField(func(c *Config) *int { return &c.RateLimitAuth }, 1, 1_000_000)},
		{"RATE_LIMIT_API", "rate-limit-api", "requests per second per client IP on the rest of the API", false, intField(func(c *Config) *int { return &c.RateLimitAPI }, 1, 1_000_000)},
		{"TRUSTED_PROXIES", "trusted-proxies", "comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed, or * for any peer", false, func(c *Config, v string) error {
			c.TrustProxies, c.TrustedProxies = true, nil
			if v == "*" {
				return nil
			}
			for _, f := range strings.Split(v, ",") {
				f = strings.TrimSpace(f)
				p, err := netip.ParsePrefix(f)
				if err != nil {
					a, aerr := netip.ParseAddr(f)
					if aerr != nil {
						return fmt.Errorf("%q is not an IP address or CIDR", f)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		}},
		{"SHUTDOWN_TIMEOUT", "shutdown-timeout", "how long in-flight requests may take to finish on shutdown", false, durationField(func(c *Config) *time.Duration { return &c.ShutdownGrace })},
	}
}

func parseListenAddr(c *Config, v string) error {
	host := v
	if h, port, err := net.SplitHostPort(v); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("port %q must be an integer between 0 and 65535", port)
		}
		host = h
	} else {
		host = strings.Trim(v, "[]")
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
			return fmt.Errorf("%q is neither an IP address nor a host name", host)
		}
	}
	c.ListenAddr = v
	return nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func stringField(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		*f(c) = v
		return nil
	}
}

func intField(f func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be an integer between %d and %d", lo, hi)
		}
		*f(c) = n
		return nil
	}
}

func durationField(f func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("must be a positive duration such as 5s or 500ms")
		}
		*f(c) = d
		return nil
	}
}

// Load reads the configuration from getenv, then from args (flags override
// the environment). Every invalid value is reported, each naming its
// variable; secret values are never echoed back.
func Load(args []string, getenv func(string) string) (Config, error) {
	c := Defaults()
	var problems []error
	set := settings()

	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flagVals := make(map[string]*string, len(set))
	for _, s := range set {
		flagVals[s.flag] = fs.String(s.flag, "", s.usage+" (env "+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("parsing flags: %w", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	for _, s := range set {
		name, v := s.env, getenv(s.env)
		if given[s.flag] {
			name, v = "-"+s.flag, *flagVals[s.flag]
		} else if v == "" {
			continue
		}
		if err := s.parse(&c, strings.TrimSpace(v)); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", name, err))
		}
	}
	problems = append(problems, c.validate()...)
	return c, errors.Join(problems...)
}

func (c Config) validate() []error {
	var problems []error
	if c.Development() {
		// Generated when unset; a short one given by hand is as weak in
		// development as anywhere, and development instances get exposed.
		if c.JWTSecret != "" && len(c.JWTSecret) < MinSecretLen {
			problems = append(problems, fmt.Errorf("JWT_SECRET: must be at least %d bytes, or unset to generate one", MinSecretLen))
		}
		if c.JWTRefreshSecret != "" && len(c.JWTRefreshSecret) < MinSecretLen {
			problems = append(problems, fmt.Errorf("JWT_REFRESH_SECRET: must be at least %d bytes, or unset to generate one", MinSecretLen))
		}
	} else {
		if len(c.JWTSecret) < MinSecretLen {
			problems = append(problems, fmt.Errorf("JWT_SECRET: must be set to at least %d bytes (or APP_ENV=development to generate one)", MinSecretLen))
		}
		if len(c.JWTRefreshSecret) < MinSecretLen {
			problems = append(problems, fmt.Errorf("JWT_REFRESH_SECRET: must be set to at least %d bytes (or APP_ENV=development to generate one)", MinSecretLen))
		}
		if c.JWTSecret != "" && c.JWTSecret == c.JWTRefreshSecret {
			problems = append(problems, errors.New("JWT_REFRESH_SECRET: must differ from JWT_SECRET"))
		}
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err == nil && c.portGiven {
		problems = append(problems, errors.New("LISTEN_ADDR: names a port and PORT is set too; give one of them"))
	}
	if c.ServerSelectionTimeout > c.MongoTimeout {
		problems = append(problems, errors.New("MONGODB_SERVER_SELECTION_TIMEOUT: must not exceed MONGODB_TIMEOUT"))
	}
	return problems
}

// Usage describes every setting, for -h.
func Usage(w io.Writer) {
	for _, s := range settings() {
		note := ""
		if s.secret {
			note = " (secret: never logged)"
		}
		fmt.Fprintf(w, "  -%s / %s\n\t%s%s\n", s.flag, s.env, s.usage, note)
	}
}

// validateMongoURI checks the URI and its options as the driver will. A
// mongodb+srv URI is checked without its DNS lookups (no network at
// configuration time): as the mongodb:// URI with the same options.
func validateMongoURI(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") {
		return errors.New("must be a mongodb:// or mongodb+srv:// URI")
	}
	check := v
	if u.Scheme == "mongodb+srv" {
		if u.Port() != "" {
			return errors.New("a mongodb+srv:// URI must not name a port")
		}
		check = "mongodb://" + strings.TrimPrefix(v, "mongodb+srv://")
	}
	if _, err := connstring.ParseAndValidate(check); err != nil {
		return redactErr(err, v)
	}
	return nil
}

// redactErr is err without the URI's password, which driver errors may
// quote.
func redactErr(err error, rawURI string) error {
	msg := err.Error()
	if ue, ok := errors.AsType[*url.Error](err); ok {
		msg = ue.Err.Error() // quotes the whole URI
	}
	if u, perr := url.Parse(rawURI); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return errors.New(msg)
}

// RedactURI strips the password from a URI for logs and errors.
func RedactURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URI>"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
