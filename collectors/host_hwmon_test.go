package collectors

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// TestHostHwmon checks node_exporter's hwmon names, labels and units on the
// fixture's two chips: coretemp, named by its platform device, and a
// device-less nct6779 named by its name file.
func TestHostHwmon(t *testing.T) {
	res := hostFixture(t, config.HostTarget{}).Probe(t.Context())
	mfs := gatherProbe(t, res)
	const core, nct = "platform_coretemp_0", "nct6779"
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"node_hwmon_chip_names", []string{"chip", core, "chip_name", "coretemp"}, 1},
		{"node_hwmon_chip_names", []string{"chip", nct, "chip_name", "nct6779"}, 1},
		{"node_hwmon_sensor_label", []string{"chip", core, "sensor", "temp1", "label", "Package id 0"}, 1},
		{"node_hwmon_sensor_label", []string{"chip", nct, "sensor", "in0", "label", "Vcore"}, 1},
		{"node_hwmon_temp_celsius", []string{"chip", core, "sensor", "temp1"}, 55},
		{"node_hwmon_temp_celsius", []string{"chip", core, "sensor", "temp2"}, 53},
		{"node_hwmon_temp_max_celsius", []string{"chip", core, "sensor", "temp1"}, 84},
		{"node_hwmon_temp_crit_celsius", []string{"chip", core, "sensor", "temp2"}, 100},
		{"node_hwmon_temp_crit_alarm_celsius", []string{"chip", core, "sensor", "temp1"}, 0},
		{"node_hwmon_temp_type", []string{"chip", nct, "sensor", "temp3"}, 4},
		{"node_hwmon_fan_rpm", []string{"chip", nct, "sensor", "fan1"}, 1215},
		{"node_hwmon_fan_min_rpm", []string{"chip", nct, "sensor", "fan1"}, 300},
		{"node_hwmon_fan_alarm", []string{"chip", nct, "sensor", "fan1"}, 0},
		{"node_hwmon_fan_beep_enabled", []string{"chip", nct, "sensor", "fan1"}, 1},
		{"node_hwmon_in_volts", []string{"chip", nct, "sensor", "in0"}, 1.104},
		{"node_hwmon_in_max_volts", []string{"chip", nct, "sensor", "in0"}, 1.744},
		{"node_hwmon_curr_amps", []string{"chip", nct, "sensor", "curr1"}, 1.5},
		{"node_hwmon_power_average_watt", []string{"chip", nct, "sensor", "power1"}, 12.5},
		{"node_hwmon_power_cap_watt", []string{"chip", nct, "sensor", "power1"}, 25},
		{"node_hwmon_power_average_interval_seconds", []string{"chip", nct, "sensor", "power1"}, 1},
		{"node_hwmon_energy_joule_total", []string{"chip", nct, "sensor", "energy1"}, 123.456789},
		{"node_hwmon_humidity", []string{"chip", nct, "sensor", "humidity1"}, 0.45},
		{"node_hwmon_intrusion_alarm", []string{"chip", nct, "sensor", "intrusion0"}, 1},
		{"node_hwmon_pwm", []string{"chip", nct, "sensor", "pwm1"}, 128},
		{"node_hwmon_pwm_enable", []string{"chip", nct, "sensor", "pwm1"}, 2},
		{"node_hwmon_beep_enabled", []string{"chip", nct, "sensor", "beep_enable0"}, 1},
		{"node_hwmon_update_interval_seconds", []string{"chip", nct, "sensor", "update_interval0"}, 1},
	}
	for _, tt := range tests {
		if got := mustValue(t, mfs, tt.name, tt.labels...); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if n := len(mfs["node_hwmon_temp_celsius"].GetMetric()); n != 3 {
		t.Errorf("%d node_hwmon_temp_celsius series, want 3 (temp1, temp2 of coretemp, temp3 of nct6779)", n)
	}
}

// TestHostHwmonSharedDevice: two hwmon nodes of one device (asus-nb-wmi
// has two) get the name file, or when that is shared too the hwmonN, as a
// suffix, as node_exporter, instead of colliding series.
func TestHostHwmonSharedDevice(t *testing.T) {
	sys := t.TempDir()
	dev := filepath.Join(sys, "devices", "platform", "asus-nb-wmi")
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"asus", "asus_wmi", "asus_wmi"} {
		hw := filepath.Join(dev, "hwmon", "hwmon"+string(rune('0'+i)))
		write(filepath.Join(hw, "name"), name+"\n")
		write(filepath.Join(hw, "fan1_input"), "1000\n")
		if err := os.Symlink(dev, filepath.Join(hw, "device")); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(sys, "class", "hwmon"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(hw, filepath.Join(sys, "class", "hwmon", filepath.Base(hw))); err != nil {
			t.Fatal(err)
		}
	}
	p := hostFixture(t, config.HostTarget{})
	p.sysPath = sys
	s := newSink()
	if err := p.collectHwmon(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	mfs := gatherProbe(t, Result{Families: s.families})
	for _, chip := range []string{"platform_asus_nb_wmi_asus", "platform_asus_nb_wmi_hwmon1", "platform_asus_nb_wmi_hwmon2"} {
		mustValue(t, mfs, "node_hwmon_fan_rpm", "chip", chip, "sensor", "fan1")
	}
}

// TestHostHwmonNoClass: without sys_path/class/hwmon the collector reports
// no data (success 0), as node_exporter's ErrNoData.
func TestHostHwmonNoClass(t *testing.T) {
	p := hostFixture(t, config.HostTarget{})
	p.sysPath = t.TempDir()
	if err := p.collectHwmon(t.Context(), newSink()); !errors.Is(err, errNoData) {
		t.Errorf("error %v, want errNoData", err)
	}
}
