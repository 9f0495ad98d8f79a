package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// fakeStatfs derives distinct, checkable figures from the mount point.
func fakeStatfs(path string) (fsStat, error) {
	n := float64(len(path))
	return fsStat{size: n * 1e9, free: n * 1e8, avail: n * 5e7, files: n * 1e4, filesFree: n * 1e3}, nil
}

// hostFixture is a host prober reading testdata/host.
func hostFixture(t *testing.T, h config.HostTarget) *hostProber {
	t.Helper()
	h.ProcPath = filepath.Join("testdata", "host", "proc")
	h.SysPath = filepath.Join("testdata", "host", "sys")
	h.RootFSPath = filepath.Join("testdata", "host", "root")
	tg := netTarget(config.KindHost, 5*time.Second)
	tg.Host = &h
	p, err := newHost(tg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("newHost: %v", err)
	}
	hp := p.(*hostProber)
	hp.statfs = fakeStatfs
	return hp
}

// mountPoints lists the mount points of a family.
func mountPoints(mfs map[string]*dto.MetricFamily, name string) []string {
	var out []string
	for _, m := range mfs[name].GetMetric() {
		out = append(out, seriesLabels(m)["mountpoint"])
	}
	slices.Sort(out)
	return out
}

func TestHostProbeFixture(t *testing.T) {
	p := hostFixture(t, config.HostTarget{})
	res := p.Probe(t.Context())
	if !res.Success || res.Err != nil {
		t.Fatalf("probe failed: %s %v", res.Reason, res.Err)
	}
	mfs := gatherProbe(t, res)

	// /proc/meminfo, every field, node_exporter's names and units.
	memory := map[string]float64{
		"node_memory_MemTotal_bytes":      16318164 * 1024,
		"node_memory_MemAvailable_bytes":  9876543 * 1024,
		"node_memory_SwapTotal_bytes":     2097148 * 1024,
		"node_memory_SwapFree_bytes":      2000000 * 1024,
		"node_memory_Active_anon_bytes":   3145728 * 1024,
		"node_memory_Inactive_file_bytes": 4718592 * 1024,
		"node_memory_HugePages_Total":     4,
		"node_memory_Hugepagesize_bytes":  2048 * 1024,
	}
	for name, want := range memory {
		if got := mustValue(t, mfs, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	var memFamilies int
	for name := range mfs {
		if strings.HasPrefix(name, "node_memory_") {
			memFamilies++
		}
	}
	if memFamilies != 21 { // one per line of the fixture
		t.Errorf("%d node_memory_ families, want 21", memFamilies)
	}

	// Pseudo and container-runtime filesystems are excluded, the overlay
	// root is not, the duplicate /data line is one series, escapes decoded.
	want := []string{"/", "/data", "/etc/hostname", "/etc/resolv.conf", "/mnt/nfs", "/mnt/with space", "/srv/reference", "/tmp"}
	for _, fam := range []string{"node_filesystem_size_bytes", "node_filesystem_avail_bytes", "node_filesystem_free_bytes",
		"node_filesystem_files", "node_filesystem_files_free", "node_filesystem_readonly", "node_filesystem_device_error"} {
		if got := mountPoints(mfs, fam); !slices.Equal(got, want) {
			t.Errorf("%s mount points = %q, want %q", fam, got, want)
		}
	}
	for _, mp := range want {
		st, _ := fakeStatfs(mp)
		for fam, v := range map[string]float64{
			"node_filesystem_size_bytes": st.size, "node_filesystem_free_bytes": st.free, "node_filesystem_avail_bytes": st.avail,
			"node_filesystem_files": st.files, "node_filesystem_files_free": st.filesFree, "node_filesystem_device_error": 0,
		} {
			if got := mustValue(t, mfs, fam, "mountpoint", mp); got != v {
				t.Errorf("%s{mountpoint=%q} = %v, want %v", fam, mp, got, v)
			}
		}
		wantRO := boolToFloat(mp == "/srv/reference")
		if got := mustValue(t, mfs, "node_filesystem_readonly", "mountpoint", mp); got != wantRO {
			t.Errorf("readonly{%s} = %v, want %v", mp, got, wantRO)
		}
	}
	if got := mustValue(t, mfs, "node_filesystem_size_bytes", "mountpoint", "/", "fstype", "overlay", "device", "overlay"); got <= 0 {
		t.Errorf("root size = %v", got)
	}
	if _, ok := sampleValue(mfs, "node_filesystem_size_bytes", "mountpoint", "/mnt/nfs", "fstype", "nfs4", "device", "fileserver:/exports/shared", "device_error", ""); !ok {
		t.Errorf("nfs mount lacks its device and fstype labels")
	}
	if got := mountPoints(mfs, "node_filesystem_mount_info"); !slices.Equal(got, want) {
		t.Errorf("node_filesystem_mount_info mount points = %q, want %q", got, want)
	}
	if got := mustValue(t, mfs, "node_filesystem_mount_info", "mountpoint", "/srv/reference", "device", "/dev/sdb1", "major", "8", "minor", "17"); got != 1 {
		t.Errorf("node_filesystem_mount_info{/srv/reference} = %v", got)
	}
	// The fixture is in a cgroup v2 container.
	if got := mustValue(t, mfs, "container_memory_working_set_bytes"); got != 209715200-31457280 {
		t.Errorf("container_memory_working_set_bytes = %v", got)
	}
	if got := mustValue(t, mfs, "container_oom_events_total"); got != 3 {
		t.Errorf("container_oom_events_total = %v", got)
	}
}

func TestHostProbeExclusionOverrides(t *testing.T) {
	re := func(s string) *config.Regexp {
		r, err := config.NewRegexp(s)
		if err != nil {
			t.Fatal(err)
		}
		return &r
	}
	tests := []struct {
		name string
		h    config.HostTarget
		want []string
	}{
		{"fs types: the root stays", config.HostTarget{FSTypesExclude: re(`^(ext4|overlay|tmpfs)$`)},
			[]string{"/", "/mnt/nfs"}},
		{"fs types replace the defaults", config.HostTarget{FSTypesExclude: re(`^nfs4$`)},
			[]string{"/", "/data", "/etc/hostname", "/etc/resolv.conf", "/mnt/with space", "/srv/reference", "/tmp"}},
		// The default mount points no longer apply, the default fs types do.
		{"mount points replace the defaults, unanchored like node_exporter", config.HostTarget{MountPointsExclude: re(`^/(etc|mnt)/`)},
			[]string{"/", "/data", "/dev", "/dev/shm", "/run/credentials/systemd-sysusers.service", "/srv/reference", "/tmp", "/var/lib/docker/overlay2"}},
		{"mount points can drop the root", config.HostTarget{MountPointsExclude: re(`^/$|^/(dev|proc|sys|etc|mnt|srv|tmp|var|run)(/|$)`)},
			[]string{"/data"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := hostFixture(t, tc.h).Probe(t.Context())
			mfs := gatherProbe(t, res)
			if got := mountPoints(mfs, "node_filesystem_device_error"); !slices.Equal(got, tc.want) {
				t.Errorf("mount points = %q, want %q", got, tc.want)
			}
		})
	}
}

// hangingStatfs blocks statfs of one mount point until released, as a hard
// NFS mount whose server is gone does.
type hangingStatfs struct {
	mountPoint string
	release    chan struct{}
	mu         sync.Mutex
	calls      map[string]int
}

func (h *hangingStatfs) statfs(path string) (fsStat, error) {
	h.mu.Lock()
	h.calls[path]++
	h.mu.Unlock()
	if path == h.mountPoint {
		<-h.release
	}
	return fakeStatfs(path)
}

func (h *hangingStatfs) callsTo(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[path]
}

func TestHostProbeHungMount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hung := &hangingStatfs{mountPoint: "/mnt/nfs", release: make(chan struct{}), calls: map[string]int{}}
		// Each probe is by a new prober, as after a config reload: the
		// stuck-mount memory must outlive a prober.
		probe := func(wantTook time.Duration) map[string]*dto.MetricFamily {
			t.Helper()
			p := hostFixture(t, config.HostTarget{FilesystemTimeout: config.Duration(time.Second)})
			p.statfs = hung.statfs
			start := time.Now()
			res := p.Probe(t.Context())
			if took := time.Since(start); took != wantTook {
				t.Errorf("probe took %v, want %v", took, wantTook)
			}
			if !res.Success {
				t.Errorf("a hung mount failed the probe: %s %v", res.Reason, res.Err)
			}
			return gatherProbe(t, res)
		}
		checkHung := func(mfs map[string]*dto.MetricFamily, hung bool) {
			t.Helper()
			label := ""
			if hung {
				label = "mountpoint timeout" // node_exporter 1.12's device_error label
			}
			if got := mustValue(t, mfs, "node_filesystem_device_error", "mountpoint", "/mnt/nfs", "device_error", label); got != boolToFloat(hung) {
				t.Errorf("device_error{/mnt/nfs} = %v, want %v", got, boolToFloat(hung))
			}
			if _, ok := sampleValue(mfs, "node_filesystem_mount_info", "mountpoint", "/mnt/nfs"); ok == hung {
				t.Errorf("mount_info of /mnt/nfs present = %v while hung = %v", ok, hung)
			}
			if _, ok := sampleValue(mfs, "node_filesystem_size_bytes", "mountpoint", "/mnt/nfs"); ok == hung {
				t.Errorf("size series of /mnt/nfs present = %v while hung = %v", ok, hung)
			}
			// The other mounts are unaffected.
			if got := mustValue(t, mfs, "node_filesystem_device_error", "mountpoint", "/data"); got != 0 {
				t.Errorf("device_error{/data} = %v", got)
			}
			mustValue(t, mfs, "node_filesystem_size_bytes", "mountpoint", "/")
		}

		// First probe: waits exactly the filesystem timeout for the hung mount.
		checkHung(probe(time.Second), true)
		// Second: the statfs still in flight is not repeated; no waiting.
		checkHung(probe(0), true)
		if n := hung.callsTo("/mnt/nfs"); n != 1 {
			t.Errorf("statfs of the stuck mount ran %d times, want 1", n)
		}
		if n := hung.callsTo("/data"); n != 2 {
			t.Errorf("statfs of /data ran %d times, want 2", n)
		}
		// The server comes back: the pending statfs returns and clears the mark.
		close(hung.release)
		synctest.Wait()
		checkHung(probe(0), false)
		if n := hung.callsTo("/mnt/nfs"); n != 2 {
			t.Errorf("statfs of the recovered mount ran %d times, want 2", n)
		}
	})
}

