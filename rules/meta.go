package rules

import "github.com/prometheus/prometheus/model/rulefmt"

// metaGroups hold the always-firing Watchdog, the heartbeat that proves the
// whole alerting pipeline works: its absence at the heartbeat receiver pages
// through a dead man's switch outside Vigil.
func metaGroups() rulefmt.RuleGroups {
	return groups(group("meta",
		alert{
			name:        "Watchdog",
			expr:        `vector(1)`,
			severity:    SeverityInfo,
			summary:     "Alerting pipeline heartbeat",
			description: "This alert always fires. If the heartbeat receiver stops getting it, rule evaluation, the agent or Alertmanager delivery is broken.",
		}.rule(),
	))
}
