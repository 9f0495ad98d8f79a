package config

import (
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Defaults applied to fields left unset.
const (
	DefaultInterval           = Duration(15 * time.Second)
	DefaultTimeout            = Duration(5 * time.Second)
	DefaultEvaluationInterval = Duration(15 * time.Second)
	DefaultResendDelay        = Duration(time.Minute)
	DefaultAlertmanagerTimout = Duration(10 * time.Second)
	DefaultStoragePath        = "data/agent"
	DefaultRetention          = Duration(2 * time.Hour)
	DefaultFilesystemTimeout  = Duration(time.Second)
	DefaultHTTPMethod         = "GET"

	// node_exporter's default filesystem exclusions
	// (collector/filesystem_linux.go), used when a host target sets none.
	DefaultMountPointsExclude = `^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`
	DefaultFSTypesExclude     = `^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$`

	// DefaultAppURL is the base URL of the app the agent watches when it runs
	// without a configuration file; VIGIL_APP_URL overrides it.
	DefaultAppURL = "http://localhost:8080"
	// AppURLEnv names the environment variable overriding DefaultAppURL.
	AppURLEnv = "VIGIL_APP_URL"
	// SelfJobName is the job the agent scrapes its own /metrics under.
	SelfJobName = "agent"
)

// Default is the configuration the agent runs without a file: the local host,
// the app's health endpoint as HTTP target "app", the app's metrics scraped as
// job "app", and the embedded default rules. appURL is the app's base URL;
// empty means $VIGIL_APP_URL or DefaultAppURL.
func Default(appURL string) *Config {
	if appURL == "" {
		appURL = os.Getenv(AppURLEnv)
	}
	if appURL == "" {
		appURL = DefaultAppURL
	}
	appURL = strings.TrimRight(appURL, "/")
	c := &Config{
		Targets: []Target{
			{Name: "host", Kind: KindHost, Host: &HostTarget{}},
			{Name: "app", Kind: KindHTTP, HTTP: &HTTPTarget{URL: appURL + "/api/health"}},
		},
	}
	// A bad VIGIL_APP_URL leaves the scrape out; LoadDefault reports it
	// with the health target's URL.
	if sc, err := StaticScrapeConfig("app", []string{appURL + "/api/metrics"}, nil); err == nil {
		c.ScrapeConfigs = []ScrapeConfig{sc}
	}
	c.applyDefaults()
	return c
}

// LoadDefault validates Default(appURL): a bad VIGIL_APP_URL is reported as
// any configuration error is.
func LoadDefault(appURL string) (*Config, error) {
	c := Default(appURL)
	rep := &report{lines: map[string]int{}, bad: map[string]bool{}}
	(&validator{rep}).validate(c)
	if len(rep.problems) > 0 {
		return nil, rep.sorted()
	}
	return c, nil
}

func orDuration(d *Duration, def Duration) {
	if *d == 0 {
		*d = def
	}
}

// applyDefaults fills every unset field that has a default, so consumers
// (the scheduler, the probers, the alerting engine) read effective values and
// a reload compares effective target configurations.
func (c *Config) applyDefaults() {
	g := &c.Global
	orDuration(&g.Interval, DefaultInterval)
	if g.Timeout == 0 {
		// Clamped below a short interval, as Prometheus clamps
		// scrape_timeout to scrape_interval: `interval: 5s` alone must not be
		// rejected for a timeout the user never wrote.
		g.Timeout = DefaultTimeout
		if g.Interval > 0 && g.Timeout >= g.Interval {
			g.Timeout = g.Interval * 4 / 5
		}
	}
	orDuration(&g.EvaluationInterval, DefaultEvaluationInterval)
	for i := range c.Targets {
		t := &c.Targets[i]
		orDuration(&t.Interval, g.Interval)
		orDuration(&t.Timeout, g.Timeout)
		if t.Kind == KindHost && t.Host == nil && t.MongoDB == nil && t.Redis == nil && t.HTTP == nil && t.TCP == nil {
			t.Host = &HostTarget{} // everything in a host block has a default
		}
		if h := t.HTTP; h != nil && t.Kind == KindHTTP && h.Method == "" {
			h.Method = DefaultHTTPMethod
		}
		if h := t.Host; h != nil && t.Kind == KindHost {
			if h.ProcPath == "" {
				h.ProcPath = "/proc"
			}
			if h.SysPath == "" {
				h.SysPath = "/sys"
			}
			if h.CgroupPath == "" {
				h.CgroupPath = "/sys/fs/cgroup"
			}
			orDuration(&h.FilesystemTimeout, DefaultFilesystemTimeout)
		}
	}
	for i := range c.ScrapeConfigs {
		// As Prometheus: the interval, then a timeout no longer than it.
		s := &c.ScrapeConfigs[i]
		orDuration(&s.ScrapeInterval, g.Interval)
		if s.ScrapeTimeout == 0 {
			s.ScrapeTimeout = min(g.Timeout, s.ScrapeInterval)
		}
	}
	orDuration(&c.Alerting.ResendDelay, DefaultResendDelay)
	for i := range c.Alerting.Alertmanagers {
		orDuration(&c.Alerting.Alertmanagers[i].Timeout, DefaultAlertmanagerTimout)
	}
	if c.Storage.Path == "" {
		c.Storage.Path = DefaultStoragePath
	}
	orDuration(&c.Storage.Retention, DefaultRetention)
	c.applyIdentity()
}

// durationString prints a Duration as it is written in the file.
func durationString(d Duration) string { return model.Duration(d).String() }
