package collectors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// errNoData is node_exporter's ErrNoData: the kernel does not offer what
// the collector reads. The collector reports success 0, like a failure.
var errNoData = errors.New("collector returned no data")

// collectPressure is node_exporter's pressure collector: the PSI stall
// totals of /proc/pressure (kernel 4.20+, irq 6.1+), in seconds.
func (p *hostProber) collectPressure(_ context.Context, s *sink) error {
	found := 0
	for _, res := range []string{"cpu", "io", "memory", "irq"} {
		v, err := p.proc.PSIStatsForResource(res)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue // this kernel has no PSI for res
		case errors.Is(err, syscall.ENOTSUP):
			return fmt.Errorf("pressure information is disabled (psi=0): %w", errNoData)
		case err != nil:
			return fmt.Errorf("failed to retrieve pressure stats: %w", err)
		}
		if v.Some == nil && res != "irq" || v.Full == nil && res != "cpu" {
			return fmt.Errorf("%s pressure lacks some or full: %w", res, errNoData)
		}
		switch res {
		case "cpu":
			s.counter("node_pressure_cpu_waiting_seconds_total", "Total time in seconds that processes have waited for CPU time", float64(v.Some.Total)/1000.0/1000.0)
		case "io":
			s.counter("node_pressure_io_waiting_seconds_total", "Total time in seconds that processes have waited due to IO congestion", float64(v.Some.Total)/1000.0/1000.0)
			s.counter("node_pressure_io_stalled_seconds_total", "Total time in seconds no process could make progress due to IO congestion", float64(v.Full.Total)/1000.0/1000.0)
		case "memory":
			s.counter("node_pressure_memory_waiting_seconds_total", "Total time in seconds that processes have waited for memory", float64(v.Some.Total)/1000.0/1000.0)
			s.counter("node_pressure_memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion", float64(v.Full.Total)/1000.0/1000.0)
		case "irq":
			s.counter("node_pressure_irq_stalled_seconds_total", "Total time in seconds no process could make progress due to IRQ congestion", float64(v.Full.Total)/1000.0/1000.0)
		}
		found++
	}
	if found == 0 {
		return fmt.Errorf("no /proc/pressure (kernel < 4.20 or CONFIG_PSI off): %w", errNoData)
	}
	return nil
}
