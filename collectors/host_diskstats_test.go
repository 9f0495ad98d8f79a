package collectors

import (
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// udevFixture is udev's database entries (udevadm info --query=all's
// source, /run/udev/data/b<major>:<minor>) of the fixture's sda, nvme0n1
// and dm-0. It is written by the test rather than kept in testdata because
// ':' is not allowed in a Go module's file names.
var udevFixture = map[string]string{
	"b8:0": `S:disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K1234567
S:disk/by-path/pci-0000:00:17.0-ata-1
W:8
I:4321123
E:ID_ATA=1
E:ID_TYPE=disk
E:ID_BUS=ata
E:ID_MODEL=WDC_WD40EFRX-68N32N0
E:ID_REVISION=82.00A82
E:ID_SERIAL=WDC_WD40EFRX-68N32N0_WD-WCC7K1234567
E:ID_SERIAL_SHORT=WD-WCC7K1234567
E:ID_ATA_WRITE_CACHE=1
E:ID_ATA_WRITE_CACHE_ENABLED=0
E:ID_ATA_ROTATION_RATE_RPM=5400
E:ID_WWN=0x50014ee2b5e8a1b2
E:ID_PATH=pci-0000:00:17.0-ata-1
G:systemd
`,
	"b259:0": `S:disk/by-id/nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R123456
E:ID_TYPE=disk
E:ID_MODEL=Samsung SSD 970 EVO Plus 1TB
E:ID_REVISION=2B2QEXM7
E:ID_SERIAL=Samsung SSD 970 EVO Plus 1TB_S4EWNX0R123456
E:ID_WWN=eui.0025385b91234567
E:ID_PATH=pci-0000:01:00.0-nvme-1
`,
	"b253:0": `S:mapper/vg0-root
E:DM_NAME=vg0-root
E:DM_UUID=LVM-abcdef0123456789
E:DM_VG_NAME=vg0
E:DM_LV_NAME=root
E:ID_FS_TYPE=ext4
E:ID_FS_USAGE=filesystem
E:ID_FS_UUID=0c1f7f1e-2d7e-4b7a-9b1d-8f2a3c4d5e6f
E:ID_FS_VERSION=1.0
`,
}

func writeUdevFixture(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range udevFixture {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostDiskUdev checks node_disk_info's udev labels and the udev-only
// disk families, with the udev database found under rootfs_path by
// default and at an explicit udev_data_path.
func TestHostDiskUdev(t *testing.T) {
	rootfs := t.TempDir()
	writeUdevFixture(t, filepath.Join(rootfs, "run", "udev", "data"))
	elsewhere := filepath.Join(t.TempDir(), "udev")
	writeUdevFixture(t, elsewhere)
	for _, tc := range []struct {
		name string
		host config.HostTarget
	}{
		{"under rootfs_path", config.HostTarget{RootFSPath: rootfs}},
		{"udev_data_path", config.HostTarget{UdevDataPath: elsewhere}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.host
			h.ProcPath, h.SysPath = filepath.Join("testdata", "host", "proc"), filepath.Join("testdata", "host", "sys")
			tg := netTarget(config.KindHost, 5*time.Second)
			tg.Host = &h
			pr, err := newHost(tg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			p := pr.(*hostProber)
			s := newSink()
			if err := p.collectDiskstats(t.Context(), s); err != nil {
				t.Fatal(err)
			}
			mfs := gatherProbe(t, Result{Families: s.families})
			tests := []struct {
				name   string
				labels []string
				want   float64
			}{
				{"node_disk_info", []string{"device", "sda", "major", "8", "minor", "0", "rotational", "1",
					"path", "pci-0000:00:17.0-ata-1", "wwn", "0x50014ee2b5e8a1b2", "model", "WDC_WD40EFRX-68N32N0",
					"serial", "WD-WCC7K1234567", "revision", "82.00A82"}, 1},
				// No ID_SERIAL_SHORT: ID_SERIAL, as for virtio disks.
				{"node_disk_info", []string{"device", "nvme0n1", "model", "Samsung SSD 970 EVO Plus 1TB",
					"serial", "Samsung SSD 970 EVO Plus 1TB_S4EWNX0R123456", "wwn", "eui.0025385b91234567"}, 1},
				{"node_disk_info", []string{"device", "dm-0", "model", "", "serial", "", "path", ""}, 1},
				{"node_disk_filesystem_info", []string{"device", "dm-0", "type", "ext4", "usage", "filesystem",
					"uuid", "0c1f7f1e-2d7e-4b7a-9b1d-8f2a3c4d5e6f", "version", "1.0"}, 1},
				{"node_disk_device_mapper_info", []string{"device", "dm-0", "name", "vg0-root", "uuid", "LVM-abcdef0123456789",
					"vg_name", "vg0", "lv_name", "root", "lv_layer", ""}, 1},
				{"node_disk_ata_write_cache", []string{"device", "sda"}, 1},
				{"node_disk_ata_write_cache_enabled", []string{"device", "sda"}, 0},
				{"node_disk_ata_rotation_rate_rpm", []string{"device", "sda"}, 5400},
			}
			for _, tt := range tests {
				if got := mustValue(t, mfs, tt.name, tt.labels...); math.Abs(got-tt.want) > 1e-9 {
					t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
				}
			}
			for _, name := range []string{"node_disk_filesystem_info", "node_disk_device_mapper_info", "node_disk_ata_write_cache"} {
				if n := len(mfs[name].GetMetric()); n != 1 {
					t.Errorf("%d %s series, want 1: only one disk's udev data has it", n, name)
				}
			}
		})
	}
}
