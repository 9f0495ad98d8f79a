package agent

import (
	_ "embed"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sh/vigil/internal/buildinfo"
)

// TargetStatus is one target as the status page and /api/v1/targets show it.
// It never carries configuration secrets: errors are scrubbed when recorded.
type TargetStatus struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Job and Instance identify the target's series, as the exporter it
	// replaces would be identified once scraped.
	Job      string            `json:"job"`
	Instance string            `json:"instance"`
	Labels   map[string]string `json:"labels,omitempty"`
	Health   string            `json:"health"` // up, down, unknown (not probed yet)
	Interval string            `json:"interval"`
	Timeout  string            `json:"timeout"`
	// LastProbe is zero until the first probe finishes.
	LastProbe           time.Time     `json:"lastProbe"`
	LastDurationSeconds float64       `json:"lastDurationSeconds"`
	LastError           string        `json:"lastError"`
	Reason              string        `json:"reason"`
	Probes              uint64        `json:"probes"`
	Failures            uint64        `json:"failures"`
	History             []ProbeStatus `json:"history"` // most recent last
}

// ProbeStatus is one recent probe of a target.
type ProbeStatus struct {
	Time            time.Time `json:"time"`
	Success         bool      `json:"success"`
	DurationSeconds float64   `json:"durationSeconds"`
	Reason          string    `json:"reason,omitempty"`
	Error           string    `json:"error,omitempty"`
}

const (
	healthUp      = "up"
	healthDown    = "down"
	healthUnknown = "unknown"
)

// Targets is the state of every target, in configuration order.
func (a *Agent) Targets() []TargetStatus {
	runners := a.snapshot()
	out := make([]TargetStatus, 0, len(runners))
	for _, r := range runners {
		s := r.state()
		ts := TargetStatus{
			Name:     r.target.Name,
			Kind:     string(r.target.Kind),
			Job:      r.target.Job,
			Instance: r.target.Instance,
			Labels:   r.target.Labels,
			Health:   healthUnknown,
			Interval: r.target.Interval.String(),
			Timeout:  r.target.Timeout.String(),
			Probes:   s.probes,
			Failures: s.failures,
			History:  make([]ProbeStatus, len(s.history)),
		}
		if rec := s.lastRec; rec != nil {
			ts.Health = healthDown
			if rec.Success {
				ts.Health = healthUp
			}
			ts.LastProbe = rec.Time
			ts.LastDurationSeconds = rec.Duration.Seconds()
			ts.LastError = rec.Err
			ts.Reason = rec.Reason
		}
		for i, h := range s.history {
			ts.History[i] = ProbeStatus{Time: h.Time, Success: h.Success, DurationSeconds: h.Duration.Seconds(), Reason: h.Reason, Error: h.Err}
		}
		out = append(out, ts)
	}
	return out
}

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return time.Since(t).Truncate(time.Millisecond).String() + " ago"
	},
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("15:04:05.000")
	},
	"pct": func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "—"
		}
		return strconv.FormatFloat(100*v, 'f', 2, 64) + "%"
	},
	"availClass": func(v float64) string {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return "unknown"
		case v >= 0.999:
			return "up"
		case v >= 0.99:
			return "pending"
		}
		return "down"
	},
	// Long errors (MongoDB's topology dumps) fold to one line.
	"long": func(s string) bool { return len(s) > foldAt || strings.Contains(s, "\n") },
	"short": func(s string) string {
		s, _, _ = strings.Cut(s, "\n")
		if len(s) > foldAt {
			s = s[:foldAt] + "…"
		}
		return s
	},
	"ms": func(s float64) string {
		d := time.Duration(s * float64(time.Second))
		if d < time.Millisecond {
			return d.Round(time.Microsecond).String()
		}
		return d.Round(100 * time.Microsecond).String()
	},
}).Parse(statusHTML))

// foldAt is the length past which an error is folded on the status page.
const foldAt = 120

// targetRow is a target on the status page: its state and its history
// from the TSDB.
type targetRow struct {
	TargetStatus
	Hist *targetHistory
}

type statusPage struct {
	Version, Revision, GoVersion string
	ConfigFile                   string
	Now                          time.Time
	Ready                        bool
	NotReady                     string
	Storage                      StorageStatus
	NoAlertmanager               bool
	Targets                      []TargetStatus
	Rows                         []targetRow
	SparkWidth, SparkHeight      int
	LongWindow                   string
	HistoryErr                   string
	ReloadErr                    string
	ReloadAt                     time.Time
	Delivery                     []AlertmanagerState
	HasEngine                    bool
	Up, Down                     int
	Alerts                       []Alert
	Scrapes                      []ScrapeTargetState
	RemoteWrite                  []RemoteWriteState
}

func (a *Agent) serveStatus(w http.ResponseWriter, r *http.Request) {
	p := statusPage{
		Version:     buildinfo.Version,
		Revision:    buildinfo.Revision,
		GoVersion:   buildinfo.GoVersion(),
		ConfigFile:  a.opts.ConfigFile,
		Now:         time.Now(),
		Ready:       a.Ready(),
		NotReady:    a.notReady(),
		Storage:     a.storage(),
		Targets:     a.Targets(),
		Alerts:      a.alerts(),
		Scrapes:     a.scrapeTargets(),
		RemoteWrite: a.remoteWriteStatus(),
	}
	if p.ConfigFile == "" {
		p.ConfigFile = "(none: built-in defaults)"
	}
	a.mu.RLock()
	p.ReloadErr, p.ReloadAt = a.lastReload.err, a.lastReload.at
	a.mu.RUnlock()
	p.SparkWidth, p.SparkHeight = sparkWidth, sparkHeight
	hist := map[string]*targetHistory{}
	if src := a.statusSource(); src != nil {
		p.HasEngine = true
		p.Delivery = src.Delivery()
		h, long, err := a.history(r.Context(), src, p.Now)
		hist = h
		p.LongWindow = windowLabel(long)
		if err != nil {
			p.HistoryErr = err.Error()
		}
	}
	for _, t := range p.Targets {
		h := hist[t.Name]
		if h == nil {
			h = &targetHistory{AvailShort: math.NaN(), AvailLong: math.NaN()}
		}
		p.Rows = append(p.Rows, targetRow{TargetStatus: t, Hist: h})
	}
	for _, t := range p.Targets {
		switch t.Health {
		case healthUp:
			p.Up++
		case healthDown:
			p.Down++
		}
	}
	if cfg := a.Config(); cfg != nil {
		p.NoAlertmanager = len(cfg.Alerting.Alertmanagers) == 0
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusTemplate.Execute(w, p); err != nil {
		a.logger.Error("rendering the status page", "err", err)
	}
}
