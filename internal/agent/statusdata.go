package agent

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// reloadState is the outcome of the last reload.
type reloadState struct {
	at  time.Time
	err string // empty when it succeeded
}

func (a *Agent) noteReload(err error) {
	s := reloadState{at: time.Now()}
	if err != nil {
		s.err = err.Error()
	}
	a.mu.Lock()
	a.lastReload = s
	a.mu.Unlock()
}

// AlertmanagerState is one Alertmanager's delivery state on the status page.
type AlertmanagerState struct {
	Name        string
	URL         string // credentials redacted
	QueueLength int
	Sent        uint64
	Failed      uint64
	Dropped     uint64
	LastSuccess time.Time
	LastError   string
	LastErrorAt time.Time
}

// RemoteWriteState is one remote_write queue on the status page, from
// upstream's prometheus_remote_storage_* metrics.
type RemoteWriteState struct {
	Name, Endpoint                          string // endpoint's password redacted
	Pending, Sent, Failed, Retried, Dropped float64
	Shards                                  float64
	LastSent                                time.Time     // highest sample timestamp sent
	Lag                                     time.Duration // newest enqueued minus LastSent
}

// remoteWriteStatus is the engine's remote_write state, when it has one.
func (a *Agent) remoteWriteStatus() []RemoteWriteState {
	a.mu.RLock()
	s, _ := a.rules.(interface{ RemoteWrite() []RemoteWriteState })
	a.mu.RUnlock()
	if s == nil {
		return nil
	}
	return s.RemoteWrite()
}

// Series and Point are a range query's result.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample of a Series.
type Point struct {
	T time.Time
	V float64
}

// statusSource is what the status page reads from the alerting engine
// beyond alerts: delivery state and the local TSDB.
type statusSource interface {
	Delivery() []AlertmanagerState
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error)
	Retention() time.Duration
}

func (a *Agent) statusSource() statusSource {
	a.mu.RLock()
	defer a.mu.RUnlock()
	s, _ := a.rules.(statusSource)
	return s
}

// targetHistory is a target's availability and latency from the TSDB.
type targetHistory struct {
	AvailShort, AvailLong float64 // ratio, NaN when unknown
	Spark                 Sparkline
}

// Sparkline is an inline SVG polyline of a target's probe latency.
type Sparkline struct {
	Points string // SVG polyline points; empty without data
	Max    float64
	Last   float64
	Count  int
}

const (
	sparkWidth  = 120
	sparkHeight = 24
	sparkSteps  = 60
)

// Queries over the agent's own series (kept with the `target` label).
const (
	availabilityQuery = `1 - (sum by (target) (increase(vigil_probe_failures_total[%s])) / sum by (target) (increase(vigil_probes_total[%s])))`
	latencyQuery      = `max by (target) (vigil_probe_last_duration_seconds)`
)

// history queries the TSDB for every target at once (three queries,
// whatever the number of targets), bounded by a short deadline: the
// status page must answer even when the storage struggles.
func (a *Agent) history(ctx context.Context, src statusSource, now time.Time) (map[string]*targetHistory, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	long := min(24*time.Hour, src.Retention())
	out := map[string]*targetHistory{}
	get := func(name string) *targetHistory {
		h, ok := out[name]
		if !ok {
			h = &targetHistory{AvailShort: math.NaN(), AvailLong: math.NaN()}
			out[name] = h
		}
		return h
	}
	for _, w := range []struct {
		d   time.Duration
		set func(*targetHistory, float64)
	}{
		{time.Hour, func(h *targetHistory, v float64) { h.AvailShort = v }},
		{long, func(h *targetHistory, v float64) { h.AvailLong = v }},
	} {
		r := promDuration(w.d)
		res, err := src.QueryRange(ctx, fmt.Sprintf(availabilityQuery, r, r), now, now, time.Second)
		if err != nil {
			return out, long, err
		}
		for _, s := range res {
			if len(s.Points) > 0 {
				w.set(get(s.Labels["target"]), s.Points[len(s.Points)-1].V)
			}
		}
	}
	// The chart covers the last hour, or the time since the agent started.
	start := now.Add(-time.Hour)
	if a.started.After(start) {
		start = a.started
	}
	step := max(now.Sub(start)/sparkSteps, time.Second)
	res, err := src.QueryRange(ctx, latencyQuery, start, now, step)
	if err != nil {
		return out, long, err
	}
	for _, s := range res {
		get(s.Labels["target"]).Spark = sparkline(s.Points, start, now)
	}
	return out, long, nil
}

// sparkline scales points into the chart's box: time left to right, zero
// latency at the bottom, the window's maximum at the top.
func sparkline(pts []Point, start, end time.Time) Sparkline {
	sp := Sparkline{Count: len(pts)}
	if len(pts) == 0 {
		return sp
	}
	for _, p := range pts {
		sp.Max = max(sp.Max, p.V)
	}
	sp.Last = pts[len(pts)-1].V
	span := end.Sub(start).Seconds()
	var b strings.Builder
	for i, p := range pts {
		x := float64(sparkWidth)
		if span > 0 {
			x = p.T.Sub(start).Seconds() / span * sparkWidth
		}
		y := float64(sparkHeight - 1)
		if sp.Max > 0 {
			y = (sparkHeight - 1) - p.V/sp.Max*(sparkHeight-2)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(y, 'f', 1, 64))
	}
	sp.Points = b.String()
	return sp
}

// promDuration writes d as a PromQL range (1h, 2h, 1d, 90m).
func promDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return strconv.Itoa(int(max(d/time.Second, 1))) + "s"
}

// windowLabel names a window for a column header.
func windowLabel(d time.Duration) string {
	if d == 24*time.Hour {
		return "day"
	}
	return promDuration(d) + " (retention)"
}
