package collectors

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// node_exporter's hwmon collector (collector/hwmon_linux.go of v1.12.1):
// the sensor files under sys_path/class/hwmon/hwmon*, named
// <type><num>_<property>, become node_hwmon_<type>[_<property>]_<unit>.
var (
	hwmonInvalidChars = regexp.MustCompile("[^a-z0-9:_]")
	hwmonFilename     = regexp.MustCompile(`^([^0-9]+)([0-9]*)?(_(.+))?$`)
	hwmonSensorTypes  = []string{"vrm", "beep_enable", "update_interval", "in", "cpu", "fan",
		"pwm", "temp", "curr", "power", "energy", "humidity", "intrusion", "freq"}
)

// hwmonUnit is how node_exporter names and scales one sensor type's
// elements; the first entry matching the type (and element, if set) wins.
var hwmonUnits = []struct {
	typ      string
	elements []string // nil: any element
	suffix   string
	help     string // %s is the element
	convert  func(float64) float64
	vt       prometheus.ValueType
}{
	{"in", nil, "_volts", "Hardware monitor for voltage (%s)", milli, prometheus.GaugeValue},
	{"cpu", nil, "_volts", "Hardware monitor for voltage (%s)", milli, prometheus.GaugeValue},
	{"temp", nil, "_celsius", "Hardware monitor for temperature (%s)", milli, prometheus.GaugeValue},
	{"curr", nil, "_amps", "Hardware monitor for current (%s)", milli, prometheus.GaugeValue},
	{"energy", nil, "_joule_total", "Hardware monitor for joules used so far (%s)", micro, prometheus.CounterValue},
	{"power", []string{"accuracy"}, "", "Hardware monitor power meter accuracy, as a ratio", micro, prometheus.GaugeValue},
	{"power", []string{"average_interval", "average_interval_min", "average_interval_max"}, "_seconds", "Hardware monitor power usage update interval (%s)", milli, prometheus.GaugeValue},
	{"power", nil, "_watt", "Hardware monitor for power usage in watts (%s)", micro, prometheus.GaugeValue},
	{"humidity", nil, "", "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (%s)", micro, prometheus.GaugeValue},
	{"fan", []string{"input", "min", "max", "target"}, "_rpm", "Hardware monitor for fan revolutions per minute (%s)", same, prometheus.GaugeValue},
}

// The sysfs units: milli (mV, mA, m°C, ms) and micro (µW, µJ, ppm), with
// node_exporter's own arithmetic so that the floats are equal to its.
func milli(v float64) float64 { return v * 0.001 }
func micro(v float64) float64 { return v / 1000000.0 }
func same(v float64) float64  { return v }

// cleanHwmonName is node_exporter's cleanMetricName, used for chip names
// and element suffixes.
func cleanHwmonName(name string) string {
	return strings.Trim(hwmonInvalidChars.ReplaceAllLiteralString(strings.ToLower(name), "_"), "_")
}

// splitHwmonFilename splits temp1_input into temp, 1, input.
func splitHwmonFilename(filename string) (typ string, num int, prop string, ok bool) {
	m := hwmonFilename.FindStringSubmatch(filename)
	if m == nil {
		return "", 0, "", false
	}
	if m[2] != "" {
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return "", 0, "", false
		}
		num = n
	}
	return m[1], num, m[4], true
}

// readHwmonFile reads a sensor file with one read(2): some drivers answer
// EAGAIN forever, which os.ReadFile would retry without end.
func readHwmonFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b := make([]byte, 128)
	n, err := unix.Read(int(f.Fd()), b)
	if err != nil {
		return "", err
	}
	if n < 0 {
		return "", fmt.Errorf("reading %s: read returned %d", path, n)
	}
	return strings.Trim(string(b[:n]), "\n"), nil
}

// readHwmonSensors adds dir's sensor files to data, by sensor (temp1) and
// property (input, max, "" for a bare temp1).
func readHwmonSensors(dir string, data map[string]map[string]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		typ, num, prop, ok := splitHwmonFilename(e.Name())
		if !ok || !slices.Contains(hwmonSensorTypes, typ) {
			continue
		}
		v, err := readHwmonFile(filepath.Join(dir, e.Name()))
		if err != nil { // unreadable sensors (write-only, broken driver) are skipped, as node_exporter
			continue
		}
		sensor := typ + strconv.Itoa(num)
		if data[sensor] == nil {
			data[sensor] = map[string]string{}
		}
		data[sensor][prop] = v
	}
	return nil
}

