package collectors

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// The node_exporter collectors of /proc and uname, each reading through
// github.com/prometheus/procfs as node_exporter v1.12.1 does
// (collector/<name>_linux.go), so that names, units and edge cases match.

// collectUname is node_exporter's uname collector: the host's identity,
// which the node-mixin's and Node Exporter Full's variables select on.
func (p *hostProber) collectUname(_ context.Context, s *sink) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	s.gauge("node_uname_info", "Labeled system information as provided by the uname system call.", 1,
		"sysname", unix.ByteSliceToString(u.Sysname[:]),
		"release", unix.ByteSliceToString(u.Release[:]),
		"version", unix.ByteSliceToString(u.Version[:]),
		"machine", unix.ByteSliceToString(u.Machine[:]),
		"nodename", unix.ByteSliceToString(u.Nodename[:]),
		"domainname", unix.ByteSliceToString(u.Domainname[:]))
	return nil
}

// collectLoadavg is node_exporter's loadavg collector.
func (p *hostProber) collectLoadavg(_ context.Context, s *sink) error {
	l, err := p.proc.LoadAvg()
	if err != nil {
		return fmt.Errorf("couldn't get load: %w", err)
	}
	s.gauge("node_load1", "1m load average.", l.Load1)
	s.gauge("node_load5", "5m load average.", l.Load5)
	s.gauge("node_load15", "15m load average.", l.Load15)
	return nil
}

// collectStat is node_exporter's stat collector (without the softirq
// vectors, off by default there too).
func (p *hostProber) collectStat(_ context.Context, s *sink) error {
	st, err := p.proc.Stat()
	if err != nil {
		return err
	}
	s.counter("node_intr_total", "Total number of interrupts serviced.", float64(st.IRQTotal))
	s.counter("node_context_switches_total", "Total number of context switches.", float64(st.ContextSwitches))
	s.counter("node_forks_total", "Total number of forks.", float64(st.ProcessCreated))
	s.gauge("node_boot_time_seconds", "Node boot time, in unixtime.", float64(st.BootTime))
	s.gauge("node_procs_running", "Number of processes in runnable state.", float64(st.ProcessesRunning))
	s.gauge("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.", float64(st.ProcessesBlocked))
	return nil
}

// cpuJumpBackSeconds is node_exporter's hotplug heuristic: an idle counter
// that goes back by this much means a new CPU, whose counters restart.
const cpuJumpBackSeconds = 3.0

// cpuCounters keeps each CPU's counters monotonic across probes, as
// node_exporter's cpu collector does: the kernel's per-CPU times can step
// back slightly, and a counter that decreases reads as a reset.
type cpuCounters struct {
	mu    sync.Mutex
	stats map[int64]procfs.CPUStat
}

func (c *cpuCounters) update(now map[int64]procfs.CPUStat) map[int64]procfs.CPUStat {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stats == nil {
		c.stats = map[int64]procfs.CPUStat{}
	}
	for id, n := range now {
		old := c.stats[id]
		if old.Idle-n.Idle >= cpuJumpBackSeconds {
			old = procfs.CPUStat{}
		}
		c.stats[id] = procfs.CPUStat{
			User: max(old.User, n.User), Nice: max(old.Nice, n.Nice), System: max(old.System, n.System),
			Idle: max(old.Idle, n.Idle), Iowait: max(old.Iowait, n.Iowait), IRQ: max(old.IRQ, n.IRQ),
			SoftIRQ: max(old.SoftIRQ, n.SoftIRQ), Steal: max(old.Steal, n.Steal),
			Guest: max(old.Guest, n.Guest), GuestNice: max(old.GuestNice, n.GuestNice),
		}
	}
	maps.DeleteFunc(c.stats, func(id int64, _ procfs.CPUStat) bool { _, ok := now[id]; return !ok })
	return maps.Clone(c.stats)
}

// collectCPU is node_exporter's cpu collector for /proc/stat, with its
// default --collector.cpu.guest.
func (p *hostProber) collectCPU(_ context.Context, s *sink) error {
	st, err := p.proc.Stat()
	if err != nil {
		return err
	}
	stats := p.cpu.update(st.CPU)
	for _, id := range slices.Sorted(maps.Keys(stats)) {
		c, cpu := stats[id], strconv.FormatInt(id, 10)
		for _, m := range []struct {
			mode string
			v    float64
		}{
			{"user", c.User}, {"nice", c.Nice}, {"system", c.System}, {"idle", c.Idle},
			{"iowait", c.Iowait}, {"irq", c.IRQ}, {"softirq", c.SoftIRQ}, {"steal", c.Steal},
		} {
			s.counter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", m.v, "cpu", cpu, "mode", m.mode)
		}
		// Guest time is also counted in user and nice.
		s.counter("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.", c.Guest, "cpu", cpu, "mode", "user")
		s.counter("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.", c.GuestNice, "cpu", cpu, "mode", "nice")
	}
	return nil
}