// The probe's own deadline wins over a longer filesystem timeout.
func TestHostProbeDeadlineBeforeFilesystemTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := hostFixture(t, config.HostTarget{FilesystemTimeout: config.Duration(10 * time.Second)})
		hung := &hangingStatfs{mountPoint: "/", release: make(chan struct{}), calls: map[string]int{}}
		p.statfs = hung.statfs
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		res := p.Probe(ctx)
		if took := time.Since(start); took != 300*time.Millisecond {
			t.Errorf("probe took %v, want 300ms", took)
		}
		mfs := gatherProbe(t, res)
		if got := mustValue(t, mfs, "node_filesystem_device_error", "mountpoint", "/"); got != 1 {
			t.Errorf("device_error{/} = %v, want 1", got)
		}
		close(hung.release)
		synctest.Wait()
	})
}

// Against the machine's own /proc and filesystems, cross-checked with gopsutil.
func TestHostProbeReal(t *testing.T) {
	tg := netTarget(config.KindHost, 10*time.Second)
	tg.Host = &config.HostTarget{}
	res := mustProber(t, tg).Probe(t.Context())
	if !res.Success {
		t.Fatalf("probe failed: %s %v", res.Reason, res.Err)
	}
	mfs := gatherProbe(t, res)
	vm, err := mem.VirtualMemoryWithContext(t.Context())
	if err != nil {
		t.Fatalf("gopsutil: %v", err)
	}
	if got := mustValue(t, mfs, "node_memory_MemTotal_bytes"); got != float64(vm.Total) {
		t.Errorf("MemTotal = %v, gopsutil says %v", got, vm.Total)
	}
	if got := mustValue(t, mfs, "node_memory_SwapTotal_bytes"); got != float64(vm.SwapTotal) {
		t.Errorf("SwapTotal = %v, gopsutil says %v", got, vm.SwapTotal)
	}
	if got := mustValue(t, mfs, "node_memory_MemAvailable_bytes"); got <= 0 || got > float64(vm.Total) {
		t.Errorf("MemAvailable = %v of %v", got, vm.Total)
	}
	usage, err := disk.UsageWithContext(t.Context(), "/")
	if err != nil {
		t.Fatalf("gopsutil: %v", err)
	}
	if got := mustValue(t, mfs, "node_filesystem_size_bytes", "mountpoint", "/"); got != float64(usage.Total) {
		t.Errorf("size{/} = %v, gopsutil says %v", got, usage.Total)
	}
	if got := mustValue(t, mfs, "node_filesystem_device_error", "mountpoint", "/"); got != 0 {
		t.Errorf("device_error{/} = %v", got)
	}
	for _, mp := range mountPoints(mfs, "node_filesystem_device_error") {
		if defaultMountPointsExcludeRE.MatchString(mp) {
			t.Errorf("excluded mount point %s reported", mp)
		}
	}
}

