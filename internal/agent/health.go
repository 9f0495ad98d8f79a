package agent

import (
	"fmt"
	"time"
)

// StorageStatus is the alerting engine's TSDB write health, as readiness
// and the status page report it.
type StorageStatus struct {
	Healthy bool      `json:"healthy"`
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	// LastFailure is the latest failed write, zero if none since start.
	LastFailure time.Time `json:"lastFailure,omitzero"`
}

// storageReporter is implemented by rule engines that keep a TSDB.
type storageReporter interface {
	StorageStatus() StorageStatus
}

// storage is the rule engine's storage health; healthy without an engine.
func (a *Agent) storage() StorageStatus {
	a.mu.RLock()
	rules := a.rules
	a.mu.RUnlock()
	if r, ok := rules.(storageReporter); ok {
		return r.StorageStatus()
	}
	return StorageStatus{Healthy: true}
}

// notReady is why /-/ready answers 503, empty when ready: no configuration
// yet, or a storage that cannot be written (rule evaluation is blind then,
// so the agent must not look healthy).
func (a *Agent) notReady() string {
	if !a.Ready() {
		return "no configuration loaded yet"
	}
	if s := a.storage(); !s.Healthy {
		return fmt.Sprintf("storage failing since %s: %s", s.Since.UTC().Format(time.RFC3339), s.Reason)
	}
	return ""
}
