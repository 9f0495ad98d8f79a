package appconfig_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/app/appconfig"
)

var secret = strings.Repeat("s", 32)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(t *testing.T, c appconfig.Config)
		wantErr []string // substrings; each names a variable
	}{
		{
			name: "development defaults need no secrets",
			env:  map[string]string{"APP_ENV": "development"},
			check: func(t *testing.T, c appconfig.Config) {
				if c.Port != 8080 || c.MongoMaxPoolSize != 10 || c.MongoTimeout != 5*time.Second || c.CacheTTL != time.Minute ||
					c.RateLimitAuth != 10 || c.RateLimitAPI != 50 || c.SlowQueryThreshold != time.Second || c.DataDir != "./data/mongo" ||
					c.MongoURI != "" || c.RedisURL != "" || !c.Development() {
					t.Errorf("defaults = %+v", c)
				}
			},
		},
		{
			name: "environment",
			env: map[string]string{
				"PORT": "9000", "MONGODB_URI": "mongodb://u:p@db:27017/x", "REDIS_URL": "redis://:pw@cache:6379/0",
				"JWT_SECRET": secret, "JWT_REFRESH_SECRET": secret + "r", "MONGODB_MAX_POOL_SIZE": "25",
				"MONGODB_TIMEOUT": "3s", "CACHE_TTL": "30s", "RATE_LIMIT_AUTH": "5", "RATE_LIMIT_API": "100",
				"LOG_LEVEL": "debug", "SLOW_QUERY_THRESHOLD": "250ms", "DATA_DIR": "/var/lib/app",
			},
			check: func(t *testing.T, c appconfig.Config) {
				if c.Port != 9000 || c.MongoURI != "mongodb://u:p@db:27017/x" || c.RedisURL != "redis://:pw@cache:6379/0" ||
					c.MongoMaxPoolSize != 25 || c.MongoTimeout != 3*time.Second || c.CacheTTL != 30*time.Second ||
					c.RateLimitAuth != 5 || c.RateLimitAPI != 100 || c.LogLevel != slog.LevelDebug ||
					c.SlowQueryThreshold != 250*time.Millisecond || c.DataDir != "/var/lib/app" || c.Development() {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "flags override the environment",
			env:  map[string]string{"APP_ENV": "development", "PORT": "9000", "CACHE_TTL": "30s"},
			args: []string{"-port", "9100", "-cache-ttl=2m"},
			check: func(t *testing.T, c appconfig.Config) {
				if c.Port != 9100 || c.CacheTTL != 2*time.Minute {
					t.Errorf("port %d cache ttl %s", c.Port, c.CacheTTL)
				}
			},
		},
		{
			name: "trusted proxies",
			env:  map[string]string{"APP_ENV": "development", "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7,fd00::/8"},
			check: func(t *testing.T, c appconfig.Config) {
				got := fmt.Sprint(c.TrustedProxies)
				if !c.TrustProxies || got != "[10.0.0.0/8 192.168.1.7/32 fd00::/8]" {
					t.Errorf("trusted proxies = %v %s", c.TrustProxies, got)
				}
			},
		},
		{
			name: "any proxy",
			env:  map[string]string{"APP_ENV": "development", "TRUSTED_PROXIES": "*"},
			check: func(t *testing.T, c appconfig.Config) {
				if !c.TrustProxies || len(c.TrustedProxies) != 0 {
					t.Errorf("trusted proxies = %v %v", c.TrustProxies, c.TrustedProxies)
				}
			},
		},
		{
			name:    "bad proxy",
			env:     map[string]string{"APP_ENV": "development", "TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"},
			wantErr: []string{`TRUSTED_PROXIES: "proxy.local" is not an IP address or CIDR`},
		},
		{
			name:    "production refuses missing secrets",
			env:     map[string]string{},
			wantErr: []string{"JWT_SECRET", "JWT_REFRESH_SECRET"},
		},
		{
			name:    "short secret",
			env:     map[string]string{"JWT_SECRET": "short", "JWT_REFRESH_SECRET": secret},
			wantErr: []string{"JWT_SECRET: must be set to at least 32 bytes"},
		},
		{
			name: "every invalid value is reported by name",
			env: map[string]string{
				"APP_ENV": "staging", "PORT": "http", "MONGODB_MAX_POOL_SIZE": "0", "MONGODB_TIMEOUT": "soon",
				"CACHE_TTL": "-1s", "RATE_LIMIT_AUTH": "many", "LOG_LEVEL": "loud", "REDIS_URL": "http://x", "MONGODB_URI": "postgres://x",
			},
			wantErr: []string{"APP_ENV", "PORT", "MONGODB_MAX_POOL_SIZE", "MONGODB_TIMEOUT", "CACHE_TTL", "RATE_LIMIT_AUTH", "LOG_LEVEL", "REDIS_URL", "MONGODB_URI"},
		},
		{
			name: "listen address",
			env:  map[string]string{"APP_ENV": "development"},
			check: func(t *testing.T, c appconfig.Config) {
				if c.Addr() != ":8080" {
					t.Errorf("default Addr() = %q, want :8080 (every interface, as before)", c.Addr())
				}
			},
		},
		{
			name: "listen address: a host takes PORT",
			env:  map[string]string{"APP_ENV": "development", "LISTEN_ADDR": "::1", "PORT": "9000"},
			check: func(t *testing.T, c appconfig.Config) {
				if c.Addr() != "[::1]:9000" {
					t.Errorf("Addr() = %q", c.Addr())
				}
			},
		},
		{
			name: "listen address with its port, as a flag",
			env:  map[string]string{"APP_ENV": "development"},
			args: []string{"-listen-addr", "127.0.0.1:9001"},
			check: func(t *testing.T, c appconfig.Config) {
				if c.Addr() != "127.0.0.1:9001" {
					t.Errorf("Addr() = %q", c.Addr())
				}
			},
		},
		{
			name:    "bad listen addresses",
			env:     map[string]string{"APP_ENV": "development", "LISTEN_ADDR": "10.0.0.1:http"},
			wantErr: []string{`LISTEN_ADDR: port "http" must be an integer`},
		},
		{
			name:    "listen address not a host",
			env:     map[string]string{"APP_ENV": "development", "LISTEN_ADDR": "a b/c"},
			wantErr: []string{`LISTEN_ADDR: "a b/c" is neither an IP address nor a host name`},
		},
		{
			name:    "two ports",
			env:     map[string]string{"APP_ENV": "development", "LISTEN_ADDR": "127.0.0.1:9001", "PORT": "9000"},
			wantErr: []string{"LISTEN_ADDR: names a port and PORT is set too"},
		},
		{
			name:    "development refuses a short secret too",
			env:     map[string]string{"APP_ENV": "development", "JWT_SECRET": "dev", "JWT_REFRESH_SECRET": "devr"},
			wantErr: []string{"JWT_SECRET: must be at least 32 bytes", "JWT_REFRESH_SECRET: must be at least 32 bytes"},
		},
		{
			name: "URI options are checked before anything starts, with the other problems",
			env: map[string]string{
				"APP_ENV":     "development",
				"REDIS_URL":   "redis://:hunter2pw@cache:6379/0?dial_timeout=soon",
				"MONGODB_URI": "mongodb://u:hunter2pw@db:27017/x?maxPoolSize=many",
				"PORT":        "http",
			},
			wantErr: []string{`REDIS_URL: redis: invalid dial_timeout`, `MONGODB_URI: error parsing uri: invalid value for "maxPoolSize"`, "PORT"},
		},
		{
			name:    "unknown Redis option",
			env:     map[string]string{"APP_ENV": "development", "REDIS_URL": "redis://cache:6379/0?pool=3"},
			wantErr: []string{"REDIS_URL: redis: unexpected option: pool"},
		},
		{
			name:    "contradictory MongoDB options",
			env:     map[string]string{"APP_ENV": "development", "MONGODB_URI": "mongodb://a:27017,b:27017/?directConnection=true"},
			wantErr: []string{"MONGODB_URI: error validating uri: a direct connection cannot be made if multiple hosts are specified"},
		},
		{
			name:    "srv URI checked without DNS",
			env:     map[string]string{"APP_ENV": "development", "MONGODB_URI": "mongodb+srv://u:hunter2pw@cluster.example/?maxPoolSize=many"},
			wantErr: []string{"MONGODB_URI: error parsing uri"},
		},
		{
			name: "valid srv URI needs no DNS at configuration time",
			env:  map[string]string{"APP_ENV": "development", "MONGODB_URI": "mongodb+srv://u:pw@cluster.invalid/app?retryWrites=false"},
			check: func(t *testing.T, c appconfig.Config) {
				if c.MongoURI == "" {
					t.Error("URI not kept")
				}
			},
		},
		{
			name:    "invalid flag named as a flag",
			env:     map[string]string{"APP_ENV": "development"},
			args:    []string{"-port", "-1"},
			wantErr: []string{"-port"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := appconfig.Load(tc.args, env(tc.env))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			for _, v := range tc.env {
				if strings.Contains(v, "pw@") && strings.Contains(err.Error(), v) {
					t.Errorf("error echoes a secret-bearing value: %v", err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error echoes a password: %v", err)
			}
		})
	}
}

func TestRedactURI(t *testing.T) {
	for in, want := range map[string]string{
		"mongodb://user:hunter2@db:27017/app": "mongodb://user:xxxxx@db:27017/app",
		"redis://:hunter2@cache:6379/0":       "redis://:xxxxx@cache:6379/0",
		"mongodb://db:27017/":                 "mongodb://db:27017/",
	} {
		if got := appconfig.RedactURI(in); got != want || strings.Contains(got, "hunter2") {
			t.Errorf("RedactURI(%q) = %q, want %q", in, got, want)
		}
	}
}
