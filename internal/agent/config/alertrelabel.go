package config

import (
	"fmt"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// AlertRelabelConfigs are Prometheus's alerting.alert_relabel_configs,
// applied to every alert after the external labels are added and before it
// is sent to any Alertmanager. The HA pattern needs them: two replicas of a
// pair differ only in an external label such as __replica__, which must be
// dropped from alerts so Alertmanager sees one alert, not two (docs/ha.md).
type AlertRelabelConfigs = []*relabel.Config

// alertRelabel validates each rule as Prometheus does, with UTF-8 label
// names (Prometheus 3's default); upstream's unmarshaler has already
// rejected unknown fields, actions and bad regexps with their line.
func (v *validator) alertRelabel(c *Config) {
	for i, rc := range c.Alerting.AlertRelabelConfigs {
		p := fmt.Sprintf("alerting.alert_relabel_configs[%d]", i)
		if rc == nil {
			v.at(p, "empty relabel config")
			continue
		}
		if err := rc.Validate(model.UTF8Validation); err != nil {
			v.at(p, "%v", err)
		}
	}
}