// TestHostProbeStatfsError: a mount statfs refuses is a device error
// labelled with the errno's text, as node_exporter 1.12 does.
func TestHostProbeStatfsError(t *testing.T) {
	p := hostFixture(t, config.HostTarget{})
	p.statfs = func(path string) (fsStat, error) {
		if path == "/data" {
			return fsStat{}, fmt.Errorf("statfs %s: %w", path, syscall.EACCES)
		}
		return fakeStatfs(path)
	}
	mfs := gatherProbe(t, p.Probe(t.Context()))
	for _, fam := range []string{"node_filesystem_device_error", "node_filesystem_readonly"} {
		if _, ok := sampleValue(mfs, fam, "mountpoint", "/data", "device_error", "permission denied"); !ok {
			t.Errorf("%s{mountpoint=/data} lacks device_error=\"permission denied\"", fam)
		}
	}
	for _, fam := range []string{"node_filesystem_size_bytes", "node_filesystem_mount_info"} {
		if _, ok := sampleValue(mfs, fam, "mountpoint", "/data"); ok {
			t.Errorf("%s reported for the failed /data", fam)
		}
	}
	if got := mustValue(t, mfs, "node_scrape_collector_success", "collector", "filesystem"); got != 1 {
		t.Errorf("a device error failed the filesystem collector")
	}
}

