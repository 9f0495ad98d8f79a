package memlimit

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

const gib = 1 << 30

func TestApply(t *testing.T) {
	fixed := func(n uint64, err error) func() (uint64, error) {
		return func() (uint64, error) { return n, err }
	}
	errUnreadable := errors.New("permission denied")
	tests := []struct {
		name     string
		env      string // GOMEMLIMIT
		opts     Options
		wantSet  bool
		wantGo   int64 // the runtime's limit afterwards; -1: unchanged
		wantErr  error
		wantLog  string
		wantRead bool // the cgroup was consulted
	}{
		{
			name: "limit times ratio", opts: Options{Enabled: true, Ratio: 0.9, Limit: fixed(gib, nil)},
			wantSet: true, wantGo: 966367641 /* 0.9 GiB, rounded down */, wantRead: true,
			wantLog: "GOMEMLIMIT set from the cgroup memory limit",
		},
		{
			name: "ratio 1 uses the whole limit", opts: Options{Enabled: true, Ratio: 1, Limit: fixed(512<<20, nil)},
			wantSet: true, wantGo: 512 << 20, wantRead: true,
		},
		{
			name: "disabled by the flag", opts: Options{Enabled: false, Ratio: 0.9, Limit: fixed(gib, nil)},
			wantGo: -1, wantLog: "--auto-gomemlimit=false",
		},
		{
			name: "GOMEMLIMIT from the environment wins", env: "300MiB", opts: Options{Enabled: true, Ratio: 0.9, Limit: fixed(gib, nil)},
			wantGo: -1, wantLog: "set by the environment",
		},
		{
			name: "memory.max is max", opts: Options{Enabled: true, Ratio: 0.9, Limit: fixed(0, memlimit.ErrNoLimit)},
			wantGo: -1, wantRead: true, wantLog: "no cgroup memory limit",
		},
		{
			name: "not in a cgroup", opts: Options{Enabled: true, Ratio: 0.9, Limit: fixed(0, fmt.Errorf("resolving: %w", memlimit.ErrNoCgroup))},
			wantGo: -1, wantRead: true, wantLog: "no cgroup memory limit",
		},
		{
			name: "huge limit is none", opts: Options{Enabled: true, Ratio: 0.9, Limit: fixed(math.MaxUint64, nil)},
			wantGo: -1, wantRead: true, wantLog: "no cgroup memory limit",
		},
		{
			name: "unreadable cgroup is an error", opts: Options{Enabled: true, Ratio: 0.9, Limit: fixed(0, errUnreadable)},
			wantGo: -1, wantRead: true, wantErr: errUnreadable,
		},
		{
			name: "ratio above 1 is refused", opts: Options{Enabled: true, Ratio: 1.5, Limit: fixed(gib, nil)},
			wantGo: -1, wantErr: errBadRatio,
		},
		{
			name: "ratio 0 is refused", opts: Options{Enabled: true, Ratio: 0, Limit: fixed(gib, nil)},
			wantGo: -1, wantErr: errBadRatio,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restoreLimit(t)
			t.Setenv("GOMEMLIMIT", tt.env)
			before := debug.SetMemoryLimit(-1)
			read := false
			if inner := tt.opts.Limit; inner != nil {
				tt.opts.Limit = func() (uint64, error) { read = true; return inner() }
			}
			var logs bytes.Buffer
			tt.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))

			res, err := Apply(tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Apply: err %v, want %v", err, tt.wantErr)
			}
			after := debug.SetMemoryLimit(-1)
			want := tt.wantGo
			if want == -1 {
				want = before
			}
			if after != want || res.GoMemLimit != want {
				t.Errorf("runtime limit %d, result %d, want %d", after, res.GoMemLimit, want)
			}
			if res.Set != tt.wantSet {
				t.Errorf("Set %v, want %v", res.Set, tt.wantSet)
			}
			if read != tt.wantRead {
				t.Errorf("cgroup read %v, want %v", read, tt.wantRead)
			}
			if err == nil && strings.Count(logs.String(), "\n") != 1 {
				t.Errorf("want one log line, got %q", logs.String())
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q does not say %q", logs.String(), tt.wantLog)
			}
			if tt.wantSet && !strings.Contains(logs.String(), fmt.Sprintf("gomemlimit=%d", want)) {
				t.Errorf("log %q does not give the value %d", logs.String(), want)
			}
		})
	}
}

// TestApplyReadsOwnCgroup runs the real cgroup reader on the machine the
// test runs on: whatever the host, it must either find a limit or say
// there is none, never fail to read.
func TestApplyReadsOwnCgroup(t *testing.T) {
	restoreLimit(t)
	t.Setenv("GOMEMLIMIT", "")
	res, err := Apply(Options{Enabled: true, Ratio: DefaultRatio})
	if err != nil {
		t.Fatalf("Apply on this host: %v", err)
	}
	t.Logf("this host: %+v", res)
	if res.Set && (res.CgroupLimit == 0 || res.GoMemLimit != int64(float64(res.CgroupLimit)*DefaultRatio)) {
		t.Errorf("result %+v: GOMEMLIMIT is not %v of the cgroup limit", res, DefaultRatio)
	}
}

// restoreLimit puts the runtime's limit back after a test changed it.
func restoreLimit(t *testing.T) {
	t.Helper()
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
}
