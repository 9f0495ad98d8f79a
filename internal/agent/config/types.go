// Package config defines the agent's YAML configuration: the targets it
// probes, the endpoints it scrapes, the rule files it evaluates and the
// Alertmanagers it notifies. Parsing and validation live beside the types so
// that `agent --check-config` and a reload share one code path.
package config

import (
	"regexp"

	"github.com/prometheus/common/model"
)

// Config is the whole agent configuration file.
type Config struct {
	Global        Global         `yaml:"global"`
	Targets       []Target       `yaml:"targets"`
	ScrapeConfigs []ScrapeConfig `yaml:"scrape_configs"`
	// RuleFiles are globs of Prometheus rule files, evaluated in addition
	// to the embedded defaults unless DisableDefaultRules is set.
	RuleFiles           []string `yaml:"rule_files"`
	DisableDefaultRules bool     `yaml:"disable_default_rules"`
	Alerting            Alerting `yaml:"alerting"`
	Storage             Storage  `yaml:"storage"`

	RemoteWrite []*RemoteWriteConfig `yaml:"remote_write"` // remotewrite.go
}

// Global holds defaults for every target and scrape, and rule evaluation settings.
type Global struct {
	Interval           Duration          `yaml:"interval"`            // default 15s
	Timeout            Duration          `yaml:"timeout"`             // default 5s, must be < interval
	EvaluationInterval Duration          `yaml:"evaluation_interval"` // default 15s
	ExternalLabels     map[string]string `yaml:"external_labels"`
	// Jobs overrides the default job of each kind (DefaultJobs), e.g.
	// {redis: redis-prod}; a target's own job wins.
	Jobs map[Kind]string `yaml:"jobs"`
	// ExternalURL is the agent's own URL, used in alerts' generatorURL.
	ExternalURL string `yaml:"external_url"`
}

// Kind names a probe kind.
type Kind string

const (
	KindMongoDB Kind = "mongodb"
	KindRedis   Kind = "redis"
	KindHTTP    Kind = "http"
	KindTCP     Kind = "tcp"
	KindHost    Kind = "host"
	KindDNS     Kind = "dns"
	KindICMP    Kind = "icmp"
)

// Target is one probed thing. Exactly the block matching Kind is set.
//
// Its series carry job and instance as if Prometheus had scraped the
// exporter it replaces, so community dashboards and mixins select them
// unchanged; its Name labels only the agent's own vigil_* series.
type Target struct {
	Name string `yaml:"name"` // the `target` label of vigil_* series; unique
	Kind Kind   `yaml:"kind"`
	// Job defaults to global.jobs[kind], else DefaultJobs[kind].
	Job string `yaml:"job"`
	// Instance defaults to the monitored endpoint without credentials
	// (DefaultInstance).
	Instance string `yaml:"instance"`
	// Labels are added to every series of the target (e.g. env, service).
	Labels   map[string]string `yaml:"labels"`
	Interval Duration          `yaml:"interval"` // 0 = global
	Timeout  Duration          `yaml:"timeout"`  // 0 = global

	MongoDB *MongoDBTarget `yaml:"mongodb,omitempty"`
	Redis   *RedisTarget   `yaml:"redis,omitempty"`
	HTTP    *HTTPTarget    `yaml:"http,omitempty"`
	TCP     *TCPTarget     `yaml:"tcp,omitempty"`
	Host    *HostTarget    `yaml:"host,omitempty"`
	DNS     *DNSTarget     `yaml:"dns,omitempty"`
	ICMP    *ICMPTarget    `yaml:"icmp,omitempty"`
}

// MongoDBTarget probes a MongoDB (or wire-compatible) server.
type MongoDBTarget struct {
	URI string `yaml:"uri"` // may carry credentials: never logged unredacted
	// URIFile reads the URI from a file instead (Kubernetes secrets).
	URIFile string       `yaml:"uri_file"`
	Stats   MongoDBStats `yaml:"stats"` // per-database and per-collection statistics (mongodb.go)
}

// RedisTarget probes a Redis server.
type RedisTarget struct {
	Address      string    `yaml:"address"` // host:port, or redis:// / rediss:// URL
	Username     string    `yaml:"username"`
	Password     string    `yaml:"password"`
	PasswordFile string    `yaml:"password_file"`
	TLS          TLSConfig `yaml:"tls"`
	DB           int       `yaml:"db"`
	// ConfigCommand is CONFIG's name where rename-command changed it, as
	// redis_exporter's -config-command; "-" sends no CONFIG GET at all.
	ConfigCommand string `yaml:"config_command"`
}

