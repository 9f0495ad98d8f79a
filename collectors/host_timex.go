package collectors

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

const (
	timexTimeError = 5      // adjtimex's TIME_ERROR: the clock is not synchronised
	timexStaNano   = 0x2000 // STA_NANO: offset and jitter are in nanoseconds
	timexPPM16     = 1000000.0 * 65536.0
)

// collectTimex is node_exporter's timex collector: the kernel's NTP state
// from adjtimex(2), which the node-mixin's clock-skew and not-synchronising
// alerts read.
func (p *hostProber) collectTimex(_ context.Context, s *sink) error {
	var tx unix.Timex
	status, err := unix.Adjtimex(&tx)
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("adjtimex: %w (%w)", errNoData, err)
	}
	if err != nil {
		return fmt.Errorf("failed to retrieve adjtimex stats: %w", err)
	}
	divisor := 1e6
	if tx.Status&timexStaNano != 0 {
		divisor = 1e9
	}
	for _, m := range []struct {
		name, help string
		vt         prometheus.ValueType
		v          float64
	}{
		{"sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", prometheus.GaugeValue, boolToFloat(status != timexTimeError)},
		{"offset_seconds", "Time offset in between local system and reference clock.", prometheus.GaugeValue, float64(tx.Offset) / divisor},
		{"frequency_adjustment_ratio", "Local clock frequency adjustment.", prometheus.GaugeValue, 1 + float64(tx.Freq)/timexPPM16},
		{"maxerror_seconds", "Maximum error in seconds.", prometheus.GaugeValue, float64(tx.Maxerror) / 1e6},
		{"estimated_error_seconds", "Estimated error in seconds.", prometheus.GaugeValue, float64(tx.Esterror) / 1e6},
		{"status", "Value of the status array bits.", prometheus.GaugeValue, float64(tx.Status)},
		{"loop_time_constant", "Phase-locked loop time constant.", prometheus.GaugeValue, float64(tx.Constant)},
		{"tick_seconds", "Seconds between clock ticks.", prometheus.GaugeValue, float64(tx.Tick) / 1e6},
		{"pps_frequency_hertz", "Pulse per second frequency.", prometheus.GaugeValue, float64(tx.Ppsfreq) / timexPPM16},
		{"pps_jitter_seconds", "Pulse per second jitter.", prometheus.GaugeValue, float64(tx.Jitter) / divisor},
		{"pps_shift_seconds", "Pulse per second interval duration.", prometheus.GaugeValue, float64(tx.Shift)},
		{"pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.", prometheus.GaugeValue, float64(tx.Stabil) / timexPPM16},
		{"pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", prometheus.CounterValue, float64(tx.Jitcnt)},
		{"pps_calibration_total", "Pulse per second count of calibration intervals.", prometheus.CounterValue, float64(tx.Calcnt)},
		{"pps_error_total", "Pulse per second count of calibration errors.", prometheus.CounterValue, float64(tx.Errcnt)},
		{"pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.", prometheus.CounterValue, float64(tx.Stbcnt)},
		{"tai_offset_seconds", "International Atomic Time (TAI) offset.", prometheus.GaugeValue, float64(tx.Tai)},
	} {
		s.add(m.vt, "node_timex_"+m.name, m.help, m.v)
	}
	return nil
}
