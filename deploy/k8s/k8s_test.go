package k8s_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/vigil-sh/vigil/deploy/k8s"
)

const root = "../.."

func TestGeneratedUpToDate(t *testing.T) {
	files, err := k8s.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("deploy/k8s/%s is out of date with its source: run `go generate ./deploy/k8s`", name)
		}
	}
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// objects decodes every manifest strictly into its upstream API type: an
// unknown or misspelt field fails, as kubectl apply --validate=strict would.
func objects(t *testing.T) map[string][]any {
	t.Helper()
	paths, _ := filepath.Glob("*.yaml")
	byKind := map[string][]any{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var meta struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s document %d: %v", p, i, err)
			}
			var obj any
			switch meta.Kind {
			case "Deployment":
				obj = &appsv1.Deployment{}
			case "Service":
				obj = &corev1.Service{}
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "Secret":
				obj = &corev1.Secret{}
			case "PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "PodMonitor":
				obj = &monitoringv1.PodMonitor{}
			case "ServiceMonitor":
				obj = &monitoringv1.ServiceMonitor{}
			case "PrometheusRule":
				obj = &monitoringv1.PrometheusRule{}
			default:
				t.Fatalf("%s document %d: unexpected kind %q", p, i, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s) does not decode strictly: %v", p, i, meta.Kind, err)
			}
			byKind[meta.Kind] = append(byKind[meta.Kind], obj)
		}
	}
	return byKind
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestManifests(t *testing.T) {
	objs := objects(t)
	for _, kind := range []string{"Deployment", "Service", "PodMonitor", "PrometheusRule", "PodDisruptionBudget", "ConfigMap"} {
		if len(objs[kind]) == 0 {
			t.Errorf("no %s manifest", kind)
		}
	}
	if t.Failed() {
		return
	}
	d := objs["Deployment"][0].(*appsv1.Deployment)
	pod := d.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod does not require a non-root user")
	}
	probes := map[string]string{}
	for _, c := range pod.Containers {
		if c.Name == "agent" {
			// One ConfigMap for every replica: each expands its own app instance.
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			if !slices.Contains(c.Args, "--config.expand-env") || !strings.Contains(env["VIGIL_APP_INSTANCE"], "$(POD_IP)") {
				t.Errorf("agent container: args %v, VIGIL_APP_INSTANCE %q: want --config.expand-env and the pod's own instance", c.Args, env["VIGIL_APP_INSTANCE"])
			}
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) == 0 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("container %s: want read-only root, no privilege escalation, all capabilities dropped", c.Name)
		}
		if c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s has no memory limit", c.Name)
		}
		if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe.HTTPGet == nil {
			t.Errorf("container %s lacks HTTP liveness/readiness probes", c.Name)
			continue
		}
		probes[c.Name+" liveness"] = c.LivenessProbe.HTTPGet.Path
		if c.ReadinessProbe.HTTPGet != nil {
			probes[c.Name+" readiness"] = c.ReadinessProbe.HTTPGet.Path
		}
	}
	want := map[string]string{
		"app liveness": "/api/health/live", "app readiness": "/api/health",
		"agent liveness": "/-/healthy", "agent readiness": "/-/ready",
	}
	for k, v := range want {
		if probes[k] != v {
			t.Errorf("%s probe on %q, want %q", k, probes[k], v)
		}
	}

	var dashboards int
	for _, o := range objs["ConfigMap"] {
		if o.(*corev1.ConfigMap).Labels["grafana_dashboard"] == "1" {
			dashboards++
		}
	}
	jsons, _ := filepath.Glob(filepath.Join(root, "dashboards/json/*.json"))
	if dashboards != len(jsons) || dashboards == 0 {
		t.Errorf("%d dashboard ConfigMaps for %d dashboards", dashboards, len(jsons))
	}
}

// TestPrometheusRuleMatchesRuleFiles: the PrometheusRule carries exactly the
// shipped rules, group by group.
func TestPrometheusRuleMatchesRuleFiles(t *testing.T) {
	pr := objects(t)["PrometheusRule"][0].(*monitoringv1.PrometheusRule)
	files, _ := filepath.Glob(filepath.Join(root, "rules/files/*.yml"))
	want := map[string][]string{}
	for _, f := range files {
		groups, errs := rulefmt.ParseFile(f, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", f, errs)
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				want[g.Name] = append(want[g.Name], r.Alert+r.Record+" = "+r.Expr)
			}
		}
	}
	got := map[string][]string{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			got[g.Name] = append(got[g.Name], r.Alert+r.Record+" = "+r.Expr.String())
		}
	}
	if len(want) == 0 {
		t.Fatal("no rule files under rules/files")
	}
	for name, rules := range want {
		if strings.Join(got[name], "\n") != strings.Join(rules, "\n") {
			t.Errorf("group %s differs between rules/files and the PrometheusRule", name)
		}
	}
	if len(got) != len(want) {
		t.Errorf("PrometheusRule has %d groups, rule files %d", len(got), len(want))
	}
}

// TestPodMonitorScrapesAgentAsRecommended: the agent endpoint is scraped as
// deploy/prometheus/scrape-agent-metrics.yml recommends (issue 9): /metrics
// with honorLabels, so target series keep their own job and instance.
func TestPodMonitorScrapesAgentAsRecommended(t *testing.T) {
	pms := objects(t)["PodMonitor"]
	if len(pms) == 0 {
		t.Fatal("no PodMonitor")
	}
	found := false
	for _, o := range pms {
		for _, ep := range o.(*monitoringv1.PodMonitor).Spec.PodMetricsEndpoints {
			if ep.Port == nil || *ep.Port != "agent" {
				if ep.HonorLabels {
					t.Errorf("endpoint %v honours labels; only the agent's should", ep.Port)
				}
				continue
			}
			found = true
			if ep.Path != "/metrics" || !ep.HonorLabels {
				t.Errorf("agent endpoint: path %q, honorLabels %v; want /metrics with honorLabels", ep.Path, ep.HonorLabels)
			}
		}
	}
	if !found {
		t.Error("no PodMonitor endpoint scrapes the agent port")
	}
}
