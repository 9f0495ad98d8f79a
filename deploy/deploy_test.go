package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

const root = ".."

// loadCompose loads docker-compose.yml with the loader docker compose itself
// uses, with .env.example standing in for the uncommitted .env.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnvFiles(filepath.Join(root, ".env.example")),
		cli.WithDotEnv,
		cli.WithName("vigil"),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	want := []string{"app1", "app2", "agent1", "agent2", "mongo", "mongo-init", "redis", "prometheus", "alertmanager", "grafana"}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			s, ok := p.Services[name]
			if !ok {
				t.Fatalf("service %s missing", name)
			}
			if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Disable {
				t.Errorf("service %s has no health check", name)
			}
			if s.Restart == "" {
				t.Errorf("service %s has no restart policy", name)
			}
			if name != "mongo-init" && (s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes == 0) {
				t.Errorf("service %s has no memory limit", name)
			}
			for dep, d := range s.DependsOn {
				if d.Condition == "" || d.Condition == types.ServiceConditionStarted {
					t.Errorf("service %s depends on %s without a health or completion condition", name, dep)
				}
			}
			for _, port := range s.Ports {
				public := strings.HasPrefix(name, "app") && port.Target == 8080
				if !public && port.HostIP != "127.0.0.1" {
					t.Errorf("service %s publishes %d on %q, want 127.0.0.1", name, port.Target, port.HostIP)
				}
			}
			for _, v := range s.Volumes {
				if v.Type != types.VolumeTypeBind {
					continue
				}
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s mounts %s, which is not in the repository: %v", name, v.Source, err)
				}
			}
		})
	}
	for _, pair := range [][2]string{{"agent1", "app1"}, {"agent2", "app2"}} {
		if got := p.Services[pair[0]].NetworkMode; got != "service:"+pair[1] {
			t.Errorf("%s network_mode = %q, want it to share %s's network namespace", pair[0], got, pair[1])
		}
	}
	for name, c := range p.Configs {
		if c.File != "" {
			if _, err := os.Stat(c.File); err != nil {
				t.Errorf("config %s: %v", name, err)
			}
		}
	}
}

// TestSecretsNotCommitted: real values live in .env, which git ignores.
func TestSecretsNotCommitted(t *testing.T) {
	out, err := exec.Command("git", "-C", root, "check-ignore", "-q", ".env").CombinedOutput()
	if err != nil {
		t.Fatalf(".env is not ignored by git: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, ".env.example")); err != nil {
		t.Fatal(err)
	}
}

// TestPrometheusConfig checks the central Prometheus config with promtool,
// with its rule globs pointed at the files compose mounts there.
func TestPrometheusConfig(t *testing.T) {
	promtool := testserver.LookBinary(t, "promtool", "prometheus")
	p := loadCompose(t)
	src, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		t.Fatal(err)
	}
	rewritten := string(src)
	for _, glob := range cfg.RuleFiles {
		host := hostPath(t, p.Services["prometheus"], glob)
		matches, _ := filepath.Glob(host)
		if len(matches) == 0 {
			t.Errorf("rule_files %s (%s on the host) matches no file", glob, host)
		}
		rewritten = strings.ReplaceAll(rewritten, glob, host)
	}
	tmp := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(tmp, []byte(rewritten), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", tmp).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// TestGrafanaProvisioning: the provisioning files exist and the dashboard
// provider's path is where compose mounts the committed dashboards.
func TestGrafanaProvisioning(t *testing.T) {
	p := loadCompose(t)
	g := p.Services["grafana"]
	for _, f := range []string{"datasources", "dashboards"} {
		matches, _ := filepath.Glob(filepath.Join(root, "deploy/grafana/provisioning", f, "*.yml"))
		if len(matches) == 0 {
			t.Errorf("no Grafana %s provisioning file", f)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(root, "deploy/grafana/provisioning/dashboards/*.yml"))
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		var prov struct {
			Providers []struct {
				Options struct {
					Path string `yaml:"path"`
				} `yaml:"options"`
			} `yaml:"providers"`
		}
		if err := yaml.Unmarshal(b, &prov); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		for _, pr := range prov.Providers {
			host := hostPath(t, g, filepath.Join(pr.Options.Path, "*.json"))
			if files, _ := filepath.Glob(host); len(files) == 0 {
				t.Errorf("dashboard provider path %s (%s on the host) holds no dashboard", pr.Options.Path, host)
			}
		}
	}
}

// hostPath maps a path inside a service's container to the repository path
// bind-mounted there.
func hostPath(t *testing.T, s types.ServiceConfig, inContainer string) string {
	t.Helper()
	best := types.ServiceVolumeConfig{}
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasPrefix(inContainer, v.Target) && len(v.Target) > len(best.Target) {
			best = v
		}
	}
	if best.Target == "" {
		t.Fatalf("service %s mounts nothing at %s", s.Name, inContainer)
	}
	return filepath.Join(best.Source, strings.TrimPrefix(inContainer, best.Target))
}

// TestAgentConfig: the config compose and Kubernetes give the agent passes
// the agent's own validation, as `agent --check-config` would.
func TestAgentConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "deploy/agent/agent.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// The secret is mounted at run time; stand one in where it will be.
	pw := filepath.Join(t.TempDir(), "redis_password")
	if err := os.WriteFile(pw, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.ReplaceAll(string(b), "/run/secrets/redis_password", pw))
	// Compose and Kubernetes run it with --config.expand-env and give each
	// replica its own app instance.
	b, err = config.ExpandEnv(b, func(name string) (string, bool) {
		if name == "VIGIL_APP_INSTANCE" {
			return "http://app1:8080/api/health", true
		}
		return "", false
	})
	if err != nil {
		t.Fatalf("deploy/agent/agent.yml: %v", err)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		t.Fatalf("deploy/agent/agent.yml: %v", err)
	}
	for _, tg := range cfg.Targets {
		if tg.Name == "app" && tg.Instance != "http://app1:8080/api/health" {
			t.Errorf("the app target's instance is %q, not the replica's own", tg.Instance)
		}
	}
	kinds := map[config.Kind]bool{}
	for _, tg := range cfg.Targets {
		kinds[tg.Kind] = true
	}
	for _, k := range []config.Kind{config.KindHTTP, config.KindMongoDB, config.KindRedis, config.KindHost} {
		if !kinds[k] {
			t.Errorf("deploy/agent/agent.yml has no %s target", k)
		}
	}
	if len(cfg.ScrapeConfigs) == 0 || len(cfg.Alerting.Alertmanagers) == 0 {
		t.Error("deploy/agent/agent.yml neither scrapes the app nor notifies Alertmanager")
	}
}

