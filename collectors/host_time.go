package collectors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/procfs/sysfs"
)

// collectTime is node_exporter's time collector: the clock (for the
// dashboards' clock-skew panels), the zone offset and the clocksources.
func (p *hostProber) collectTime(_ context.Context, s *sink) error {
	now := time.Now()
	zone, offset := now.Zone()
	s.gauge("node_time_seconds", "System time in seconds since epoch (1970).", float64(now.UnixNano())/1e9)
	s.gauge("node_time_zone_offset_seconds", "System time zone offset in seconds.", float64(offset), "time_zone", zone)
	fs, err := sysfs.NewFS(p.sysPath)
	if err != nil {
		return fmt.Errorf("failed to open sysfs: %w", err)
	}
	sources, err := fs.ClockSources()
	if err != nil {
		return fmt.Errorf("couldn't get clocksources: %w", err)
	}
	// As node_exporter, device is the clocksource's position, not its name.
	for i, cs := range sources {
		dev := strconv.Itoa(i)
		for _, a := range cs.Available {
			s.gauge("node_time_clocksource_available_info", "Available clocksources read from '/sys/devices/system/clocksource'.", 1, "device", dev, "clocksource", a)
		}
		s.gauge("node_time_clocksource_current_info", "Current clocksource read from '/sys/devices/system/clocksource'.", 1, "device", dev, "clocksource", cs.Current)
	}
	return nil
}

// collectEntropy is node_exporter's entropy collector.
func (p *hostProber) collectEntropy(_ context.Context, s *sink) error {
	r, err := p.proc.KernelRandom()
	if err != nil {
		return fmt.Errorf("failed to get kernel random stats: %w", err)
	}
	if r.EntropyAvaliable == nil {
		return errors.New("couldn't get entropy_avail")
	}
	s.gauge("node_entropy_available_bits", "Bits of available entropy.", float64(*r.EntropyAvaliable))
	if r.PoolSize == nil {
		return errors.New("couldn't get entropy poolsize")
	}
	s.gauge("node_entropy_pool_size_bits", "Bits of entropy pool.", float64(*r.PoolSize))
	return nil
}

// collectThermalZone is node_exporter's thermal_zone collector: each
// zone's temperature and each cooling device's throttle state, from
// sys_path/class/thermal.
func (p *hostProber) collectThermalZone(_ context.Context, s *sink) error {
	fs, err := sysfs.NewFS(p.sysPath)
	if err != nil {
		return fmt.Errorf("failed to open sysfs: %w", err)
	}
	zones, err := fs.ClassThermalZoneStats()
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrInvalid) || errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("thermal zones unreadable: %w (%w)", errNoData, err)
	}
	if err != nil {
		return err
	}
	for _, z := range zones {
		s.gauge("node_thermal_zone_temp", "Zone temperature in Celsius", float64(z.Temp)/1000.0, "zone", z.Name, "type", z.Type)
	}
	devices, err := fs.ClassCoolingDeviceStats()
	if err != nil {
		return err
	}
	for _, d := range devices {
		s.gauge("node_cooling_device_cur_state", "Current throttle state of the cooling device", float64(d.CurState), "name", d.Name, "type", d.Type)
		s.gauge("node_cooling_device_max_state", "Maximum throttle state of the cooling device", float64(d.MaxState), "name", d.Name, "type", d.Type)
	}
	return nil
}
