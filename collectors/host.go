package collectors

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/procfs"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func init() { register(config.KindHost, newHost) }

// node_exporter's default filesystem exclusions (collector/filesystem_linux.go).
const (
	defaultMountPointsExclude = config.DefaultMountPointsExclude
	defaultFSTypesExclude     = config.DefaultFSTypesExclude
	defaultFilesystemTimeout  = time.Second
)

var (
	defaultMountPointsExcludeRE = regexp.MustCompile(defaultMountPointsExclude)
	defaultFSTypesExcludeRE     = regexp.MustCompile(defaultFSTypesExclude)
)

// fsStat is what one statfs reports, in bytes and inodes.
type fsStat struct {
	size, free, avail, files, filesFree float64
}

// statfsFunc stats the filesystem mounted at a path; tests inject one that hangs.
type statfsFunc func(path string) (fsStat, error)

func statfs(path string) (fsStat, error) {
	var buf syscall.Statfs_t
	if err := syscall.Statfs(path, &buf); err != nil {
		return fsStat{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bsize := float64(buf.Bsize)
	return fsStat{
		size:      float64(buf.Blocks) * bsize,
		free:      float64(buf.Bfree) * bsize,
		avail:     float64(buf.Bavail) * bsize,
		files:     float64(buf.Files),
		filesFree: float64(buf.Ffree),
	}, nil
}

// hostProber reports the host's memory and filesystems as node_exporter
// does, and the memory of the cgroup v2 container the agent runs in as
// cAdvisor does (cgroup.go). It reads /proc directly rather than through a
// library so that every /proc/meminfo field gets node_exporter's name and
// the proc path stays configurable.
type hostProber struct {
	name       string
	procPath   string
	sysPath    string
	rootFSPath string
	cgroupPath string
	udevPath   string
	fsTimeout  time.Duration
	timeout    time.Duration
	mpExclude  *regexp.Regexp
	fsExclude  *regexp.Regexp
	statfs     statfsFunc
	logger     *slog.Logger
	// proc reads /proc as node_exporter does; procErr is why it could not
	// be opened, reported by every collector that needs it.
	proc       procfs.FS
	procErr    error
	cpu        cpuCounters
	collectors []hostCollector
}

// hostCollector is one of node_exporter's collectors: it reports its own
// node_scrape_collector_success and _duration_seconds, and its failure
// fails only itself, as in node_exporter.
type hostCollector struct {
	name    string
	collect func(context.Context, *sink) error
}

func newHost(t config.Target, logger *slog.Logger) (Prober, error) {
	h := config.HostTarget{}
	if t.Host != nil {
		h = *t.Host
	}
	p := &hostProber{
		name:       t.Name,
		procPath:   orDefault(h.ProcPath, "/proc"),
		sysPath:    orDefault(h.SysPath, "/sys"),
		rootFSPath: orDefault(h.RootFSPath, "/"),
		fsTimeout:  time.Duration(h.FilesystemTimeout),
		timeout:    probeTimeout(t),
		mpExclude:  defaultMountPointsExcludeRE,
		fsExclude:  defaultFSTypesExcludeRE,
		statfs:     statfs,
		logger:     logger,
	}
	p.cgroupPath = h.CgroupPath
	// As node_exporter's --path.udev.data, but under rootfs_path by
	// default, so that a container mounting the host's root finds it.
	p.udevPath = orDefault(h.UdevDataPath, filepath.Join(p.rootFSPath, "run", "udev", "data"))
	if p.cgroupPath == "" {
		p.cgroupPath = filepath.Join(p.sysPath, "fs", "cgroup")
	}
	if p.fsTimeout <= 0 {
		p.fsTimeout = defaultFilesystemTimeout
	}
	if h.MountPointsExclude != nil {
		p.mpExclude = h.MountPointsExclude.Regexp
	}
	if h.FSTypesExclude != nil {
		p.fsExclude = h.FSTypesExclude.Regexp
	}
	p.proc, p.procErr = procfs.NewFS(p.procPath)
	all := map[string]func(context.Context, *sink) error{
		"conntrack":    p.collectConntrack,
		"cpu":          p.withProc(p.collectCPU),
		"diskstats":    p.collectDiskstats,
		"entropy":      p.withProc(p.collectEntropy),
		"filefd":       p.collectFilefd,
		"filesystem":   p.collectFilesystems,
		"hwmon":        p.collectHwmon,
		"loadavg":      p.withProc(p.collectLoadavg),
		"meminfo":      p.collectMemory,
		"netdev":       p.withProc(p.collectNetdev),
		"netstat":      p.collectNetstat,
		"os":           p.collectOS,
		"pressure":     p.withProc(p.collectPressure),
		"schedstat":    p.withProc(p.collectSchedstat),
		"sockstat":     p.withProc(p.collectSockstat),
		"softnet":      p.withProc(p.collectSoftnet),
		"stat":         p.withProc(p.collectStat),
		"thermal_zone": p.collectThermalZone,
		"time":         p.collectTime,
		"timex":        p.collectTimex,
		"uname":        p.collectUname,
		"vmstat":       p.collectVmstat,
	}
	for _, name := range config.HostCollectors {
		if slices.Contains(h.DisableCollectors, name) {
			continue
		}
		fn, ok := all[name]
		if !ok { // config lists a collector this package lacks: a bug here
			return nil, fmt.Errorf("host collector %q is not implemented", name)
		}
		p.collectors = append(p.collectors, hostCollector{name, fn})
	}
	return p, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (p *hostProber) Close() error { return nil }

func (p *hostProber) Probe(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	s := newSink()
	type outcome struct {
		took time.Duration
		err  error
	}
	outcomes := make([]outcome, len(p.collectors))
	for i, c := range p.collectors {
		t0 := time.Now()
		err := c.collect(ctx, s)
		outcomes[i] = outcome{time.Since(t0), err}
		if err != nil {
			p.logger.Debug("collector failed", "collector", c.name, "err", err)
		}
	}
	for i, c := range p.collectors {
		s.gauge("node_scrape_collector_duration_seconds", "node_exporter: Duration of a collector scrape.", outcomes[i].took.Seconds(), "collector", c.name)
	}
	for i, c := range p.collectors {
		s.gauge("node_scrape_collector_success", "node_exporter: Whether a collector succeeded.", boolToFloat(outcomes[i].err == nil), "collector", c.name)
	}
	p.collectContainer(s)
	// As node_exporter's scrape, the probe succeeds whichever collectors
	// failed: their node_scrape_collector_success says which.
	return finishProbe(s, start, "", nil, p.logger)
}

// withProc runs a collector that reads /proc through procfs only when
// proc_path could be opened.
func (p *hostProber) withProc(f func(context.Context, *sink) error) func(context.Context, *sink) error {
	return func(ctx context.Context, s *sink) error {
		if p.procErr != nil {
			return p.procErr
		}
		return f(ctx, s)
	}
}

// collectMemory turns every /proc/meminfo field into node_exporter's
// node_memory_<Field>[_bytes] gauge.
func (p *hostProber) collectMemory(_ context.Context, s *sink) error {
	path := filepath.Join(p.procPath, "meminfo")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading memory info: %w", err)
	}
	defer f.Close()
	fields, err := parseMeminfo(f)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	for _, m := range fields {
		s.gauge("node_memory_"+m.name, "Memory information field "+m.name+".", m.value)
	}
	return nil
}

type meminfoField struct {
	name  string
	value float64
}

var meminfoParens = regexp.MustCompile(`\((.*)\)`)

// parseMeminfo parses /proc/meminfo lines such as "Active(anon):  1234 kB"
// into node_exporter's names ("Active_anon_bytes", value in bytes); fields
// without a unit (HugePages_Total) keep their name and value.
func parseMeminfo(r io.Reader) ([]meminfoField, error) {
	var out []meminfoField
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) < 2 || len(parts) > 3 || !strings.HasSuffix(parts[0], ":") {
			continue
		}
		v, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", parts[0], err)
		}
		key := meminfoParens.ReplaceAllString(strings.TrimSuffix(parts[0], ":"), "_${1}")
		if !validMetricSuffix(key) {
			continue
		}
		if len(parts) == 3 {
			if parts[2] != "kB" {
				continue
			}
			v *= 1024
			key += "_bytes"
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, meminfoField{name: key, value: v})
	}
	return out, sc.Err()
}