// TestHostProbeMissingProc: a proc_path without the files fails every
// collector that reads it, each alone, and the probe still succeeds, as
// node_exporter's scrape does.
func TestHostProbeMissingProc(t *testing.T) {
	tg := netTarget(config.KindHost, time.Second)
	// An empty sys_path, so that the sysfs collectors' outcome does not
	// depend on this machine's sensors.
	tg.Host = &config.HostTarget{ProcPath: filepath.Join(t.TempDir(), "proc"), SysPath: t.TempDir()}
	res := mustProber(t, tg).Probe(t.Context())
	if !res.Success || res.Err != nil {
		t.Fatalf("success=%v reason=%q err=%v; want the probe to succeed with failed collectors", res.Success, res.Reason, res.Err)
	}
	mfs := gatherProbe(t, res)
	for _, c := range config.HostCollectors {
		want := 0.0
		if c == "uname" || c == "time" || c == "timex" || c == "os" || c == "thermal_zone" { // system calls, sys_path and rootfs_path, not proc_path
			want = 1
		}
		if got := mustValue(t, mfs, "node_scrape_collector_success", "collector", c); got != want {
			t.Errorf("node_scrape_collector_success{collector=%q} = %v, want %v", c, got, want)
		}
	}
	if _, ok := mfs["node_uname_info"]; !ok {
		t.Error("the failing collectors took node_uname_info with them")
	}
}

