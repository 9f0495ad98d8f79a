package agent

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// ScrapeTargetLister is the alerting engine's scrape manager as the status
// page reads it (Prometheus's *scrape.Manager).
type ScrapeTargetLister interface {
	TargetsActive() map[string][]*scrape.Target
}

// scrapeSource is a rule engine that runs the scrape_configs; its lister
// is nil while no scrape manager runs.
type scrapeSource interface {
	ScrapeTargetLister() ScrapeTargetLister
}

// ScrapeTargetState is one scrape target's health on the status page,
// what Prometheus's /targets page shows: an on-call who sees AppDown sees
// why here.
type ScrapeTargetState struct {
	Job, Instance string
	URL           string // secret query parameters redacted
	Health        string // up, down or unknown (not scraped yet)
	LastScrape    time.Time
	Duration      time.Duration
	LastError     string // secrets redacted
}

// scrapeTargets lists the active scrape targets by job and instance.
func (a *Agent) scrapeTargets() []ScrapeTargetState {
	a.mu.RLock()
	src, _ := a.rules.(scrapeSource)
	a.mu.RUnlock()
	if src == nil {
		return nil
	}
	l := src.ScrapeTargetLister()
	if l == nil {
		return nil
	}
	var out []ScrapeTargetState
	lb := labels.NewBuilder(labels.EmptyLabels())
	for job, targets := range l.TargetsActive() {
		for _, t := range targets {
			raw := t.URL().String()
			s := ScrapeTargetState{
				Job:        job,
				Instance:   t.Labels(lb).Get("instance"),
				URL:        config.RedactURI(raw),
				Health:     string(t.Health()),
				LastScrape: t.LastScrape(),
				Duration:   t.LastScrapeDuration().Round(time.Millisecond),
			}
			if err := t.LastError(); err != nil {
				// Go's HTTP errors quote the URL: redact it whole first.
				msg := strings.ReplaceAll(err.Error(), raw, s.URL)
				s.LastError = config.Scrub(msg, config.URISecrets(raw))
			}
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(x, y ScrapeTargetState) int {
		return cmp.Or(cmp.Compare(x.Job, y.Job), cmp.Compare(x.Instance, y.Instance), cmp.Compare(x.URL, y.URL))
	})
	return out
}