func validMetricSuffix(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// mount is one line of mountinfo.
type mount struct {
	device, mountPoint, fsType string
	readOnly                   bool
	major, minor               string // of the device, for node_filesystem_mount_info
}

// readMounts reads the agent's own mount table: its mount namespace is the
// container's, whose root filesystem the app beside it fills.
func (p *hostProber) readMounts() ([]mount, error) {
	path := filepath.Join(p.procPath, "self", "mountinfo")
	f, err := os.Open(path)
	if err == nil {
		defer f.Close()
		return parseMountinfo(f)
	}
	path = filepath.Join(p.procPath, "mounts")
	f, err2 := os.Open(path)
	if err2 != nil {
		return nil, fmt.Errorf("reading mount table: %w", errors.Join(err, err2))
	}
	defer f.Close()
	return parseProcMounts(f)
}

// parseMountinfo parses /proc/<pid>/mountinfo (proc(5)):
// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
func parseMountinfo(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(fields) < sep+3 {
			return nil, fmt.Errorf("malformed mountinfo line %q", sc.Text())
		}
		var major, minor int
		if _, err := fmt.Sscanf(fields[2], "%d:%d", &major, &minor); err != nil {
			return nil, fmt.Errorf("malformed mountinfo line %q: major:minor %q", sc.Text(), fields[2])
		}
		// node_exporter's isFilesystemReadOnly: a filesystem the kernel
		// remounted read-only after an error has emergency_ro.
		ro := hasOption(fields[5], "ro")
		if len(fields) > sep+3 {
			ro = ro || hasOption(fields[sep+3], "ro") || hasOption(fields[sep+3], "emergency_ro")
		}
		out = append(out, mount{
			device:     unescapeMount(fields[sep+2]),
			mountPoint: unescapeMount(fields[4]),
			fsType:     fields[sep+1],
			readOnly:   ro,
			major:      strconv.Itoa(major),
			minor:      strconv.Itoa(minor),
		})
	}
	return out, sc.Err()
}

