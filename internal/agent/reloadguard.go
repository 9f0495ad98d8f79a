package agent

import (
	"errors"
	"fmt"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// ErrDropsEverything is the error of a reload refused because the new
// configuration has no target and no Alertmanager while the running one has
// some: an emptied or truncated file would otherwise silence every alert,
// which Alertmanager would then report as resolved.
var ErrDropsEverything = errors.New("the new configuration has no targets and no Alertmanagers; refusing a reload that would drop all of them (--config.allow-empty accepts it)")

// checkDropsEverything refuses cfg if it would drop every target and every
// Alertmanager of the running configuration, logging what would go.
func (a *Agent) checkDropsEverything(cfg *config.Config) error {
	old := a.Config()
	if old == nil || len(cfg.Targets) > 0 || len(cfg.Alerting.Alertmanagers) > 0 {
		return nil
	}
	if len(old.Targets) == 0 && len(old.Alerting.Alertmanagers) == 0 {
		return nil
	}
	targets := make([]string, len(old.Targets))
	for i, t := range old.Targets {
		targets[i] = t.Name
	}
	ams := make([]string, len(old.Alerting.Alertmanagers))
	for i, am := range old.Alerting.Alertmanagers {
		ams[i] = config.RedactURL(am.URL)
	}
	a.logger.Warn("refusing a reload that would drop every target and every Alertmanager; the running configuration stays",
		"file", a.opts.ConfigFile, "would_drop_targets", targets, "would_drop_alertmanagers", ams)
	return fmt.Errorf("config %s: %w", a.opts.ConfigFile, ErrDropsEverything)
}