// TestHostProbeNodeCollectors checks the uname, cpu, loadavg and stat
// collectors on the fixture's /proc/stat and /proc/loadavg.
func TestHostProbeNodeCollectors(t *testing.T) {
	res := hostFixture(t, config.HostTarget{}).Probe(t.Context())
	mfs := gatherProbe(t, res)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	zone, offset := time.Now().Zone()
	if now := mustValue(t, mfs, "node_time_seconds"); math.Abs(now-float64(time.Now().Unix())) > 60 {
		t.Errorf("node_time_seconds = %v, a minute or more off the clock", now)
	}
	if _, ok := mfs["node_pressure_irq_stalled_seconds_total"]; ok {
		t.Error("irq pressure reported without /proc/pressure/irq (a kernel before 6.1)")
	}
	// node_exporter's default netstat field filter.
	for _, name := range []string{"node_netstat_TcpExt_DelayedACKs", "node_netstat_Tcp_RtoMin", "node_netstat_Ip_DefaultTTL", "node_netstat_Ip6_InReceives"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s reported: not in node_exporter's default netstat fields", name)
		}
	}
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, mfs, "node_timex_tick_seconds"); got != float64(tx.Tick)/1e6 {
		t.Errorf("node_timex_tick_seconds = %v, adjtimex says %v µs", got, tx.Tick)
	}
	if got := mustValue(t, mfs, "node_timex_tai_offset_seconds"); got != float64(tx.Tai) {
		t.Errorf("node_timex_tai_offset_seconds = %v, adjtimex says %v", got, tx.Tai)
	}
	if n := len(mfs["node_time_clocksource_available_info"].GetMetric()); n != 3 {
		t.Errorf("%d available clocksources, want 3", n)
	}
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"node_uname_info", []string{"nodename", unix.ByteSliceToString(u.Nodename[:]), "release", unix.ByteSliceToString(u.Release[:]), "sysname", "Linux"}, 1},
		{"node_cpu_seconds_total", []string{"cpu", "0", "mode", "user"}, 444.90},
		{"node_cpu_seconds_total", []string{"cpu", "1", "mode", "idle"}, 11107.87},
		{"node_cpu_seconds_total", []string{"cpu", "1", "mode", "iowait"}, 5.91},
		{"node_cpu_seconds_total", []string{"cpu", "0", "mode", "softirq"}, 34.10},
		{"node_cpu_guest_seconds_total", []string{"cpu", "1", "mode", "user"}, 0.42},
		{"node_cpu_guest_seconds_total", []string{"cpu", "1", "mode", "nice"}, 0.35},
		{"node_load1", nil, 0.21},
		{"node_load15", nil, 0.39},
		{"node_intr_total", nil, 8885917},
		{"node_context_switches_total", nil, 38014093},
		{"node_forks_total", nil, 26442},
		{"node_boot_time_seconds", nil, 1418183276},
		{"node_procs_running", nil, 2},
		{"node_procs_blocked", nil, 1},
		{"node_vmstat_pgpgin", nil, 7344136},
		{"node_vmstat_pswpout", nil, 932},
		{"node_vmstat_pgmajfault", nil, 3145},
		{"node_vmstat_oom_kill", nil, 3},
		{"node_filefd_allocated", nil, 1024},
		{"node_filefd_maximum", nil, 1631329},
		{"node_network_receive_bytes_total", []string{"device", "eth0"}, 68210035552},
		{"node_network_receive_errs_total", []string{"device", "eth0"}, 1},
		{"node_network_receive_multicast_total", []string{"device", "eth0"}, 6},
		{"node_network_transmit_packets_total", []string{"device", "eth0"}, 43451486},
		{"node_network_transmit_colls_total", []string{"device", "eth0"}, 10},
		{"node_network_transmit_carrier_total", []string{"device", "eth0"}, 11},
		{"node_network_transmit_compressed_total", []string{"device", "eth0"}, 12},
		{"node_network_receive_bytes_total", []string{"device", "lo"}, 435303245},
		{"node_network_receive_multicast_total", []string{"device", "docker0"}, 3},
		{"node_disk_info", []string{"device", "sda", "major", "8", "minor", "0", "rotational", "1", "model", ""}, 1},
		{"node_disk_info", []string{"device", "nvme0n1", "rotational", "0"}, 1},
		{"node_disk_info", []string{"device", "dm-0", "major", "253", "rotational", "0"}, 1},
		{"node_disk_reads_completed_total", []string{"device", "sda"}, 25354637},
		{"node_disk_read_bytes_total", []string{"device", "sda"}, 1003346126 * 512},
		{"node_disk_read_time_seconds_total", []string{"device", "sda"}, 18492.372},
		{"node_disk_written_bytes_total", []string{"device", "sda"}, 505697032 * 512},
		{"node_disk_io_time_seconds_total", []string{"device", "sda"}, 9653.88},
		{"node_disk_io_time_weighted_seconds_total", []string{"device", "dm-0"}, 0.1},
		{"node_disk_discarded_sectors_total", []string{"device", "sda"}, 300},
		{"node_disk_flush_requests_time_seconds_total", []string{"device", "sda"}, 0.06},
		{"node_disk_io_now", []string{"device", "nvme0n1"}, 1},
		{"node_entropy_available_bits", nil, 256},
		{"node_thermal_zone_temp", []string{"zone", "0", "type", "x86_pkg_temp"}, 49},
		{"node_cooling_device_cur_state", []string{"name", "0", "type", "Processor"}, 1},
		{"node_cooling_device_max_state", []string{"name", "0", "type", "Processor"}, 3},
		{"node_nf_conntrack_entries", nil, 123},
		{"node_nf_conntrack_entries_limit", nil, 65536},
		{"node_nf_conntrack_stat_invalid", nil, 5},
		{"node_nf_conntrack_stat_ignore", nil, 0x588a + 0x56a4},
		{"node_nf_conntrack_stat_search_restart", nil, 2},
		{"node_softnet_processed_total", []string{"cpu", "0"}, 0x49d9c},
		{"node_softnet_dropped_total", []string{"cpu", "1"}, 2},
		{"node_softnet_times_squeezed_total", []string{"cpu", "1"}, 3},
		{"node_softnet_received_rps_total", []string{"cpu", "1"}, 4},
		{"node_softnet_flow_limit_count_total", []string{"cpu", "1"}, 5},
		{"node_softnet_backlog_len", []string{"cpu", "1"}, 7},
		{"node_schedstat_running_seconds_total", []string{"cpu", "0"}, 2045936.778163039},
		{"node_schedstat_waiting_seconds_total", []string{"cpu", "0"}, 343796.328169361},
		{"node_schedstat_timeslices_total", []string{"cpu", "1"}, 4767485},
		{"node_os_info", []string{"id", "ubuntu", "id_like", "debian", "name", "Ubuntu", "pretty_name", "Ubuntu 24.04.1 LTS", "version", "24.04.1 LTS (Noble Numbat)", "version_codename", "noble", "version_id", "24.04", "build_id", ""}, 1},
		{"node_os_version", []string{"id", "ubuntu", "id_like", "debian", "name", "Ubuntu"}, 24.04},
		{"node_os_support_end_timestamp_seconds", nil, float64(time.Date(2029, 5, 31, 0, 0, 0, 0, time.UTC).Unix())},
		{"node_netstat_Tcp_CurrEstab", nil, 11},
		{"node_netstat_Tcp_InErrs", nil, 5},
		{"node_netstat_Tcp_RetransSegs", nil, 227},
		{"node_netstat_TcpExt_ListenOverflows", nil, 5},
		{"node_netstat_TcpExt_SyncookiesFailed", nil, 2},
		{"node_netstat_IpExt_InOctets", nil, 6286396970},
		{"node_netstat_Ip_Forwarding", nil, 1},
		{"node_netstat_Udp_RcvbufErrors", nil, 9},
		{"node_netstat_Ip6_OutOctets", nil, 536},
		{"node_netstat_Icmp6_InErrors", nil, 3},
		{"node_netstat_Udp6_InErrors", nil, 7},
		{"node_sockstat_sockets_used", nil, 229},
		{"node_sockstat_TCP_inuse", nil, 4},
		{"node_sockstat_TCP_tw", nil, 4},
		{"node_sockstat_TCP_alloc", nil, 17},
		{"node_sockstat_TCP_mem_bytes", nil, float64(os.Getpagesize())},
		{"node_sockstat_FRAG_memory", nil, 0},
		{"node_sockstat_TCP6_inuse", nil, 17},
		{"node_sockstat_RAW6_inuse", nil, 1},
		{"node_pressure_cpu_waiting_seconds_total", nil, 14.036781},
		{"node_pressure_io_waiting_seconds_total", nil, 8.494297},
		{"node_pressure_io_stalled_seconds_total", nil, 0.001524},
		{"node_pressure_memory_waiting_seconds_total", nil, 1.5},
		{"node_pressure_memory_stalled_seconds_total", nil, 0.25},
		{"node_entropy_pool_size_bits", nil, 256},
		{"node_time_clocksource_current_info", []string{"device", "0", "clocksource", "tsc"}, 1},
		{"node_time_clocksource_available_info", []string{"device", "0", "clocksource", "acpi_pm"}, 1},
		{"node_time_zone_offset_seconds", []string{"time_zone", zone}, float64(offset)},
	}
	// node_exporter's default device exclusion; dm-0's kernel has no
	// discard or flush fields.
	for _, dev := range []string{"loop0", "sda1"} {
		if _, ok := sampleValue(mfs, "node_disk_info", "device", dev); ok {
			t.Errorf("excluded device %s reported", dev)
		}
	}
	if _, ok := sampleValue(mfs, "node_disk_discards_completed_total", "device", "dm-0"); ok {
		t.Error("dm-0 reports discards its diskstats line does not have")
	}
	for _, tt := range tests {
		if got := mustValue(t, mfs, tt.name, tt.labels...); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	// node_exporter's default vmstat field filter.
	var vmstat []string
	for name := range mfs {
		if strings.HasPrefix(name, "node_vmstat_") {
			vmstat = append(vmstat, name)
			if mfs[name].GetType() != dto.MetricType_UNTYPED {
				t.Errorf("%s is %v; node_exporter exports vmstat fields untyped", name, mfs[name].GetType())
			}
		}
	}
	slices.Sort(vmstat)
	if want := []string{"node_vmstat_oom_kill", "node_vmstat_pgfault", "node_vmstat_pgmajfault", "node_vmstat_pgpgin",
		"node_vmstat_pgpgout", "node_vmstat_pswpin", "node_vmstat_pswpout"}; !slices.Equal(vmstat, want) {
		t.Errorf("vmstat families %v, want %v", vmstat, want)
	}
	if n := len(mfs["node_cpu_seconds_total"].GetMetric()); n != 2*8 {
		t.Errorf("%d node_cpu_seconds_total series, want 8 modes of 2 CPUs", n)
	}
	for _, c := range config.HostCollectors {
		if got := mustValue(t, mfs, "node_scrape_collector_success", "collector", c); got != 1 {
			t.Errorf("collector %s failed on the fixture", c)
		}
		mustValue(t, mfs, "node_scrape_collector_duration_seconds", "collector", c)
	}
}

