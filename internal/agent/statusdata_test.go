package agent

import (
	"strings"
	"testing"
	"time"
)

func TestSparklineScales(t *testing.T) {
	start := time.Unix(1000, 0)
	pts := []Point{{start, 0.1}, {start.Add(30 * time.Second), 0.4}, {start.Add(60 * time.Second), 0.2}}
	sp := sparkline(pts, start, start.Add(60*time.Second))
	if sp.Max != 0.4 || sp.Last != 0.2 || sp.Count != 3 {
		t.Errorf("max %g last %g count %d", sp.Max, sp.Last, sp.Count)
	}
	// x across the width, the maximum at the top (y=1), zero at the bottom.
	if sp.Points != "0.0,17.5 60.0,1.0 120.0,12.0" {
		t.Errorf("points = %q", sp.Points)
	}
	if got := sparkline(nil, start, start); got.Points != "" {
		t.Errorf("no data drew %q", got.Points)
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 2 * time.Hour: "2h", 24 * time.Hour: "1d", 90 * time.Minute: "90m", 1500 * time.Millisecond: "1s"} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%s) = %s, want %s", d, got, want)
		}
	}
	if !strings.Contains(windowLabel(2*time.Hour), "retention") || windowLabel(24*time.Hour) != "day" {
		t.Error("window labels")
	}
}