// HTTPTarget probes an HTTP endpoint, as blackbox_exporter's http module.
type HTTPTarget struct {
	URL                  string            `yaml:"url"`
	Method               string            `yaml:"method"` // default GET
	Headers              map[string]string `yaml:"headers"`
	Body                 string            `yaml:"body"`
	ValidStatusCodes     []int             `yaml:"valid_status_codes"` // default 2xx
	FailIfBodyMatches    []Regexp          `yaml:"fail_if_body_matches_regexp"`
	FailIfBodyNotMatches []Regexp          `yaml:"fail_if_body_not_matches_regexp"`
	TLS                  TLSConfig         `yaml:"tls"`
	NoFollowRedirects    bool              `yaml:"no_follow_redirects"`
	IPProtocol           string            `yaml:"ip_protocol"` // "", ip4, ip6
	BearerTokenFile      string            `yaml:"bearer_token_file"`
	// The rest as blackbox_exporter's http module (v0.27.0).
	BearerToken            string        `yaml:"bearer_token"`
	BasicAuth              *BasicAuth    `yaml:"basic_auth,omitempty"`
	ProxyURL               string        `yaml:"proxy_url"`
	FailIfSSL              bool          `yaml:"fail_if_ssl"`
	FailIfNotSSL           bool          `yaml:"fail_if_not_ssl"`
	FailIfHeaderMatches    []HeaderMatch `yaml:"fail_if_header_matches"`
	FailIfHeaderNotMatches []HeaderMatch `yaml:"fail_if_header_not_matches"`
	ValidHTTPVersions      []string      `yaml:"valid_http_versions"` // HTTP/1.0, HTTP/1.1, HTTP/2.0
	Compression            string        `yaml:"compression"`         // identity, gzip, deflate, br
}

// BasicAuth is an http target's HTTP basic authentication.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// HeaderMatch checks a response header against a regexp.
type HeaderMatch struct {
	Header       string `yaml:"header"`
	Regexp       Regexp `yaml:"regexp"`
	AllowMissing bool   `yaml:"allow_missing"`
}

// TCPTarget probes a TCP port, optionally completing a TLS handshake.
type TCPTarget struct {
	Address    string    `yaml:"address"`
	TLS        bool      `yaml:"tls"`
	TLSConfig  TLSConfig `yaml:"tls_config"`
	IPProtocol string    `yaml:"ip_protocol"`
	// QueryResponse is blackbox_exporter's line dialogue, run in order
	// after connecting.
	QueryResponse []QueryResponse `yaml:"query_response"`
}

// QueryResponse is one step of a tcp target's dialogue: wait for a line
// matching expect (if set), then send a line (expanded with expect's
// groups, as ${1}), then upgrade to TLS if starttls.
type QueryResponse struct {
	Expect   Regexp        `yaml:"expect"`
	Labels   []ExpectLabel `yaml:"labels"`
	Send     string        `yaml:"send"`
	StartTLS bool          `yaml:"starttls"`
}

// ExpectLabel is a label of probe_expect_info; value is expanded with the
// expect regexp's groups of the matched line.
type ExpectLabel struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// HostTarget reports memory, filesystems and (in a cgroup v2 container) the
// container's memory, as node_exporter and cAdvisor do.
type HostTarget struct {
	// Regexps; empty means node_exporter's defaults.
	MountPointsExclude *Regexp `yaml:"mount_points_exclude"`
	FSTypesExclude     *Regexp `yaml:"fs_types_exclude"`
	// RootFS is prefixed to /proc and /sys paths (tests, host mounts).
	ProcPath     string `yaml:"proc_path"`      // default /proc
	SysPath      string `yaml:"sys_path"`       // default /sys
	RootFSPath   string `yaml:"rootfs_path"`    // default /: where os-release is read
	CgroupPath   string `yaml:"cgroup_path"`    // default /sys/fs/cgroup
	UdevDataPath string `yaml:"udev_data_path"` // default <rootfs_path>/run/udev/data
	// FilesystemTimeout bounds one statfs; a hung mount is reported as a device error.
	FilesystemTimeout Duration `yaml:"filesystem_timeout"` // default 1s
	// DisableCollectors turns off node_exporter collectors by name (HostCollectors).
	DisableCollectors []string `yaml:"disable_collectors"`
}

// HostCollectors are the node_exporter collectors a host target runs,
// in the order it runs them; each can be named in disable_collectors.
var HostCollectors = []string{"conntrack", "cpu", "diskstats", "entropy", "filefd", "filesystem", "hwmon", "loadavg", "meminfo", "netdev", "netstat", "os", "pressure", "schedstat", "sockstat", "softnet", "stat", "thermal_zone", "time", "timex", "uname", "vmstat"}

// TLSConfig is the client TLS configuration of a target.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Alerting lists the Alertmanagers that receive every alert.
type Alerting struct {
	Alertmanagers []AlertmanagerConfig `yaml:"alertmanagers"`
	// ResendDelay is the minimum delay between re-sends of a firing alert (default 1m).
	ResendDelay Duration `yaml:"resend_delay"`

	AlertRelabelConfigs AlertRelabelConfigs `yaml:"alert_relabel_configs"` // alertrelabel.go
}

// AlertmanagerConfig is one Alertmanager's base URL, e.g. http://localhost:9093.
type AlertmanagerConfig struct {
	URL      string   `yaml:"url"`
	Timeout  Duration `yaml:"timeout"` // default 10s
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
}

// Storage configures the local TSDB.
type Storage struct {
	Path      string   `yaml:"path"`      // default data/agent
	Retention Duration `yaml:"retention"` // default 2h
}

// Duration is a Prometheus-style duration ("15s", "1m", "2h") in YAML.
type Duration = model.Duration

// Regexp is a regular expression in YAML; it is compiled when the config is
// parsed so an invalid one is rejected with its field path and line.
type Regexp struct {
	*regexp.Regexp
}
