package collectors

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs/blockdevice"
)

// diskstatsExclude is node_exporter's default
// --collector.diskstats.device-exclude: partitions and RAM, loop and
// floppy devices, whose I/O is already counted on their disk or is none.
var diskstatsExclude = regexp.MustCompile(`^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`)

// secondsPerTick is node_exporter's: multiplying by it rather than
// dividing by 1000 gives its exact float values.
const secondsPerTick = 1.0 / 1000.0

// diskCounters are /proc/diskstats' fields in their order, with
// node_exporter's names and unit conversion (sectors of 512 bytes, ticks
// of a millisecond).
var diskCounters = []struct {
	name, help string
	vt         prometheus.ValueType
	value      func(blockdevice.Diskstats) float64
}{
	{"node_disk_reads_completed_total", "The total number of reads completed successfully.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.ReadIOs) }},
	{"node_disk_reads_merged_total", "The total number of reads merged.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.ReadMerges) }},
	{"node_disk_read_bytes_total", "The total number of bytes read successfully.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.ReadSectors) * 512 }},
	{"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.ReadTicks) * secondsPerTick }},
	{"node_disk_writes_completed_total", "The total number of writes completed successfully.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.WriteIOs) }},
	{"node_disk_writes_merged_total", "The number of writes merged.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.WriteMerges) }},
	{"node_disk_written_bytes_total", "The total number of bytes written successfully.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.WriteSectors) * 512 }},
	{"node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.WriteTicks) * secondsPerTick }},
	{"node_disk_io_now", "The number of I/Os currently in progress.", prometheus.GaugeValue, func(d blockdevice.Diskstats) float64 { return float64(d.IOsInProgress) }},
	{"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.IOsTotalTicks) * secondsPerTick }},
	{"node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.WeightedIOTicks) * secondsPerTick }},
	{"node_disk_discards_completed_total", "The total number of discards completed successfully.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.DiscardIOs) }},
	{"node_disk_discards_merged_total", "The total number of discards merged.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.DiscardMerges) }},
	{"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.DiscardSectors) }},
	{"node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.DiscardTicks) * secondsPerTick }},
	{"node_disk_flush_requests_total", "The total number of flush requests completed successfully", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.FlushRequestsCompleted) }},
	{"node_disk_flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests.", prometheus.CounterValue, func(d blockdevice.Diskstats) float64 { return float64(d.TimeSpentFlushing) * secondsPerTick }},
}

// diskATA are the udev properties of an ATA disk node_exporter reports,
// each as its own gauge.
var diskATA = []struct{ property, name, help string }{
	{"ID_ATA_WRITE_CACHE", "node_disk_ata_write_cache", "ATA disk has a write cache."},
	{"ID_ATA_WRITE_CACHE_ENABLED", "node_disk_ata_write_cache_enabled", "ATA disk has its write cache enabled."},
	{"ID_ATA_ROTATION_RATE_RPM", "node_disk_ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs)."},
}

// udevProperties reads the E: (device property) lines of udev's database
// entry for a block device, udev_data_path/b<major>:<minor>.
func (p *hostProber) udevProperties(major, minor uint32) (map[string]string, error) {
	f, err := os.Open(filepath.Join(p.udevPath, fmt.Sprintf("b%d:%d", major, minor)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		prop, ok := strings.CutPrefix(sc.Text(), "E:")
		if !ok { // S: symlinks, I: init time, G: tags, …
			continue
		}
		if name, value, ok := strings.Cut(prop, "="); ok {
			info[name] = value
		}
	}
	return info, sc.Err()
}

// collectDiskstats is node_exporter's diskstats collector: /proc/diskstats
// with each disk's identity (node_disk_info) and filesystem, device-mapper
// and ATA details from its udev data; a disk without udev data (none under
// udev_data_path) has them empty or absent, as in node_exporter.
func (p *hostProber) collectDiskstats(_ context.Context, s *sink) error {
	fs, err := blockdevice.NewFS(p.procPath, p.sysPath)
	if err != nil {
		return fmt.Errorf("failed to open sysfs: %w", err)
	}
	stats, err := fs.ProcDiskstats()
	if err != nil {
		return fmt.Errorf("couldn't get diskstats: %w", err)
	}
	for _, d := range stats {
		dev := d.DeviceName
		if diskstatsExclude.MatchString(dev) {
			continue
		}
		info, err := p.udevProperties(d.MajorNumber, d.MinorNumber)
		if err != nil {
			p.logger.Debug("no udev data for disk", "device", dev, "err", err)
		}
		// The serial printed on the disk's label, else the short one, else
		// virtio's ID_SERIAL, as node_exporter.
		serial := cmp.Or(info["SCSI_IDENT_SERIAL"], info["ID_SERIAL_SHORT"], info["ID_SERIAL"])
		rotational := "0"
		if r, err := fs.SysBlockDeviceRotational(dev); err == nil && r == 1 {
			rotational = "1"
		}
		s.gauge("node_disk_info", "Info of /sys/block/<block_device>.", 1,
			"device", dev, "major", strconv.FormatUint(uint64(d.MajorNumber), 10), "minor", strconv.FormatUint(uint64(d.MinorNumber), 10),
			"path", info["ID_PATH"], "wwn", info["ID_WWN"], "model", info["ID_MODEL"], "serial", serial, "revision", info["ID_REVISION"], "rotational", rotational)
		// Older kernels have fewer fields: report only those present.
		n := d.IoStatsCount - 3
		for i, c := range diskCounters {
			if i >= n {
				break
			}
			s.add(c.vt, c.name, c.help, c.value(d), "device", dev)
		}
		if fsType := info["ID_FS_TYPE"]; fsType != "" {
			s.gauge("node_disk_filesystem_info", "Info about disk filesystem.", 1,
				"device", dev, "type", fsType, "usage", info["ID_FS_USAGE"], "uuid", info["ID_FS_UUID"], "version", info["ID_FS_VERSION"])
		}
		if name := info["DM_NAME"]; name != "" {
			s.gauge("node_disk_device_mapper_info", "Info about disk device mapper.", 1,
				"device", dev, "name", name, "uuid", info["DM_UUID"], "vg_name", info["DM_VG_NAME"], "lv_name", info["DM_LV_NAME"], "lv_layer", info["DM_LV_LAYER"])
		}
		if info["ID_ATA"] != "" {
			for _, a := range diskATA {
				raw, ok := info[a.property]
				if !ok {
					continue
				}
				v, err := strconv.ParseFloat(raw, 64)
				if err != nil {
					p.logger.Debug("unparsable ATA udev property", "device", dev, "property", a.property, "value", raw)
					continue
				}
				s.gauge(a.name, a.help, v, "device", dev)
			}
		}
	}
	return nil
}