func TestHostDisableCollectors(t *testing.T) {
	res := hostFixture(t, config.HostTarget{DisableCollectors: []string{"cpu", "meminfo"}}).Probe(t.Context())
	mfs := gatherProbe(t, res)
	for _, name := range []string{"node_cpu_seconds_total", "node_memory_MemTotal_bytes"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s reported by a disabled collector", name)
		}
	}
	for _, c := range []string{"cpu", "meminfo"} {
		if _, ok := sampleValue(mfs, "node_scrape_collector_success", "collector", c); ok {
			t.Errorf("disabled collector %s reports node_scrape_collector_success", c)
		}
	}
	mustValue(t, mfs, "node_load1")
}

// TestCPUCountersMonotonic: node_exporter's rule for per-CPU times that
// step back (kept) and for a hotplugged CPU (idle back by 3s or more: reset).
func TestCPUCountersMonotonic(t *testing.T) {
	tests := []struct {
		name       string
		prev, next procfs.CPUStat
		want       procfs.CPUStat
	}{
		{"forward", procfs.CPUStat{User: 1, Idle: 10}, procfs.CPUStat{User: 2, Idle: 11}, procfs.CPUStat{User: 2, Idle: 11}},
		{"small step back kept", procfs.CPUStat{User: 2, Idle: 10}, procfs.CPUStat{User: 1.99, Idle: 9}, procfs.CPUStat{User: 2, Idle: 10}},
		{"hotplug resets", procfs.CPUStat{User: 5, Idle: 100}, procfs.CPUStat{User: 1, Idle: 3}, procfs.CPUStat{User: 1, Idle: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cpuCounters
			c.update(map[int64]procfs.CPUStat{0: tt.prev, 1: tt.prev})
			got := c.update(map[int64]procfs.CPUStat{0: tt.next})
			if got[0] != tt.want {
				t.Errorf("got %+v, want %+v", got[0], tt.want)
			}
			if _, ok := got[1]; ok {
				t.Error("an offline CPU is still reported")
			}
		})
	}
}

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []mount
		wantErr bool
	}{
		{"optional fields and ro super options", "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root ro,errors=continue\n",
			[]mount{{device: "/dev/root", mountPoint: "/mnt2", fsType: "ext3", readOnly: true, major: "98", minor: "0"}}, false},
		{"emergency_ro", "36 35 8:17 / /data rw - ext4 /dev/sdb1 rw,emergency_ro\n",
			[]mount{{device: "/dev/sdb1", mountPoint: "/data", fsType: "ext4", readOnly: true, major: "8", minor: "17"}}, false},
		{"bad device numbers", "36 35 x / /data rw - ext4 /dev/sdb1 rw\n", nil, true},
		{"escapes", `1 0 8:1 / /a\040b\011c\134d rw - ext4 /dev/my\040disk rw` + "\n",
			[]mount{{device: "/dev/my disk", mountPoint: "/a b\tc\\d", fsType: "ext4", major: "8", minor: "1"}}, false},
		{"bad escape kept", `1 0 8:1 / /a\9 rw - ext4 d rw` + "\n", []mount{{device: "d", mountPoint: `/a\9`, fsType: "ext4", major: "8", minor: "1"}}, false},
		{"no separator", "1 0 8:1 / / rw ext4 /dev/sda1 rw\n", nil, true},
		{"empty", "", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMountinfo(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	got, err := parseProcMounts(strings.NewReader("/dev/sda1 / ext4 ro,relatime 0 0\nnfs:/x /mnt/x\\040y nfs4 rw 0 0\n"))
	want := []mount{{"/dev/sda1", "/", "ext4", true, "0", "0"}, {"nfs:/x", "/mnt/x y", "nfs4", false, "0", "0"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseProcMounts = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseMeminfo(t *testing.T) {
	in := "MemTotal:  100 kB\nActive(anon):  3 kB\nHugePages_Total:  7\nWeird: 1 MB\nnot a field\nBad-Name: 2 kB\nMemTotal: 5 kB\n"
	got, err := parseMeminfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"MemTotal_bytes": 102400, "Active_anon_bytes": 3072, "HugePages_Total": 7}
	have := map[string]float64{}
	for _, f := range got {
		have[f.name] = f.value
	}
	if !maps.Equal(have, want) {
		t.Errorf("got %v, want %v", have, want)
	}
	if _, err := parseMeminfo(strings.NewReader("MemTotal: lots kB\n")); err == nil {
		t.Errorf("unparsable value accepted")
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
	f.Add(`1 0 8:1 / /a\040b rw - ext4 /dev/x rw` + "\n")
	f.Fuzz(func(t *testing.T, s string) {
		mounts, err := parseMountinfo(strings.NewReader(s))
		if err != nil {
			return
		}
		if n := strings.Count(s, "\n") + 1; len(mounts) > n {
			t.Errorf("%d mounts from %d lines", len(mounts), n)
		}
		for _, m := range mounts {
			if m.fsType == "" || strings.ContainsAny(m.fsType, " \n") {
				t.Errorf("bad fstype %q", m.fsType)
			}
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add("MemTotal: 100 kB\nHugePages_Total: 4\n")
	f.Fuzz(func(t *testing.T, s string) {
		fields, err := parseMeminfo(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, m := range fields {
			if !validMetricSuffix(m.name) || math.IsNaN(m.value) && !strings.Contains(strings.ToLower(s), "nan") {
				t.Errorf("bad field %+v", m)
			}
		}
	})
}

// BenchmarkHostProbe compares the host probe on this machine with the same
// figures read through gopsutil (memory, partitions, usage of each).
func BenchmarkHostProbe(b *testing.B) {
	b.Run("baseline=gopsutil", func(b *testing.B) {
		for b.Loop() {
			if _, err := mem.VirtualMemory(); err != nil {
				b.Fatal(err)
			}
			parts, err := disk.Partitions(false)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range parts {
				disk.Usage(p.Mountpoint)
			}
		}
	})
	// Same work as the baseline (meminfo and filesystems), then every collector.
	var others []string
	for _, c := range config.HostCollectors {
		if c != "meminfo" && c != "filesystem" {
			others = append(others, c)
		}
	}
	for _, bc := range []struct {
		name    string
		disable []string
	}{{"probe=meminfo+filesystem", others}, {"probe=all", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			tg := netTarget(config.KindHost, 10*time.Second)
			tg.Host = &config.HostTarget{DisableCollectors: bc.disable}
			p, err := New(tg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if res := p.Probe(b.Context()); !res.Success {
					b.Fatalf("probe failed: %v", res.Err)
				}
			}
		})
	}
}

func TestHostMalformedProcFiles(t *testing.T) {
	tests := []struct {
		name, file, content, wantErr string
		collect                      func(*hostProber) func(context.Context, *sink) error
	}{
		{"vmstat value", "vmstat", "pgpgin 1\npgpgout x\n", "line 2", func(p *hostProber) func(context.Context, *sink) error { return p.collectVmstat }},
		{"vmstat fields", "vmstat", "pgpgin\n", "line 1", func(p *hostProber) func(context.Context, *sink) error { return p.collectVmstat }},
		{"netstat count", "net/netstat", "TcpExt: A B\nTcpExt: 1\n", "line 1", func(p *hostProber) func(context.Context, *sink) error { return p.collectNetstat }},
		{"netstat odd", "net/netstat", "TcpExt: A B\n", "without its values", func(p *hostProber) func(context.Context, *sink) error { return p.collectNetstat }},
		{"file-nr fields", "sys/fs/file-nr", "12 0\n", "unexpected number", func(p *hostProber) func(context.Context, *sink) error { return p.collectFilefd }},
		{"file-nr value", "sys/fs/file-nr", "12\t0\tmany\n", "many", func(p *hostProber) func(context.Context, *sink) error { return p.collectFilefd }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			tg := netTarget(config.KindHost, time.Second)
			tg.Host = &config.HostTarget{ProcPath: dir}
			p := mustProber(t, tg).(*hostProber)
			err := tt.collect(p)(t.Context(), newSink())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// TestHostPressureUnavailable: a kernel without PSI is node_exporter's
// "no data", which reports the collector's success as 0.
func TestHostPressureUnavailable(t *testing.T) {
	tg := netTarget(config.KindHost, time.Second)
	tg.Host = &config.HostTarget{ProcPath: t.TempDir()}
	p := mustProber(t, tg).(*hostProber)
	if err := p.collectPressure(t.Context(), newSink()); !errors.Is(err, errNoData) {
		t.Errorf("error %v, want errNoData", err)
	}
}

func TestHostOSRelease(t *testing.T) {
	tests := []struct {
		name, file, content string
		wantErr             string // "" for success
		wantVersion         float64
	}{
		{"usr/lib fallback", "usr/lib/os-release", "ID=fedora\nVERSION_ID=40\n", "", 40},
		{"no version", "etc/os-release", "ID=arch\n", "", 0},
		{"bad support end", "etc/os-release", "ID=x\nSUPPORT_END=soon\n", "SUPPORT_END", 0},
		{"unterminated quote", "etc/os-release", "NAME=\"x\n", "etc/os-release", 0},
		{"none", "", "", "no data", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				path := filepath.Join(dir, tt.file)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tg := netTarget(config.KindHost, time.Second)
			tg.Host = &config.HostTarget{RootFSPath: dir}
			p := mustProber(t, tg).(*hostProber)
			s := newSink()
			err := p.collectOS(t.Context(), s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mfs := gatherProbe(t, Result{Families: s.families})
			mustValue(t, mfs, "node_os_info")
			v, ok := sampleValue(mfs, "node_os_version")
			if ok != (tt.wantVersion > 0) || v != tt.wantVersion {
				t.Errorf("node_os_version = %v (present %v), want %v", v, ok, tt.wantVersion)
			}
		})
	}
}
