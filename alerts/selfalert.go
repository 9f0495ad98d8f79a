package alerts

import (
	"cmp"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"

	"github.com/vigil-sh/vigil/rules"
)

// StorageAlertName is the alert the agent raises about its own storage. It
// does not come from a rule: rules read the TSDB, the very thing that fails,
// so the engine hands it straight to the Alertmanager queues.
const StorageAlertName = "VigilStorageFailing"

// HeartbeatAlertName is the always-firing alert (rules/meta.go) that feeds
// the dead man's switch. It is withheld while the storage fails: rule
// evaluation cannot see fresh data then, and the heartbeat promises it can.
const HeartbeatAlertName = "Watchdog"

// storageAlert builds VigilStorageFailing for a state: firing (EndsAt a few
// re-send periods ahead, as the rules manager's ValidUntil) or resolved.
func (e *Engine) storageAlert(s StorageStatus, since time.Time, now time.Time) *notifier.Alert {
	ext := *e.extURL.Load()
	a := &notifier.Alert{
		Labels: labels.FromStrings(
			labels.AlertName, StorageAlertName,
			"severity", "critical",
			"job", "agent",
			"instance", e.opts.SelfInstance,
		),
		Annotations: labels.FromStrings(
			"summary", "Agent storage is failing: alerting is blind",
			"description", fmt.Sprintf("The agent %s cannot write to its TSDB (%s) since %s: %s. "+
				"Rule evaluation sees no fresh data, so no other alert fires or resolves; Watchdog is withheld until writes succeed again.",
				e.opts.SelfInstance, e.storageDir(), since.UTC().Format(time.RFC3339), cmp.Or(s.Reason, "recovered")),
			"runbook_url", rules.RunbookBaseURL+StorageAlertName+".md",
		),
		StartsAt:     since,
		GeneratorURL: ext + "/",
	}
	if s.Healthy {
		a.EndsAt = now
	} else {
		a.EndsAt = now.Add(4 * e.resendDelay())
	}
	return a
}

// selfAlertSettings are the parts of the configuration the self-alert
// needs. They are read without e.mu: a storage failure is reported from
// inside commits, some of which run while e.mu is held.
type selfAlertSettings struct {
	dir    string
	resend time.Duration
}

func (e *Engine) resendDelay() time.Duration {
	if s := e.selfSettings.Load(); s != nil {
		return s.resend
	}
	return DefaultResendDelay
}

func (e *Engine) storageDir() string {
	if s := e.selfSettings.Load(); s != nil {
		return s.dir
	}
	return cmp.Or(e.opts.StoragePath, DefaultStoragePath)
}

// selfAlerts remembers what was sent about the storage, for re-sends and
// the resolve.
type selfAlerts struct {
	mu       sync.Mutex
	since    time.Time // StartsAt of the firing alert; zero when none
	lastSent time.Time
}

// onStorageChange raises or resolves VigilStorageFailing at once, and
// resolves the last heartbeat at Alertmanager so the dead man's switch
// notices without waiting for its EndsAt.
func (e *Engine) onStorageChange(s StorageStatus) {
	now := time.Now()
	e.self.mu.Lock()
	if !s.Healthy {
		e.self.since = s.Since
	}
	since := e.self.since
	if s.Healthy {
		e.self.since = time.Time{}
	}
	e.self.lastSent = now
	e.self.mu.Unlock()
	if since.IsZero() {
		return // recovered from a failure that was never raised
	}
	if s.Healthy {
		e.logger.Info("storage writes succeed again; " + StorageAlertName + " resolved, Watchdog resumes with the next evaluation")
	} else {
		e.logger.Error("storage failing: rule evaluation cannot see fresh data; "+StorageAlertName+" raised, Watchdog withheld",
			"path", e.storageDir(), "reason", s.Reason)
		e.gate.withdrawHeartbeat(now)
	}
	e.notifiers.Send(e.storageAlert(s, since, now))
}

// resendStorageAlert re-sends a firing VigilStorageFailing every re-send
// delay, as the rules manager re-sends firing alerts.
func (e *Engine) resendStorageAlert() {
	s := e.health.Status()
	if s.Healthy {
		return
	}
	now := time.Now()
	e.self.mu.Lock()
	due := !e.self.since.IsZero() && now.Sub(e.self.lastSent) >= e.resendDelay()
	if due {
		e.self.lastSent = now
	}
	since := e.self.since
	e.self.mu.Unlock()
	if due {
		e.notifiers.Send(e.storageAlert(s, since, now))
	}
}

// heartbeatGate sits between the rules manager and the Alertmanager
// queues: while the storage fails, the heartbeat goes out resolved.
type heartbeatGate struct {
	next    *notifierSet
	failing func() bool

	mu   sync.Mutex
	last []*notifier.Alert // the heartbeat as last sent firing
}

// Send implements rules.Sender.
func (g *heartbeatGate) Send(alerts ...*notifier.Alert) {
	failing := g.failing()
	now := time.Now()
	out := alerts[:0:0]
	for _, a := range alerts {
		if a.Labels.Get(labels.AlertName) != HeartbeatAlertName {
			out = append(out, a)
			continue
		}
		if !failing {
			g.mu.Lock()
			g.last = append(g.last[:0:0], a)
			g.mu.Unlock()
			out = append(out, a)
			continue
		}
		c := *a
		c.EndsAt = now
		out = append(out, &c)
	}
	g.next.Send(out...)
}

// withdrawHeartbeat resolves the last heartbeat sent.
func (g *heartbeatGate) withdrawHeartbeat(now time.Time) {
	g.mu.Lock()
	last := g.last
	g.mu.Unlock()
	out := make([]*notifier.Alert, 0, len(last))
	for _, a := range last {
		c := *a
		c.EndsAt = now
		out = append(out, &c)
	}
	if len(out) > 0 {
		g.next.Send(out...)
	}
}
