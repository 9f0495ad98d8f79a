package alerts

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/notifier"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// relabelConfigs parses alert_relabel_configs as the configuration file
// would hold them, so upstream's defaults apply.
func relabelConfigs(t *testing.T, y string) []*relabel.Config {
	t.Helper()
	var out []*relabel.Config
	if err := yaml.Unmarshal([]byte(y), &out); err != nil {
		t.Fatalf("parsing relabel configs: %v", err)
	}
	return out
}

func TestAlertRelabelling(t *testing.T) {
	ext := labels.FromStrings("cluster", "x", "__replica__", "a")
	tests := []struct {
		name    string
		relabel string
		in      labels.Labels
		want    []labels.Labels // nil: dropped
	}{
		{
			name: "external labels only",
			in:   labels.FromStrings("alertname", "A"),
			want: []labels.Labels{labels.FromStrings("__replica__", "a", "alertname", "A", "cluster", "x")},
		},
		{
			name:    "replica label dropped after the external labels are added",
			relabel: "- {action: labeldrop, regex: __replica__}",
			in:      labels.FromStrings("alertname", "A"),
			want:    []labels.Labels{labels.FromStrings("alertname", "A", "cluster", "x")},
		},
		{
			name:    "drop action sends nothing",
			relabel: "- {action: drop, source_labels: [severity], regex: info}",
			in:      labels.FromStrings("alertname", "A", "severity", "info"),
		},
		{
			name:    "replace sees the external labels",
			relabel: "- {source_labels: [cluster, __replica__], separator: '-', target_label: origin}\n- {action: labeldrop, regex: __replica__}",
			in:      labels.FromStrings("alertname", "A"),
			want:    []labels.Labels{labels.FromStrings("alertname", "A", "cluster", "x", "origin", "x-a")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := newSenderMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			n := newNotifierSet(m, slog.New(slog.DiscardHandler))
			queues, err := prepareQueues([]config.AlertmanagerConfig{{URL: "http://a:1"}}, m, n.logger)
			if err != nil {
				t.Fatal(err)
			}
			rcs := relabelConfigs(t, tt.relabel)
			if err := validAlertRelabel(rcs); err != nil {
				t.Fatal(err)
			}
			n.apply(queues, ext, rcs)
			n.Send(&notifier.Alert{Labels: tt.in})
			q := queues["http://a:1"]
			if q.length() != len(tt.want) {
				t.Fatalf("%d alerts queued, want %d", q.length(), len(tt.want))
			}
			for i, w := range tt.want {
				if got := q.queue[i].Labels; !labels.Equal(got, w) {
					t.Errorf("labels %v, want %v", got, w)
				}
			}
		})
	}
}

func TestAlertRelabelConfigRejected(t *testing.T) {
	cfg := testConfig(nil, nil)
	cfg.Alerting.AlertRelabelConfigs = relabelConfigs(t, "- {action: replace, source_labels: [a]}")
	e, err := New(t.Context(), Options{Registerer: prometheus.NewRegistry(), SelfInstance: "agent-test:9100", StoragePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	err = e.ApplyConfig(cfg)
	if err == nil || !containsAll(err.Error(), "alerting.alert_relabel_configs[0]", "target_label") {
		t.Fatalf("ApplyConfig: %v, want the relabel config's path and problem", err)
	}
}

// TestReplicasDeduplicateInAlertmanager runs two engines as the two
// replicas of an HA pair: same rules, same target, external labels that
// differ only in __replica__. With the replica label dropped from alerts,
// Alertmanager holds one alert; without, two.
func TestReplicasDeduplicateInAlertmanager(t *testing.T) {
	target := newApp(t, "app_queue_depth 5\n")
	rulesPath := writeRules(t, t.TempDir(), "queue.yml", queueRules)
	for _, tt := range []struct {
		name    string
		relabel string
		want    int
	}{
		{"replica label dropped", "- {action: labeldrop, regex: __replica__}", 1},
		{"replica label kept", "", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			am := testserver.Alertmanager(t, amConfig("http://127.0.0.1:1/unused"))
			var replicas []*running
			for _, replica := range []string{"a", "b"} {
				cfg := testConfig([]string{rulesPath}, []string{target.metricsURL()}, am.URL)
				cfg.Global.ExternalLabels = map[string]string{"cluster": "x", "__replica__": replica}
				cfg.Alerting.AlertRelabelConfigs = relabelConfigs(t, tt.relabel)
				replicas = append(replicas, startEngine(t, t.TempDir(), cfg, nil))
			}
			name := strings.TrimPrefix(am.URL, "http://")
			eventually(t, 20*time.Second, "QueueDeep delivered by both replicas", func() bool {
				for _, r := range replicas {
					if metricValue(t, r.reg, "vigil_notifications_sent_total", map[string]string{"alertmanager": name}) == 0 {
						return false
					}
				}
				return true
			})
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := am.Alerts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("Alertmanager holds %d alerts, want %d: %+v", len(got), tt.want, got)
			}
			for _, a := range got {
				if a.Labels["cluster"] != "x" {
					t.Errorf("alert %v lacks cluster=x", a.Labels)
				}
				if _, has := a.Labels["__replica__"]; has != (tt.want == 2) {
					t.Errorf("alert %v: __replica__ present %v, want %v", a.Labels, has, tt.want == 2)
				}
			}
		})
	}
}
