package collectors

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupMemory is the memory accounting of one cgroup v2, in bytes.
type cgroupMemory struct {
	usage      float64 // memory.current
	limit      float64 // memory.max; 0 when "max" (no limit), as cAdvisor
	workingSet float64 // usage - inactive_file, floored at 0, as cAdvisor
	rss        float64 // memory.stat anon
	cache      float64 // memory.stat file
	hasStat    bool
	oomKills   float64 // memory.events oom_kill
	hasEvents  bool
}

// errNoCgroupV2 means the agent is not in a cgroup v2 container; the host
// probe then reports no container series.
var errNoCgroupV2 = errors.New("no cgroup v2 memory controller")

// collectContainer adds cAdvisor's container memory series for the cgroup
// the agent runs in. Outside a cgroup v2 container it adds nothing: the
// host series are still worth having.
func (p *hostProber) collectContainer(s *sink) {
	m, _, err := readCgroupMemory(p.procPath, p.cgroupPath)
	switch {
	case errors.Is(err, errNoCgroupV2):
		p.logger.Debug("not in a cgroup v2 container: no container series", "cgroup_path", p.cgroupPath, "err", err)
		return
	case err != nil:
		p.logger.Warn("container memory unreadable: no container series", "cgroup_path", p.cgroupPath, "err", err)
		return
	}
	s.gauge("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", m.usage)
	s.gauge("container_memory_working_set_bytes", "Current working set in bytes.", m.workingSet)
	s.gauge("container_spec_memory_limit_bytes", "Memory limit for the container.", m.limit)
	if m.hasStat {
		s.gauge("container_memory_rss", "Size of RSS in bytes.", m.rss)
		s.gauge("container_memory_cache", "Number of bytes of page cache memory.", m.cache)
	}
	if m.hasEvents {
		s.counter("container_oom_events_total", "Count of out of memory events observed for the container.", m.oomKills)
	}
}

// readCgroupMemory finds the process's own cgroup v2 ("0::/path" in
// /proc/self/cgroup) under cgroupRoot and reads its memory files. With a
// cgroup namespace the path is "/" and cgroupRoot is the container's own
// cgroup; without one the path is resolved under cgroupRoot, falling back
// to cgroupRoot itself when the host path is not mounted there.
func readCgroupMemory(procPath, cgroupRoot string) (cgroupMemory, string, error) {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
		return cgroupMemory{}, "", fmt.Errorf("%w at %s: %w", errNoCgroupV2, cgroupRoot, err)
	}
	rel, err := ownCgroup(filepath.Join(procPath, "self", "cgroup"))
	if err != nil {
		return cgroupMemory{}, "", err
	}
	dir := filepath.Join(cgroupRoot, filepath.Clean("/"+rel))
	if _, err := os.Stat(filepath.Join(dir, "memory.current")); err != nil {
		dir = cgroupRoot
	}
	var m cgroupMemory
	if m.usage, err = readCgroupUint(filepath.Join(dir, "memory.current")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// The root cgroup has no memory.current: not in a container.
			return cgroupMemory{}, "", fmt.Errorf("%w: %w", errNoCgroupV2, err)
		}
		return cgroupMemory{}, "", err
	}
	if m.limit, err = readCgroupUint(filepath.Join(dir, "memory.max")); err != nil {
		return cgroupMemory{}, "", err
	}
	m.workingSet = m.usage
	if stat, err := readFlatKeyed(filepath.Join(dir, "memory.stat")); err == nil {
		m.hasStat = true
		m.rss, m.cache = stat["anon"], stat["file"]
		m.workingSet = max(m.usage-stat["inactive_file"], 0)
	}
	if events, err := readFlatKeyed(filepath.Join(dir, "memory.events")); err == nil {
		// oom_kill counts processes the OOM killer took in this cgroup,
		// which is what cAdvisor's OOM watcher counts; "oom" also counts
		// allocations that failed without a kill.
		m.hasEvents = true
		m.oomKills = events["oom_kill"]
	}
	return m, dir, nil
}

// ownCgroup returns the cgroup v2 path of the "0::" line of /proc/self/cgroup.
func ownCgroup(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading own cgroup: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest, nil
		}
	}
	return "", fmt.Errorf("%w: no 0:: line in %s", errNoCgroupV2, path)
}

// readCgroupUint reads a single-value cgroup file; "max" (no limit) is 0.
func readCgroupUint(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading cgroup file: %w", err)
	}
	v := string(bytes.TrimSpace(b))
	if v == "max" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing %s: %w", path, err)
	}
	return float64(n), nil
}

// readFlatKeyed reads a "key value" per line cgroup file (memory.stat,
// memory.events).
func readFlatKeyed(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading cgroup file: %w", err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %s key %s: %w", path, k, err)
		}
		out[k] = float64(n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}
