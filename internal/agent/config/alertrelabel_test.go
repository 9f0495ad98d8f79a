package config

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

func TestAlertRelabelConfigs(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		cfg, err := Parse([]byte(`
global:
  external_labels: {cluster: x, __replica__: a}
alerting:
  alert_relabel_configs:
    - action: labeldrop
      regex: __replica__
    - source_labels: [severity]
      regex: info
      action: drop
`))
		if err != nil {
			t.Fatal(err)
		}
		rcs := cfg.Alerting.AlertRelabelConfigs
		if len(rcs) != 2 {
			t.Fatalf("%d relabel configs, want 2", len(rcs))
		}
		lb := labels.NewBuilder(labels.FromStrings("alertname", "A", "cluster", "x", "__replica__", "a"))
		if !relabel.ProcessBuilder(lb, rcs...) || lb.Labels().Has("__replica__") {
			t.Errorf("relabelled to %v, want __replica__ dropped and the alert kept", lb.Labels())
		}
		lb = labels.NewBuilder(labels.FromStrings("alertname", "A", "severity", "info"))
		if relabel.ProcessBuilder(lb, rcs...) {
			t.Error("severity=info kept, want it dropped")
		}
		// /api/v1/status/config shows them in Prometheus's form.
		eff, err := cfg.EffectiveYAML()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"alert_relabel_configs:", "action: labeldrop", "regex: __replica__", "source_labels: [severity]", "__replica__: a"} {
			if !strings.Contains(string(eff), want) {
				t.Errorf("effective configuration lacks %q:\n%s", want, eff)
			}
		}
	})
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"replace without target_label", "alerting:\n  alert_relabel_configs:\n    - source_labels: [a]\n      action: replace\n",
			"alerting.alert_relabel_configs[0] (line 3): relabel configuration for replace action requires 'target_label' value"},
		{"unknown action", "alerting:\n  alert_relabel_configs:\n    - action: dropp\n",
			"alerting.alert_relabel_configs[0] (line 3): unknown relabel action \"dropp\""},
		{"bad regexp", "alerting:\n  alert_relabel_configs:\n    - {action: labeldrop, regex: '('}\n",
			"alerting.alert_relabel_configs[0] (line 3): error parsing regexp"},
		{"unknown field", "alerting:\n  alert_relabel_configs:\n    - {action: labeldrop, regexp: x}\n",
			"alerting.alert_relabel_configs[0].regexp (line 3): field regexp not found in type relabel.Config (known fields: action, modulus, regex, replacement, separator, source_labels, target_label)"},
		{"labeldrop with a target", "alerting:\n  alert_relabel_configs:\n    - {action: labeldrop, regex: x, target_label: y}\n",
			"alerting.alert_relabel_configs[0] (line 3): labeldrop action requires only 'regex'"},
		{"__name__ as an external label", "global:\n  external_labels: {cluster: x, __name__: y}\n",
			`global.external_labels.__name__ (line 2): invalid label name "__name__"`},
		{"empty entry", "alerting:\n  alert_relabel_configs:\n    -\n",
			"alerting.alert_relabel_configs[0] (line 3): empty relabel config"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v, want %q", err, tt.want)
			}
		})
	}
}
