package collectors

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func TestReadCgroupMemory(t *testing.T) {
	tests := []struct {
		fixture string
		want    cgroupMemory
		wantDir string // relative to the fixture's sys/fs/cgroup
		wantErr error  // errNoCgroupV2, or nil; other errors are checked by wantFail
		wantBad bool
	}{
		{fixture: "unlimited", want: cgroupMemory{usage: 1048576, limit: 0, workingSet: 0, rss: 524288, cache: 2097152, hasStat: true, hasEvents: true}, wantDir: "."},
		{fixture: "nested", want: cgroupMemory{usage: 73400320, limit: 104857600, workingSet: 73400320 - 10485760, rss: 41943040, cache: 31457280, hasStat: true, oomKills: 1, hasEvents: true},
			wantDir: "kubepods.slice/pod1.slice/cri-ctr1.scope"},
		{fixture: "minimal", want: cgroupMemory{usage: 4096, limit: 8192, workingSet: 4096}, wantDir: "."},
		{fixture: "hostroot", wantErr: errNoCgroupV2},
		{fixture: "v1", wantErr: errNoCgroupV2},
		{fixture: "garbage", wantBad: true},
		{fixture: "does-not-exist", wantErr: errNoCgroupV2},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			base := filepath.Join("testdata", "cgroup", tc.fixture)
			root := filepath.Join(base, "sys", "fs", "cgroup")
			got, dir, err := readCgroupMemory(filepath.Join(base, "proc"), root)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			case tc.wantBad:
				if err == nil || errors.Is(err, errNoCgroupV2) {
					t.Fatalf("err = %v, want a parse error", err)
				}
				if !strings.Contains(err.Error(), "memory.current") {
					t.Errorf("error %q does not name the file", err)
				}
				return
			case err != nil:
				t.Fatalf("readCgroupMemory: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if want := filepath.Join(root, tc.wantDir); dir != want {
				t.Errorf("dir = %s, want %s", dir, want)
			}
		})
	}
}

// The host probe carries the container series, as cAdvisor names them,
// only when it runs in a cgroup v2 container; otherwise it still succeeds.
func TestHostProbeContainerSeries(t *testing.T) {
	tests := []struct {
		fixture string
		want    map[string]float64 // absent names must be absent
	}{
		{"nested", map[string]float64{
			"container_memory_usage_bytes":       73400320,
			"container_memory_working_set_bytes": 73400320 - 10485760,
			"container_spec_memory_limit_bytes":  104857600,
			"container_memory_rss":               41943040,
			"container_memory_cache":             31457280,
			"container_oom_events_total":         1,
		}},
		{"minimal", map[string]float64{
			"container_memory_usage_bytes":       4096,
			"container_memory_working_set_bytes": 4096,
			"container_spec_memory_limit_bytes":  8192,
		}},
		{"v1", nil},
		{"hostroot", nil},
		{"garbage", nil},
	}
	all := []string{"container_memory_usage_bytes", "container_memory_working_set_bytes", "container_spec_memory_limit_bytes",
		"container_memory_rss", "container_memory_cache", "container_oom_events_total"}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			base := filepath.Join("testdata", "cgroup", tc.fixture)
			tg := netTarget(config.KindHost, 5*time.Second)
			// Memory and mounts from the host fixture, the cgroup from this one.
			tg.Host = &config.HostTarget{ProcPath: filepath.Join("testdata", "host", "proc"), CgroupPath: filepath.Join(base, "sys", "fs", "cgroup")}
			p := mustProber(t, tg).(*hostProber)
			p.procPath = filepath.Join(base, "proc") // own cgroup from this fixture; no meminfo here
			p.statfs = fakeStatfs
			res := p.Probe(t.Context())
			mfs := gatherProbe(t, res)
			for _, name := range all {
				got, ok := sampleValue(mfs, name)
				want, wantOK := tc.want[name]
				if ok != wantOK || got != want {
					t.Errorf("%s = %v (present %v), want %v (present %v)", name, got, ok, want, wantOK)
				}
			}
			if got := mfs["container_oom_events_total"]; got != nil && got.GetType().String() != "COUNTER" {
				t.Errorf("container_oom_events_total is a %s", got.GetType())
			}
		})
	}
}

// On the machine running the tests: container series exactly when the
// default cgroup mount is a cgroup v2 hierarchy with our memory accounting.
func TestHostProbeContainerReal(t *testing.T) {
	tg := netTarget(config.KindHost, 5*time.Second)
	tg.Host = &config.HostTarget{}
	res := mustProber(t, tg).Probe(t.Context())
	if !res.Success {
		t.Fatalf("host probe failed: %s %v", res.Reason, res.Err)
	}
	mfs := gatherProbe(t, res)
	usage, has := sampleValue(mfs, "container_memory_usage_bytes")
	_, statErr := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	_, _, err := readCgroupMemory("/proc", "/sys/fs/cgroup")
	switch {
	case statErr != nil:
		if has || !errors.Is(err, errNoCgroupV2) {
			t.Errorf("no cgroup v2 here (%v), yet container series %v, err %v", statErr, has, err)
		}
	case err == nil:
		if !has || usage <= 0 {
			t.Errorf("cgroup v2 with memory.current, container_memory_usage_bytes = %v (present %v)", usage, has)
		}
		ws := mustValue(t, mfs, "container_memory_working_set_bytes")
		if ws > usage {
			t.Errorf("working set %v above usage %v", ws, usage)
		}
	default:
		if has {
			t.Errorf("container series without readable cgroup memory: %v", err)
		}
	}
}