// scrapeJobs reads the scrape jobs of a Prometheus config, by job name.
func scrapeJobs(t *testing.T, rel string) map[string]map[string]any {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	out := map[string]map[string]any{}
	for _, j := range cfg.ScrapeConfigs {
		name, _ := j["job_name"].(string)
		out[name] = j
	}
	return out
}

// TestScrapeConfigsCheck: both shipped ways of scraping the agent are valid
// Prometheus configs.
func TestScrapeConfigsCheck(t *testing.T) {
	promtool := testserver.LookBinary(t, "promtool", "prometheus")
	for _, f := range []string{"deploy/prometheus/scrape-agent-metrics.yml", "deploy/prometheus/scrape-agent-probe.yml"} {
		if out, err := exec.Command(promtool, "check", "config", filepath.Join(root, f)).CombinedOutput(); err != nil {
			t.Errorf("promtool check config %s: %v\n%s", f, err, out)
		}
	}
}

// TestComposeScrapesAgentAsRecommended: the compose Prometheus scrapes the
// agents with the recommended job, honor_labels included; only the targets
// differ.
func TestComposeScrapesAgentAsRecommended(t *testing.T) {
	want := scrapeJobs(t, "deploy/prometheus/scrape-agent-metrics.yml")["agent"]
	got := scrapeJobs(t, "deploy/prometheus/prometheus.yml")["agent"]
	if want == nil || got == nil {
		t.Fatalf("agent job: recommended %v, compose %v", want, got)
	}
	if want["honor_labels"] != true {
		t.Errorf("the recommended agent job does not honour labels: %v", want)
	}
	for _, m := range []map[string]any{want, got} {
		delete(m, "static_configs")
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("compose's agent job %v differs from scrape-agent-metrics.yml's %v beyond its targets", got, want)
	}
}

// TestAgentDocsShowShippedScrapeConfigs: docs/agent.md shows the shipped
// scrape jobs verbatim, the recommended one first. (Its blocks are fenced
// as yml: the agent's docs test loads every yaml block as an agent config.)
func TestAgentDocsShowShippedScrapeConfigs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs/agent.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Scraping the agent from Prometheus\n")
	if !ok {
		t.Fatal("docs/agent.md has no section \"Scraping the agent from Prometheus\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```yml\nscrape_configs:\n(.*?)```").FindAllStringSubmatch(section, -1)
	files := []string{"deploy/prometheus/scrape-agent-metrics.yml", "deploy/prometheus/scrape-agent-probe.yml"}
	if len(blocks) != len(files) {
		t.Fatalf("the section shows %d scrape configs, want %d (%v, the recommended first)", len(blocks), len(files), files)
	}
	for i, f := range files {
		shipped, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(shipped), blocks[i][1]) {
			t.Errorf("docs/agent.md's scrape config %d is not what %s ships; copy its scrape_configs", i+1, f)
		}
		if !strings.Contains(section, filepath.Base(f)) {
			t.Errorf("the section does not link %s", f)
		}
	}
}

// TestComposeAgentsProbeTheirOwnApp: both sidecars share one agent config;
// each must expand it with its own app instance, or the two replicas'
// probes (and alerts) would carry one identity.
func TestComposeAgentsProbeTheirOwnApp(t *testing.T) {
	p := loadCompose(t)
	seen := map[string]string{}
	for _, name := range []string{"agent1", "agent2"} {
		s := p.Services[name]
		if !slices.Contains(s.Command, "--config.expand-env") {
			t.Errorf("%s: command %v lacks --config.expand-env", name, s.Command)
		}
		v := s.Environment["VIGIL_APP_INSTANCE"]
		if v == nil || *v == "" {
			t.Errorf("%s: VIGIL_APP_INSTANCE is not set", name)
			continue
		}
		if prev, dup := seen[*v]; dup {
			t.Errorf("%s and %s both probe the app as %s", prev, name, *v)
		}
		seen[*v] = name
	}
}