// parseProcMounts parses /proc/mounts, the fallback when mountinfo is absent.
func parseProcMounts(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			return nil, fmt.Errorf("malformed mounts line %q", sc.Text())
		}
		out = append(out, mount{
			device:     unescapeMount(fields[0]),
			mountPoint: unescapeMount(fields[1]),
			fsType:     fields[2],
			readOnly:   hasOption(fields[3], "ro"),
			major:      "0", // /proc/mounts has no device numbers
			minor:      "0",
		})
	}
	return out, sc.Err()
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescapeMount decodes the octal escapes the kernel writes for space, tab,
// newline and backslash in mount fields.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// filesystems applies the exclusions. The root filesystem is kept even when
// its type is excluded (overlay in a container): it is the disk the app
// beside the agent fills. Only mount_points_exclude can drop it.
func (p *hostProber) filesystems(mounts []mount) []mount {
	seen := map[mount]bool{}
	var out []mount
	for _, m := range mounts {
		if p.mpExclude.MatchString(m.mountPoint) {
			continue
		}
		if m.mountPoint != "/" && p.fsExclude.MatchString(m.fsType) {
			continue
		}
		key := m
		key.readOnly = false
		if seen[key] { // one series per device, fstype and mount point
			continue
		}
		seen[key] = true
		out = append(out, m)
	}
	return out
}

type fsResult struct {
	stat    fsStat
	err     error
	timeout bool
}

// errLabel is node_exporter's device_error label: the statfs errno's text,
// "mountpoint timeout" for a mount that does not answer, "" on success.
func (r fsResult) errLabel() string {
	var errno syscall.Errno
	switch {
	case r.err == nil:
		return ""
	case r.timeout:
		return "mountpoint timeout"
	case errors.As(r.err, &errno):
		return errno.Error()
	}
	return r.err.Error()
}

