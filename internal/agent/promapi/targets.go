package promapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"
)

// Target is one active scrape target, in Prometheus's /api/v1/targets shape.
type Target struct {
	DiscoveredLabels   labels.Labels       `json:"discoveredLabels"`
	Labels             labels.Labels       `json:"labels"`
	ScrapePool         string              `json:"scrapePool"`
	ScrapeURL          string              `json:"scrapeUrl"`
	GlobalURL          string              `json:"globalUrl"`
	LastError          string              `json:"lastError"`
	LastScrape         time.Time           `json:"lastScrape"`
	LastScrapeDuration float64             `json:"lastScrapeDuration"`
	Health             scrape.TargetHealth `json:"health"`
	ScrapeInterval     string              `json:"scrapeInterval"`
	ScrapeTimeout      string              `json:"scrapeTimeout"`
}

// DroppedTarget is a target relabelling dropped.
type DroppedTarget struct {
	DiscoveredLabels labels.Labels `json:"discoveredLabels"`
	ScrapePool       string        `json:"scrapePool"`
}

// TargetDiscovery is /api/v1/targets' data. Targets carries the agent's
// own probe targets as its status page shows them, for the clients written
// before the scrape targets were listed; Prometheus's clients ignore it.
type TargetDiscovery struct {
	ActiveTargets       []*Target        `json:"activeTargets"`
	DroppedTargets      []*DroppedTarget `json:"droppedTargets"`
	DroppedTargetCounts map[string]int   `json:"droppedTargetCounts"`
	Targets             any              `json:"targets,omitempty"`
}

// TargetsHandler serves /api/v1/targets with Prometheus's scrapePool and
// state parameters; probes, if not nil, fills data.targets.
func (a *API) TargetsHandler(probes func() any) http.Handler {
	return a.wrap(func(r *http.Request) result {
		d := a.targetDiscovery(r.FormValue("scrapePool"), strings.ToLower(r.FormValue("state")))
		if probes != nil {
			d.Targets = probes()
		}
		return result{data: d}
	})
}

func (a *API) targetDiscovery(pool, state string) *TargetDiscovery {
	showActive := state == "" || state == "any" || state == "active"
	showDropped := state == "" || state == "any" || state == "dropped"
	d := &TargetDiscovery{ActiveTargets: []*Target{}, DroppedTargets: []*DroppedTarget{}, DroppedTargetCounts: map[string]int{}}
	tr := a.targets()
	if tr == nil {
		return d
	}
	b := labels.NewBuilder(labels.EmptyLabels())
	if showActive {
		active := tr.TargetsActive()
		for _, p := range sortedPools(active) {
			if pool != "" && p != pool {
				continue
			}
			for _, t := range active[p] {
				lastErr := ""
				if err := t.LastError(); err != nil {
					lastErr = err.Error()
				}
				u := t.URL()
				d.ActiveTargets = append(d.ActiveTargets, &Target{
					DiscoveredLabels:   t.DiscoveredLabels(b),
					Labels:             t.Labels(b),
					ScrapePool:         p,
					ScrapeURL:          redactURL(u),
					GlobalURL:          redactURL(u),
					LastError:          lastErr,
					LastScrape:         t.LastScrape(),
					LastScrapeDuration: t.LastScrapeDuration().Seconds(),
					Health:             t.Health(),
					ScrapeInterval:     t.GetValue(model.ScrapeIntervalLabel),
					ScrapeTimeout:      t.GetValue(model.ScrapeTimeoutLabel),
				})
			}
		}
	}
	// Counted even when not listed, as Prometheus does.
	dropped := tr.TargetsDropped()
	for p, ts := range dropped {
		d.DroppedTargetCounts[p] = len(ts)
	}
	if showDropped {
		for _, p := range sortedPools(dropped) {
			if pool != "" && p != pool {
				continue
			}
			for _, t := range dropped[p] {
				d.DroppedTargets = append(d.DroppedTargets, &DroppedTarget{DiscoveredLabels: t.DiscoveredLabels(b), ScrapePool: p})
			}
		}
	}
	return d
}

func sortedPools(m map[string][]*scrape.Target) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// redactURL hides a password in a target's URL (userinfo from discovery).
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	if _, ok := u.User.Password(); ok {
		c := *u
		c.User = url.UserPassword(u.User.Username(), "xxxxx")
		return c.String()
	}
	return u.String()
}
