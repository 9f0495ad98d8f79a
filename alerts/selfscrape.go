package alerts

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// selfScrape appends the agent's own registry as job="agent" every global
// interval. It gathers in process instead of going through the scrape
// manager: data produced in the process is appended in the process, never
// serialized and parsed back.
type selfScrape struct {
	*seriesWriter
	g                 prometheus.Gatherer
	interval, timeout time.Duration

	cancel context.CancelFunc
	done   chan struct{}
}

func newSelfScrape(db storage.AppendableV2, g prometheus.Gatherer, instance string, interval, timeout time.Duration, logger *slog.Logger) *selfScrape {
	base := labels.FromStrings("instance", instance, "job", "agent")
	return &selfScrape{
		seriesWriter: newSeriesWriter(db, base, logger.With("component", "self-scrape")),
		g:            g,
		interval:     interval,
		timeout:      min(timeout, interval),
	}
}

func (s *selfScrape) start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		tick := time.NewTicker(s.interval)
		defer tick.Stop()
		for {
			s.once(ctx, time.Now())
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// stop ends the loop without staleness markers: the next loop (a changed
// interval, or the agent restarted) continues the same series.
func (s *selfScrape) stop() {
	if s != nil && s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

func (s *selfScrape) once(ctx context.Context, start time.Time) {
	sctx, cancel := context.WithTimeout(ctx, s.timeout)
	fams, err := gatherWithContext(sctx, s.g)
	cancel()
	dur := time.Since(start)
	if ctx.Err() != nil {
		return // shutting down: write nothing, not even up=0
	}
	up := 1.0
	var samples []sample
	if err != nil {
		up = 0
		s.logger.Debug("self-scrape failed", "err", err)
	} else {
		samples = flatten(fams, s.base)
	}
	s.write(ctx, start, samples, up, dur)
}
