package collectors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
)

const nsPerSec = 1e9

// collectSoftnet is node_exporter's softnet collector: per-CPU packet
// processing of /proc/net/softnet_stat (drops and squeezes show a CPU that
// cannot keep up with the network).
func (p *hostProber) collectSoftnet(_ context.Context, s *sink) error {
	stats, err := p.proc.NetSoftnetStat()
	if err != nil {
		return fmt.Errorf("could not get softnet statistics: %w", err)
	}
	for _, st := range stats {
		cpu := strconv.FormatUint(uint64(st.Index), 10)
		s.counter("node_softnet_processed_total", "Number of processed packets", float64(st.Processed), "cpu", cpu)
		s.counter("node_softnet_dropped_total", "Number of dropped packets", float64(st.Dropped), "cpu", cpu)
		s.counter("node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota", float64(st.TimeSqueezed), "cpu", cpu)
		s.counter("node_softnet_cpu_collision_total", "Number of collision occur while obtaining device lock while transmitting", float64(st.CPUCollision), "cpu", cpu)
		s.counter("node_softnet_received_rps_total", "Number of times cpu woken up received_rps", float64(st.ReceivedRps), "cpu", cpu)
		s.counter("node_softnet_flow_limit_count_total", "Number of times flow limit has been reached", float64(st.FlowLimitCount), "cpu", cpu)
		s.gauge("node_softnet_backlog_len", "Softnet backlog status", float64(st.SoftnetBacklogLen), "cpu", cpu)
	}
	return nil
}

// collectSchedstat is node_exporter's schedstat collector: per-CPU run and
// run-queue wait time of /proc/schedstat.
func (p *hostProber) collectSchedstat(_ context.Context, s *sink) error {
	stats, err := p.proc.Schedstat()
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no /proc/schedstat: %w", errNoData)
	}
	if err != nil {
		return err
	}
	for _, c := range stats.CPUs {
		s.counter("node_schedstat_running_seconds_total", "Number of seconds CPU spent running a process.", float64(c.RunningNanoseconds)/nsPerSec, "cpu", c.CPUNum)
		s.counter("node_schedstat_waiting_seconds_total", "Number of seconds spent by processing waiting for this CPU.", float64(c.WaitingNanoseconds)/nsPerSec, "cpu", c.CPUNum)
		s.counter("node_schedstat_timeslices_total", "Number of timeslices executed by CPU.", float64(c.RunTimeslices), "cpu", c.CPUNum)
	}
	return nil
}