// hwmonChip names a hwmon directory by its device path, which is stable
// across boots (platform_coretemp_0), else by its name file, else hwmonN.
func hwmonChip(dir string) (string, error) {
	if dev, err := filepath.EvalSymlinks(filepath.Join(dir, "device")); err == nil {
		prefix, name := filepath.Split(dev)
		_, typ := filepath.Split(strings.TrimRight(prefix, "/"))
		name, typ = cleanHwmonName(name), cleanHwmonName(typ)
		if typ != "" && name != "" {
			return typ + "_" + name, nil
		}
		if name != "" {
			return name, nil
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "name")); err == nil {
		if name := cleanHwmonName(string(b)); name != "" {
			return name, nil
		}
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if name := cleanHwmonName(filepath.Base(real)); name != "" {
		return name, nil
	}
	return "", fmt.Errorf("no name for hwmon chip %s", dir)
}

// collectHwmon is node_exporter's hwmon collector: every hwmon chip's
// sensors (temperatures, fans, voltages, currents, power, energy, …), the
// chips' human-readable names and the sensors' labels.
func (p *hostProber) collectHwmon(_ context.Context, s *sink) error {
	root := filepath.Join(p.sysPath, "class", "hwmon")
	dirs, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no %s: %w", root, errNoData)
	}
	if err != nil {
		return err
	}
	// Several hwmon directories can share one parent device (asus-nb-wmi
	// has two), so their device-derived names collide: as node_exporter,
	// such names get the name file's content, or hwmonN, as a suffix.
	type chip struct{ dir, base, nameFile string }
	var chips []chip
	bases, baseNames := map[string]int{}, map[string]int{}
	for _, d := range dirs {
		dir := filepath.Join(root, d.Name())
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		base, err := hwmonChip(dir)
		if err != nil {
			p.logger.Debug("hwmon chip without a name", "dir", dir, "err", err)
			continue
		}
		c := chip{dir: dir, base: base}
		if b, err := os.ReadFile(filepath.Join(dir, "name")); err == nil {
			c.nameFile = strings.TrimSpace(string(b))
		}
		chips = append(chips, c)
		bases[base]++
		baseNames[base+"\x00"+c.nameFile]++
	}
	var lastErr error
	for _, c := range chips {
		name := c.base
		if bases[c.base] > 1 {
			suffix := cleanHwmonName(c.nameFile)
			if suffix == "" || baseNames[c.base+"\x00"+c.nameFile] > 1 {
				suffix = cleanHwmonName(filepath.Base(c.dir))
			}
			name += "_" + suffix
		}
		if err := hwmonChipSeries(s, c.dir, name); err != nil {
			lastErr = err
		}
	}
	return lastErr
}

// hwmonChipSeries reports one chip's series, labelled chip=name.
func hwmonChipSeries(s *sink, dir, chip string) error {
	data := map[string]map[string]string{}
	if err := readHwmonSensors(dir, data); err != nil {
		return err
	}
	// Some drivers put their sensor files on the device, not the hwmon node.
	if _, err := os.Stat(filepath.Join(dir, "device")); err == nil {
		if err := readHwmonSensors(filepath.Join(dir, "device"), data); err != nil {
			return err
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "name")); err == nil {
		if name := cleanHwmonName(string(b)); name != "" {
			s.gauge("node_hwmon_chip_names", "Annotation metric for human-readable chip names", 1, "chip", chip, "chip_name", name)
		}
	}
	// Sorted, so that every probe lists the series in the same order.
	for _, sensor := range slices.Sorted(maps.Keys(data)) {
		props := data[sensor]
		typ, _, _, _ := splitHwmonFilename(sensor)
		if label, ok := props["label"]; ok {
			s.gauge("node_hwmon_sensor_label", "Label for given chip and sensor", 1, "chip", chip, "sensor", sensor, "label", strings.ToValidUTF8(label, "�"))
		}
		switch typ {
		case "beep_enable":
			s.gauge("node_hwmon_beep_enabled", "Hardware beep enabled", boolToFloat(props[""] == "1"), "chip", chip, "sensor", sensor)
			continue
		case "vrm":
			if v, err := strconv.ParseFloat(props[""], 64); err == nil {
				s.gauge("node_hwmon_voltage_regulator_version", "Hardware voltage regulator", v, "chip", chip, "sensor", sensor)
			}
			continue
		case "update_interval":
			if v, err := strconv.ParseFloat(props[""], 64); err == nil {
				s.gauge("node_hwmon_update_interval_seconds", "Hardware monitor update interval", v*0.001, "chip", chip, "sensor", sensor)
			}
			continue
		}
		_, bare := props[""]
		for _, element := range slices.Sorted(maps.Keys(props)) {
			raw := props[element]
			if element == "label" {
				continue
			}
			v, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				continue
			}
			hwmonElement(s, chip, sensor, typ, element, v, bare, props["label"])
		}
	}
	return nil
}

// hwmonElement reports one sensor property, e.g. temp1_max, named and
// scaled as node_exporter does.
func hwmonElement(s *sink, chip, sensor, typ, element string, v float64, bare bool, label string) {
	name := "node_hwmon_" + typ
	switch {
	case element == "input" && bare: // both temp1 and temp1_input exist
		name += "_input"
	case element != "" && element != "input": // input is the sensor's value
		name += "_" + cleanHwmonName(element)
	}
	switch element {
	case "fault", "alarm":
		s.gauge(name, "Hardware sensor "+element+" status ("+typ+")", v, "chip", chip, "sensor", sensor)
		return
	case "beep":
		s.gauge(name+"_enabled", "Hardware monitor sensor has beeping enabled", v, "chip", chip, "sensor", sensor)
		return
	}
	if typ == "temp" && element == "type" { // the sensor kind (thermistor, diode), not a temperature
		s.gauge(name, "Hardware monitor "+typ+" element "+element, v, "chip", chip, "sensor", sensor)
		return
	}
	if typ == "freq" { // GPU clocks, named by their label
		if element == "input" && label != "" {
			s.gauge(name+"_freq_mhz", "Hardware monitor for GPU frequency in MHz", v/1e6, "chip", chip, "sensor", cleanHwmonName(label))
		}
		return
	}
	for _, u := range hwmonUnits {
		if u.typ != typ || (u.elements != nil && !slices.Contains(u.elements, element)) {
			continue
		}
		help := u.help
		if strings.Contains(help, "%s") {
			e := element
			if e == "" && typ == "temp" {
				e = "input"
			}
			help = fmt.Sprintf(help, e)
		}
		s.add(u.vt, name+u.suffix, help, u.convert(v), "chip", chip, "sensor", sensor)
		return
	}
	s.gauge(name, "Hardware monitor "+typ+" element "+element, v, "chip", chip, "sensor", sensor)
}
