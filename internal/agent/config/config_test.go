package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/file"
	"gopkg.in/yaml.v3"
)

func TestParseErrors(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		yaml string
		want []string // each must appear in the error, in this order
	}{
		{
			name: "bad url",
			yaml: "targets:\n- name: a\n  kind: http\n  http:\n    url: 'ht!tp://'\n",
			want: []string{`targets[0].http.url (line 5): parse "ht!tp://"`},
		},
		{
			name: "timeout not below interval",
			yaml: "targets:\n- name: a\n  kind: tcp\n  interval: 15s\n  timeout: 20s\n  tcp: {address: 'localhost:1'}\n",
			want: []string{"targets[0].timeout (line 5): 20s must be less than interval 15s"},
		},
		{
			name: "interval below defaulted timeout",
			yaml: "targets:\n- name: a\n  kind: tcp\n  interval: 2s\n  tcp: {address: 'localhost:1'}\n",
			want: []string{"targets[0].interval (line 4): 2s must be greater than timeout 5s"},
		},
		{
			name: "global timeout",
			yaml: "global:\n  interval: 10s\n  timeout: 10s\n",
			want: []string{"global.timeout (line 3): 10s must be less than interval 10s"},
		},
		{
			name: "unknown field",
			yaml: "targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n\n    foo: 1\n",
			want: []string{"targets[0].http.foo (line 7): field foo not found in type config.HTTPTarget"},
		},
		{
			name: "unknown top-level field",
			yaml: "tragets: []\n",
			want: []string{"tragets (line 1): field tragets not found in type config.Config"},
		},
		{
			name: "bad duration",
			yaml: "global:\n  evaluation_interval: 5 minutes\n",
			want: []string{`global.evaluation_interval (line 2): unknown unit " minutes" in duration "5 minutes"`},
		},
		{
			name: "bad regexp",
			yaml: "targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n    fail_if_body_not_matches_regexp: ['ok', '[z-a]']\n",
			want: []string{"targets[0].http.fail_if_body_not_matches_regexp[1] (line 6): invalid regexp"},
		},
		{
			name: "bad host regexp",
			yaml: "targets:\n- name: h\n  kind: host\n  host:\n    fs_types_exclude: '(('\n",
			want: []string{"targets[0].host.fs_types_exclude (line 5): invalid regexp"},
		},
		{
			name: "unknown host collector",
			yaml: "targets:\n- name: h\n  kind: host\n  host:\n    disable_collectors:\n    - cpu\n    - cpus\n",
			want: []string{`targets[0].host.disable_collectors[1] (line 7): unknown collector "cpus": want one of`},
		},
		{
			name: "duplicate names",
			yaml: "targets:\n- name: a\n  kind: host\n- name: a\n  kind: host\n",
			want: []string{`targets[1].name (line 4): duplicate target name "a" (also targets[0])`},
		},
		{
			name: "bad name",
			yaml: "targets:\n- name: 'a b{}'\n  kind: host\n",
			want: []string{`targets[0].name (line 2): "a b{}": must match`},
		},
		{
			name: "missing name and kind",
			yaml: "targets:\n- interval: 30s\n",
			want: []string{"targets[0].name (line 2): missing name", "targets[0].kind (line 2): missing kind"},
		},
		{
			name: "unknown kind",
			yaml: "targets:\n- name: a\n  kind: ftp\n",
			want: []string{`targets[0].kind (line 3): unknown kind "ftp"`},
		},
		{
			name: "missing kind block",
			yaml: "targets:\n- name: a\n  kind: redis\n",
			want: []string{"targets[0] (line 2): kind is redis but the redis block is missing"},
		},
		{
			name: "wrong kind block",
			yaml: "targets:\n- name: a\n  kind: tcp\n  tcp: {address: 'h:1'}\n  http: {url: 'http://x'}\n",
			want: []string{`targets[0].http (line 5): http block set but kind is "tcp"`},
		},
		{
			name: "redis password and file",
			yaml: "targets:\n- name: r\n  kind: redis\n  redis:\n    address: localhost:6379\n    password: x\n    password_file: " + pwFile + "\n",
			want: []string{"targets[0].redis.password_file (line 7): password and password_file are mutually exclusive"},
		},
		{
			name: "redis config_command with a space",
			yaml: "targets:\n- name: r\n  kind: redis\n  redis:\n    address: localhost:6379\n    config_command: 'CONFIG GET'\n",
			want: []string{"targets[0].redis.config_command (line 6): must be one command name, got \"CONFIG GET\""},
		},
		{
			name: "redis bad address",
			yaml: "targets:\n- name: r\n  kind: redis\n  redis:\n    address: localhost\n",
			want: []string{"targets[0].redis.address (line 5): address localhost: missing port"},
		},
		{
			name: "mongodb bad uri hides password",
			yaml: "targets:\n- name: m\n  kind: mongodb\n  mongodb:\n    uri: 'mongodb://u:hunter2@h/%zz'\n",
			want: []string{`targets[0].mongodb.uri (line 5): parse "mongodb://u:<secret>@h/%zz"`},
		},
		{
			name: "mongodb wrong scheme",
			yaml: "targets:\n- name: m\n  kind: mongodb\n  mongodb:\n    uri: 'http://h'\n",
			want: []string{`targets[0].mongodb.uri (line 5): scheme "http"`},
		},
		{
			name: "mongodb stats limits",
			yaml: "targets:\n- name: m\n  kind: mongodb\n  mongodb:\n    uri: 'mongodb://h'\n    stats:\n      dbstats_limit: -1\n      collstats_limit: 20000\n      collstats: true\n",
			want: []string{
				"targets[0].mongodb.stats.dbstats_limit (line 7): must be between 1 and 10000 (0 or unset: 100), got -1",
				"targets[0].mongodb.stats.collstats_limit (line 8): must be between 1 and 10000 (0 or unset: 100), got 20000",
			},
		},
		{
			name: "mongodb stats limit without its statistics",
			yaml: "targets:\n- name: m\n  kind: mongodb\n  mongodb:\n    uri: 'mongodb://h'\n    stats: {dbstats: false, dbstats_limit: 5, collstats_limit: 5}\n",
			want: []string{
				"targets[0].mongodb.stats.dbstats_limit (line 6): has no effect without dbstats",
				"targets[0].mongodb.stats.collstats_limit (line 6): has no effect without collstats or indexstats",
			},
		},
		{
			name: "type mismatch",
			yaml: "targets:\n- name: r\n  kind: redis\n  redis:\n    address: h:1\n    db: zero\n",
			want: []string{"targets[0].redis.db (line 6): cannot unmarshal !!str `zero` into int"},
		},
		{
			name: "status code",
			yaml: "targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n    valid_status_codes: [200, 42]\n",
			want: []string{"targets[0].http.valid_status_codes[1] (line 6): 42 is not an HTTP status code"},
		},
		{
			name: "scrape config reserved job",
			yaml: "scrape_configs:\n- job_name: agent\n  static_configs: [{targets: ['localhost:8080']}]\n",
			want: []string{`scrape_configs[0].job_name (line 2): "agent" is reserved`},
		},
		{
			name: "scrape config duplicate job",
			yaml: "scrape_configs:\n- job_name: app\n- job_name: app\n",
			want: []string{`scrape_configs[1].job_name (line 3): duplicate job_name "app" (also scrape_configs[0])`},
		},
		{
			name: "scrape config old form shows the new one",
			yaml: "scrape_configs:\n- job_name: app\n  interval: 10s\n  targets: ['https://app:8443/api/metrics', 'https://app2:8443/api/metrics']\n  labels: {env: prod}\n  bearer_token: hunter2\n",
			want: []string{"scrape_configs[0].targets (line 4): the agent now reads Prometheus's scrape_config format",
				"- job_name: app\n    scrape_interval: 10s\n    scheme: https\n    metrics_path: /api/metrics\n    authorization:\n",
				"static_configs:\n      - targets: [app:8443, app2:8443]\n        labels:\n          env: prod"},
		},
		{
			name: "scrape config old form with credentials and parameters in the URL",
			yaml: "scrape_configs:\n- job_name: box\n  targets: ['http://ops:hunter2@h:9115/probe?module=http_2xx&token=t0ps3cret']\n",
			want: []string{"scrape_configs[0].targets (line 3): ",
				"metrics_path: /probe\n    params:\n      module: [http_2xx]\n      token: [<secret>]\n    basic_auth:\n      username: ops\n      password_file: /path/to/password",
				"targets: [h:9115]"},
		},
		{
			name: "scrape config unknown discovery",
			yaml: "scrape_configs:\n- job_name: app\n  scrape_interval: 10s\n  kubernetes_sd_configs: [{role: pod}]\n",
			want: []string{"scrape_configs[0].kubernetes_sd_configs (line 4): field kubernetes_sd_configs not found"},
		},
		{
			name: "scrape config bad duration deep inside",
			yaml: "scrape_configs:\n- job_name: app\n  static_configs:\n  - targets: ['h:1']\n  file_sd_configs:\n  - files: [a.json]\n    refresh_interval: soon\n",
			want: []string{"scrape_configs[0].file_sd_configs[0].refresh_interval (line 7): "},
		},
		{
			name: "scrape config URL as target",
			yaml: "scrape_configs:\n- job_name: app\n  static_configs: [{targets: ['http://h:1/metrics']}]\n",
			want: []string{`scrape_configs[0].static_configs[0].targets[0] (line 3): "http://h:1/metrics" is not a valid hostname`},
		},
		{
			name: "scrape timeout over interval",
			yaml: "scrape_configs:\n- job_name: app\n  scrape_interval: 5s\n  scrape_timeout: 10s\n",
			want: []string{"scrape_configs[0] (line 2): scrape timeout greater than scrape interval"},
		},
		{
			name: "scrape config two authentications",
			yaml: "scrape_configs:\n- job_name: app\n  basic_auth: {username: u, password: p}\n  authorization: {credentials: t}\n",
			want: []string{"scrape_configs[0] (line 2): at most one of basic_auth, oauth2 & authorization must be configured"},
		},
		{
			name: "scrape config bad protocol",
			yaml: "scrape_configs:\n- job_name: app\n  scrape_protocols: [Carrier-Pigeon]\n",
			want: []string{"scrape_configs[0] (line 2): scrape_protocols: unknown scrape protocol Carrier-Pigeon, supported: ["},
		},
		{
			name: "scrape config bad relabel regexp",
			yaml: "scrape_configs:\n- job_name: app\n  relabel_configs:\n  - source_labels: [a]\n    regex: '('\n    target_label: b\n",
			want: []string{"scrape_configs[0]", "error parsing regexp"},
		},
		{
			name: "alertmanager url",
			yaml: "alerting:\n  alertmanagers:\n  - url: 'ftp://am'\n",
			want: []string{"alerting.alertmanagers[0].url (line 3): ftp://am: scheme must be http or https"},
		},
		{
			name: "targets not a list",
			yaml: "targets:\n  name: a\n",
			want: []string{"targets (line 2): expected a list, got a mapping"},
		},
		{
			name: "duplicate key",
			yaml: "targets:\n- name: a\n  name: b\n  kind: host\n",
			want: []string{"targets[0].name (line 3): field name already set on line 2"},
		},
		{
			name: "several problems at once",
			yaml: "global:\n  interval: x\ntargets:\n- name: a\n  kind: http\n  http: {url: 'ht!tp://'}\n- name: a\n  kind: host\n  bogus: 1\n",
			want: []string{"global.interval (line 2)", "targets[0].http.url (line 6)", "targets[1].name (line 7): duplicate", "targets[1].bogus (line 9)"},
		},
		{
			name: "http module options",
			yaml: "targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n    basic_auth: {password: hunter2}\n" +
				"    bearer_token: t\n    proxy_url: ftp://p\n    fail_if_ssl: true\n    fail_if_not_ssl: true\n" +
				"    fail_if_header_matches: [{header: 'X Bad', regexp: a}]\n    fail_if_header_not_matches: [{header: Server}]\n" +
				"    valid_http_versions: [HTTP/3]\n    compression: zstd\n",
			want: []string{
				"targets[0].http (line 4): at most one of basic_auth, bearer_token, bearer_token_file and an Authorization header, got basic_auth and bearer_token",
				"targets[0].http.basic_auth.username (line 6): missing username",
				"targets[0].http.proxy_url (line 8): ftp://p: want http://, https:// or socks5:// with a host",
				"targets[0].http.fail_if_not_ssl (line 10): fail_if_ssl and fail_if_not_ssl together",
			},
		},
		{
			name: "http header matchers, versions, compression",
			yaml: "targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n" +
				"    fail_if_header_matches: [{header: 'X Bad', regexp: a}]\n    fail_if_header_not_matches: [{header: Server}]\n" +
				"    valid_http_versions: [HTTP/3]\n    compression: zstd\n",
			want: []string{
				`targets[0].http.fail_if_header_matches[0].header (line 6): invalid header name "X Bad"`,
				"targets[0].http.fail_if_header_not_matches[0].regexp (line 7): missing regexp",
				`targets[0].http.valid_http_versions[0] (line 8): "HTTP/3": want HTTP/1.0, HTTP/1.1 or HTTP/2.0`,
				`targets[0].http.compression (line 9): "zstd": want identity, gzip, deflate or br`,
			},
		},
		{
			name: "compression not accepted",
			yaml: "targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n    compression: gzip\n    headers: {Accept-Encoding: 'br, gzip;q=0'}\n",
			want: []string{`targets[0].http.headers.Accept-Encoding (line 7): "br, gzip;q=0" does not accept compression "gzip"`},
		},
		{
			name: "basic_auth password_file",
			yaml: "targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n    basic_auth: {username: u, password: hunter2, password_file: /nonexistent/pw}\n",
			want: []string{"targets[0].http.basic_auth (line 6): password and password_file are mutually exclusive", "targets[0].http.basic_auth.password_file (line 6): open /nonexistent/pw"},
		},
		{
			name: "tcp query_response",
			yaml: "targets:\n- name: a\n  kind: tcp\n  tcp:\n    address: 'h:25'\n    tls: true\n    query_response:\n" +
				"    - {}\n    - {send: x, labels: [{name: v, value: x}]}\n    - expect: '^220'\n      starttls: true\n" +
				"    - {expect: '(.*)', labels: [{name: instance, value: x}, {name: ok, value: x}, {name: ok, value: y}]}\n    - {expect: '(x', send: y}\n",
			want: []string{
				"targets[0].tcp.query_response[0] (line 8): empty step",
				"targets[0].tcp.query_response[1].labels (line 9): labels need expect",
				"targets[0].tcp.query_response[2].starttls (line 11): the connection is already TLS",
				"targets[0].tcp.query_response[3].labels (line 12): labels are already set on query_response[1]",
				`targets[0].tcp.query_response[3].labels[0].name (line 12): invalid, reserved or repeated label name "instance"`,
				`targets[0].tcp.query_response[3].labels[2].name (line 12): invalid, reserved or repeated label name "ok"`,
			},
		},
		{
			name: "syntax error",
			yaml: "targets: [\n",
			want: []string{"line 1: did not find expected node content"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors %q; got %+v", tt.want, cfg)
			}
			msg := err.Error()
			pos := 0
			for _, w := range tt.want {
				i := strings.Index(msg[pos:], w)
				if i < 0 {
					t.Fatalf("error lacks %q (in order):\n%s", w, msg)
				}
				pos += i + len(w)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error leaks the password:\n%s", msg)
			}
			var errs Errors
			if tt.name != "syntax error" && !errors.As(err, &errs) {
				t.Errorf("error is %T, want Errors", err)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`
targets:
- name: web
  kind: http
  http: {url: "http://localhost:1/health"}
- name: slow
  kind: tcp
  interval: 1m
  tcp: {address: "localhost:1"}
- name: box
  kind: host
scrape_configs:
- job_name: app
  static_configs: [{targets: ["localhost:8080"]}]
- job_name: fast
  scrape_interval: 2s
  static_configs: [{targets: ["localhost:8081"]}]
alerting:
  alertmanagers: [{url: "http://localhost:9093"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"global.interval", cfg.Global.Interval, Duration(15 * time.Second)},
		{"global.timeout", cfg.Global.Timeout, Duration(5 * time.Second)},
		{"global.evaluation_interval", cfg.Global.EvaluationInterval, Duration(15 * time.Second)},
		{"web interval", cfg.Targets[0].Interval, Duration(15 * time.Second)},
		{"web timeout", cfg.Targets[0].Timeout, Duration(5 * time.Second)},
		{"web method", cfg.Targets[0].HTTP.Method, "GET"},
		{"slow interval", cfg.Targets[1].Interval, Duration(time.Minute)},
		{"slow timeout", cfg.Targets[1].Timeout, Duration(5 * time.Second)},
		{"host block", cfg.Targets[2].Host != nil, true},
		{"host proc", cfg.Targets[2].Host.ProcPath, "/proc"},
		{"host fs timeout", cfg.Targets[2].Host.FilesystemTimeout, Duration(time.Second)},
		{"scrape interval", cfg.ScrapeConfigs[0].ScrapeInterval, Duration(15 * time.Second)},
		{"scrape timeout", cfg.ScrapeConfigs[0].ScrapeTimeout, Duration(5 * time.Second)},
		{"scrape path", cfg.ScrapeConfigs[0].MetricsPath, "/metrics"},
		{"scrape scheme", cfg.ScrapeConfigs[0].Scheme, "http"},
		{"scrape honor_timestamps", cfg.ScrapeConfigs[0].HonorTimestamps, true},
		{"scrape protocols", len(cfg.ScrapeConfigs[0].ScrapeProtocols) > 0, true},
		{"short scrape interval", cfg.ScrapeConfigs[1].ScrapeInterval, Duration(2 * time.Second)},
		{"timeout clamped to a short interval", cfg.ScrapeConfigs[1].ScrapeTimeout, Duration(2 * time.Second)},
		{"am timeout", cfg.Alerting.Alertmanagers[0].Timeout, Duration(10 * time.Second)},
		{"resend delay", cfg.Alerting.ResendDelay, Duration(time.Minute)},
		{"storage path", cfg.Storage.Path, "data/agent"},
		{"retention", cfg.Storage.Retention, Duration(2 * time.Hour)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEmptyFileIsValid(t *testing.T) {
	cfg, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.Interval != DefaultInterval || len(cfg.Targets) != 0 {
		t.Errorf("empty config = %+v", cfg)
	}
}

func TestDefault(t *testing.T) {
	tests := []struct {
		env, arg, wantHealth, wantMetrics string
	}{
		{"", "", "http://localhost:8080/api/health", "http://localhost:8080/api/metrics"},
		{"http://app:9000/", "", "http://app:9000/api/health", "http://app:9000/api/metrics"},
		{"http://app:9000", "http://other:1", "http://other:1/api/health", "http://other:1/api/metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"|"+tt.arg, func(t *testing.T) {
			t.Setenv(AppURLEnv, tt.env)
			cfg, err := LoadDefault(tt.arg)
			if err != nil {
				t.Fatal(err)
			}
			var app *Target
			for i := range cfg.Targets {
				if cfg.Targets[i].Name == "app" {
					app = &cfg.Targets[i]
				}
			}
			if app == nil || app.Kind != KindHTTP || app.HTTP.URL != tt.wantHealth {
				t.Errorf("app target = %+v, want http %s", app, tt.wantHealth)
			}
			if len(cfg.ScrapeConfigs) != 1 {
				t.Fatalf("scrape configs = %+v, want job app %s", cfg.ScrapeConfigs, tt.wantMetrics)
			}
			sc := cfg.ScrapeConfigs[0]
			u, _ := url.Parse(tt.wantMetrics)
			if sc.JobName != "app" || sc.Scheme != u.Scheme || sc.MetricsPath != u.Path || staticTargets(sc) != 1 ||
				sc.ServiceDiscoveryConfigs[0].(discovery.StaticConfig)[0].Targets[0][model.AddressLabel] != model.LabelValue(u.Host) {
				t.Errorf("scrape config = %+v, want job app scraping %s", sc.ScrapeConfig, tt.wantMetrics)
			}
			if cfg.DisableDefaultRules || len(cfg.RuleFiles) != 0 {
				t.Errorf("default config must use the embedded rules only: %+v", cfg)
			}
		})
	}
	t.Run("bad env", func(t *testing.T) {
		t.Setenv(AppURLEnv, "localhost:8080")
		if _, err := LoadDefault(""); err == nil {
			t.Error("LoadDefault accepted a VIGIL_APP_URL without scheme")
		}
	})
}

func TestRegexpSearches(t *testing.T) {
	cfg, err := Parse([]byte("targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n    fail_if_body_matches_regexp: ['err(or)?']\n"))
	if err != nil {
		t.Fatal(err)
	}
	re := cfg.Targets[0].HTTP.FailIfBodyMatches[0]
	// Body regexps search the body, as blackbox_exporter's do.
	for s, want := range map[string]bool{"err": true, "error": true, "an error here": true, "fine": false} {
		if got := re.MatchString(s); got != want {
			t.Errorf("MatchString(%q) = %v, want %v", s, got, want)
		}
	}
	if re.String() != "err(or)?" {
		t.Errorf("String() = %q", re.String())
	}
	// The same file parsed twice must compare equal: reload relies on it.
	again, err := Parse([]byte("targets:\n- name: a\n  kind: http\n  http:\n    url: http://x\n    fail_if_body_matches_regexp: ['err(or)?']\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Targets[0], again.Targets[0]) {
		t.Error("identical targets are not DeepEqual")
	}
}

func TestLoadResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "redis.pw"), []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agent.yml")
	if err := os.WriteFile(path, []byte("rule_files: ['rules/*.yml']\ntargets:\n- name: r\n  kind: redis\n  redis: {address: 'localhost:6379', password_file: redis.pw}\n"+
		"scrape_configs:\n- job_name: app\n  file_sd_configs: [{files: ['sd/*.json']}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Targets[0].Redis.PasswordFile, filepath.Join(dir, "redis.pw"); got != want {
		t.Errorf("password_file = %q, want %q", got, want)
	}
	if got, want := cfg.ScrapeConfigs[0].ServiceDiscoveryConfigs[0].(*file.SDConfig).Files[0], filepath.Join(dir, "sd/*.json"); got != want {
		t.Errorf("file_sd_configs[0].files[0] = %q, want %q", got, want)
	}
	if got, want := cfg.RuleFiles[0], filepath.Join(dir, "rules/*.yml"); got != want {
		t.Errorf("rule_files[0] = %q, want %q", got, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.yml")); err == nil || !strings.Contains(err.Error(), "missing.yml") {
		t.Errorf("Load(missing) = %v, want an error naming the file", err)
	}
}

func TestRedaction(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mongodb://u:hunter2@h:27017/db", "mongodb://u:<secret>@h:27017/db"},
		{"mongodb://u@h", "mongodb://u@h"},
		{"redis://:pw@h:6379", "redis://:<secret>@h:6379"},
		{"http://h/x?a=b", "http://h/x?a=b"},
		{"mongodb://u:p@ss@h/%zz", "mongodb://u:<secret>@h/%zz"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	tg := Target{Name: "r", Kind: KindRedis, Redis: &RedisTarget{Address: "h:1", Password: "s3cr3t"}}
	got := Scrub(`dial "mongodb://u:zzz@h": auth failed for s3cr3t`, tg.Secrets())
	if strings.Contains(got, "s3cr3t") || strings.Contains(got, "zzz") {
		t.Errorf("Scrub left a secret: %s", got)
	}
}

func TestRedactedConfig(t *testing.T) {
	const yml = `
targets:
- {name: m, kind: mongodb, mongodb: {uri: "mongodb://u:mongoSecret1@h/"}}
- {name: r, kind: redis, redis: {address: "redis://:redisUrlSecret2@h:6379", password: ""}}
- {name: r2, kind: redis, instance: h2, redis: {address: "h:6379", password: redisSecret3}}
- {name: w, kind: http, http: {url: "http://u:httpSecret4@h/", headers: {Authorization: "Bearer tokenSecret5", Accept: text/plain}}}
scrape_configs:
- {job_name: app, params: {access_token: [scrapeSecret6], api_key: [bearerSecret7], module: [http_2xx]}, static_configs: [{targets: ["h:9100"]}]}
alerting:
  alertmanagers: [{url: "http://am:9093", username: u, password: amSecret8}]
`
	// Secrets under names no fixed list of header names or fields covers.
	const more = `
- name: w2
  kind: http
  http:
    url: "https://h/api?private_token=urlTokenSecret9&page=2"
    method: POST
    headers: {X-Auth-Token: xAuthSecret10, Private-Token: privateSecret11, User-Agent: vigil-probe}
    body: '{"user":"ops","password":"bodySecret12"}'
- name: m2
  kind: mongodb
  mongodb: {uri: "mongodb://h1,h2/db?tls=true&tlsCertificateKeyFilePassword=keyPwSecret13&authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:awsSecret14&replicaSet=rs0"}
`
	cfg, err := Parse([]byte(strings.Replace(yml, "scrape_configs:", strings.TrimPrefix(more, "\n")+"scrape_configs:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	before, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(cfg.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{"mongoSecret", "redisUrlSecret", "redisSecret", "httpSecret", "tokenSecret", "scrapeSecret", "bearerSecret", "amSecret",
		"urlTokenSecret", "xAuthSecret", "privateSecret", "bodySecret", "keyPwSecret", "awsSecret"} {
		secret := fmt.Sprintf("%s%d", s, i+1)
		if !strings.Contains(string(before), secret) {
			t.Fatalf("test set-up: %s not in the configuration", secret)
		}
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted config shows %s:\n%s", secret, out)
		}
	}
	for _, keep := range []string{"name: w", "Accept: text/plain", "job_name: app", "username: u",
		"User-Agent: vigil-probe", "page=2", "replicaSet=rs0", "authMechanism=MONGODB-AWS", "http_2xx", "X-Auth-Token: <secret>", "body: <secret>"} {
		if !strings.Contains(string(out), keep) {
			t.Errorf("redacted config lost %q:\n%s", keep, out)
		}
	}
	after, _ := yaml.Marshal(cfg)
	if string(before) != string(after) {
		t.Error("Redacted modified the configuration in force")
	}
	// Errors and logs are scrubbed of the same values.
	for _, tg := range cfg.Targets {
		msg := Scrub("failed: xAuthSecret10 privateSecret11 urlTokenSecret9 keyPwSecret13 awsSecret14", tg.Secrets())
		switch tg.Name {
		case "w2":
			if strings.Contains(msg, "xAuthSecret10") || strings.Contains(msg, "privateSecret11") || strings.Contains(msg, "urlTokenSecret9") {
				t.Errorf("Scrub with %s's secrets: %s", tg.Name, msg)
			}
		case "m2":
			if strings.Contains(msg, "keyPwSecret13") || strings.Contains(msg, "awsSecret14") {
				t.Errorf("Scrub with %s's secrets: %s", tg.Name, msg)
			}
		}
	}
}

// The http block's inline credentials are secrets like the others.
func TestRedactedHTTPCredentials(t *testing.T) {
	cfg, err := Parse([]byte(`targets:
- {name: a, kind: http, http: {url: "http://h/", basic_auth: {username: ops, password: basicSecret1}, proxy_url: "http://pu:proxySecret2@proxy:3128"}}
- {name: b, kind: http, http: {url: "http://h/b", bearer_token: bearerSecret3}}
`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(cfg.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"basicSecret1", "proxySecret2", "bearerSecret3"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted config shows %s:\n%s", secret, out)
		}
		var scrubbed bool
		for _, tg := range cfg.Targets {
			scrubbed = scrubbed || !strings.Contains(Scrub("failed: "+secret, tg.Secrets()), secret)
		}
		if !scrubbed {
			t.Errorf("no target's Secrets scrub %s", secret)
		}
	}
	for _, keep := range []string{"username: ops", "proxy:3128"} {
		if !strings.Contains(string(out), keep) {
			t.Errorf("redacted config lost %q:\n%s", keep, out)
		}
	}
}

// TestGlobalTimeoutDefaultClampedToInterval: a short global interval alone
// is valid; the default timeout is clamped below it, and a timeout the user
// writes is still checked.
func TestGlobalTimeoutDefaultClampedToInterval(t *testing.T) {
	for _, tt := range []struct {
		yaml    string
		want    Duration
		wantErr string
	}{
		{"global: {interval: 5s}\n", Duration(4 * time.Second), ""},
		{"global: {interval: 1s}\n", Duration(800 * time.Millisecond), ""},
		{"global: {interval: 30s}\n", DefaultTimeout, ""},
		{"global: {interval: 5s, timeout: 5s}\n", 0, "global.timeout (line 1): 5s must be less than interval 5s"},
	} {
		cfg, err := Parse([]byte(tt.yaml))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err %v, want %q", tt.yaml, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.yaml, err)
			continue
		}
		if cfg.Global.Timeout != tt.want {
			t.Errorf("%q: global.timeout = %s, want %s", tt.yaml, cfg.Global.Timeout, tt.want)
		}
	}
}

// TestRedactedScrapeConfig: every credential a scrape config can carry is
// hidden in the redacted copy however it is printed (the Go value too, not
// only the YAML, where Prometheus's Secret hides itself), and the
// configuration in force keeps them.
func TestRedactedScrapeConfig(t *testing.T) {
	const yml = `
scrape_configs:
- job_name: basic
  basic_auth: {username: u, password: basicSecret1}
  proxy_url: "http://p:proxySecret2@proxy:3128"
  proxy_connect_header: {Proxy-Authorization: [proxyHeaderSecret3]}
  http_headers:
    X-Api-Key: {values: [headerSecret4], secrets: [headerSecret5]}
    Accept: {values: [text/plain]}
  tls_config: {key: keySecret6, cert: "not-a-secret"}
  static_configs: [{targets: ["h:1"]}]
- job_name: token
  authorization: {credentials: tokenSecret7}
  static_configs: [{targets: ["h:2"]}]
- job_name: oauth
  oauth2: {client_id: id, client_secret: oauthSecret8, token_url: "http://idp/token"}
  static_configs: [{targets: ["h:3"]}]
`
	cfg, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"basicSecret1", "proxySecret2", "proxyHeaderSecret3", "headerSecret4", "headerSecret5", "keySecret6", "tokenSecret7", "oauthSecret8"}
	before := dumpStrings(reflect.ValueOf(cfg.ScrapeConfigs))
	for _, s := range secrets {
		if !strings.Contains(before, s) {
			t.Fatalf("test set-up: %s not in the configuration", s)
		}
	}
	r := cfg.Redacted()
	out, err := r.EffectiveYAML()
	if err != nil {
		t.Fatal(err)
	}
	goValue := dumpStrings(reflect.ValueOf(r.ScrapeConfigs))
	for _, s := range secrets {
		if strings.Contains(goValue, s) || strings.Contains(string(out), s) {
			t.Errorf("redacted scrape config shows %s:\n%s\n%s", s, goValue, out)
		}
	}
	for _, keep := range []string{"job_name: basic", "username: u", "text/plain", "proxy:3128", "client_id: id", "h:3"} {
		if !strings.Contains(string(out), keep) {
			t.Errorf("redacted config lost %q:\n%s", keep, out)
		}
	}
	if after := dumpStrings(reflect.ValueOf(cfg.ScrapeConfigs)); after != before {
		t.Error("Redacted modified the configuration in force")
	}
}

// dumpStrings is every string reachable from v, through pointers, maps,
// slices and interfaces: what any printer of the value could show.
func dumpStrings(v reflect.Value) string {
	var b strings.Builder
	var walk func(reflect.Value, int)
	walk = func(v reflect.Value, depth int) {
		if depth > 20 || !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.String:
			b.WriteString(v.String() + " ")
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), depth+1)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), depth+1)
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			keys := v.MapKeys()
			sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
			for _, k := range keys {
				walk(k, depth+1)
				walk(v.MapIndex(k), depth+1)
			}
		}
	}
	walk(v, 0)
	return b.String()
}

// TestOldScrapeFormErrorHidesSecrets: the suggested new form names where a
// secret goes, never the secret of the old URL or bearer token.
func TestOldScrapeFormErrorHidesSecrets(t *testing.T) {
	_, err := Parse([]byte("scrape_configs:\n- job_name: box\n  bearer_token: tokenS3cret\n  targets: ['http://ops:passS3cret@h:9115/probe?module=http_2xx&api_key=keyS3cret']\n"))
	if err == nil {
		t.Fatal("the old form was accepted")
	}
	for _, secret := range []string{"tokenS3cret", "passS3cret", "keyS3cret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows %s:\n%v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), "static_configs:") {
		t.Errorf("the error does not show the new form:\n%v", err)
	}
}

// TestScrapeConfigAliasBomb: nested aliases in a scrape config are refused
// quickly, not expanded exponentially.
func TestScrapeConfigAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x0: &a0 [v, v, v, v, v, v, v, v, v, v]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	yml := "scrape_configs:\n- job_name: a\n  params: {p: *a11}\n"
	// The anchors must come first: put them under a field the loader rejects.
	start := time.Now()
	_, err := Parse([]byte("global:\n  external_labels: {}\nbomb:\n" + indent(b.String()) + yml))
	if err == nil || !strings.Contains(err.Error(), "scrape_configs[0] (line 17): more than 100000 YAML nodes once aliases are expanded") {
		t.Fatalf("Parse(alias bomb) = %v, want the expansion refused", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing the alias bomb took %v", d)
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