// collectFilesystems stats every mount concurrently, each bounded by the
// filesystem timeout and the probe's deadline, so a hung mount marks only
// itself and the probe returns on time.
func (p *hostProber) collectFilesystems(ctx context.Context, s *sink) error {
	all, err := p.readMounts()
	if err != nil {
		return err
	}
	mounts := p.filesystems(all)
	results := make([]fsResult, len(mounts))
	var wg sync.WaitGroup
	for i, m := range mounts {
		wg.Go(func() { results[i] = p.statMount(ctx, m.mountPoint) })
	}
	wg.Wait()
	for i, m := range mounts {
		r := results[i]
		// node_exporter 1.12 labels a failed mount's series with why
		// (device_error, "" otherwise, which Prometheus stores as no label).
		labels := []string{"device", m.device, "fstype", m.fsType, "mountpoint", m.mountPoint, "device_error", r.errLabel()}
		s.gauge("node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device.", boolToFloat(r.err != nil), labels...)
		s.gauge("node_filesystem_readonly", "Filesystem read-only status.", boolToFloat(m.readOnly), labels...)
		if r.err != nil {
			p.logger.Debug("filesystem statistics unavailable", "mountpoint", m.mountPoint, "err", r.err)
			continue
		}
		s.gauge("node_filesystem_size_bytes", "Filesystem size in bytes.", r.stat.size, labels...)
		s.gauge("node_filesystem_free_bytes", "Filesystem free space in bytes.", r.stat.free, labels...)
		s.gauge("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", r.stat.avail, labels...)
		s.gauge("node_filesystem_files", "Filesystem total file nodes.", r.stat.files, labels...)
		s.gauge("node_filesystem_files_free", "Filesystem total free file nodes.", r.stat.filesFree, labels...)
		s.gauge("node_filesystem_mount_info", "Filesystem mount information.", 1,
			"device", m.device, "major", m.major, "minor", m.minor, "mountpoint", m.mountPoint)
	}
	return nil
}

var errMountStuck = errors.New("statfs still pending from an earlier probe")

// stuckMounts holds the mount points whose statfs is still running after it
// timed out. They are reported as device errors without a new statfs until
// the old one returns, so a hung NFS mount costs one goroutine, not one per
// probe (node_exporter's stuckMounts). It is process-wide because statfs
// goes to the agent's own mount namespace whatever the target, and a
// reloaded prober must not start over on a mount that is still hung.
var stuckMounts = struct {
	sync.Mutex
	m map[string]struct{}
}{m: map[string]struct{}{}}

func (p *hostProber) statMount(ctx context.Context, mountPoint string) fsResult {
	stuckMounts.Lock()
	if _, ok := stuckMounts.m[mountPoint]; ok {
		stuckMounts.Unlock()
		return fsResult{err: fmt.Errorf("mount point %s: %w", mountPoint, errMountStuck), timeout: true}
	}
	stuckMounts.Unlock()

	done := make(chan fsResult, 1)
	go func() {
		st, err := p.statfs(mountPoint)
		// Sending and clearing under the lock pairs with the timeout branch
		// below: either the waiter sees the result, or the mark it sets is
		// cleared here.
		stuckMounts.Lock()
		done <- fsResult{stat: st, err: err}
		if _, ok := stuckMounts.m[mountPoint]; ok {
			delete(stuckMounts.m, mountPoint)
			p.logger.Info("mount point responds again", "mountpoint", mountPoint)
		}
		stuckMounts.Unlock()
	}()

	timer := time.NewTimer(p.fsTimeout)
	defer timer.Stop()
	waited := fmt.Sprintf("filesystem_timeout %s", p.fsTimeout)
	select {
	case r := <-done:
		return r
	case <-timer.C:
	case <-ctx.Done():
		waited = "the probe deadline"
	}
	stuckMounts.Lock()
	defer stuckMounts.Unlock()
	select {
	case r := <-done:
		return r
	default:
	}
	stuckMounts.m[mountPoint] = struct{}{}
	p.logger.Warn("statfs timed out; mount point skipped until it returns", "mountpoint", mountPoint, "waited_for", waited)
	return fsResult{err: fmt.Errorf("statfs %s: no answer within %s", mountPoint, waited), timeout: true}
}
