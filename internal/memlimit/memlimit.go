// Package memlimit sets the Go runtime's soft memory limit (GOMEMLIMIT)
// from the container's cgroup memory limit, as Prometheus 3 does with
// --auto-gomemlimit: a sidecar that lets its heap grow to the container's
// limit is OOM-killed by its own garbage, while a soft limit a little below
// it makes the garbage collector work harder instead.
//
// Reading the limit is github.com/KimMachineGun/automemlimit's (the library
// Prometheus 3 uses): it resolves the process's cgroup through
// /proc/self/mountinfo, handles cgroup v1, v2 and hybrid hosts, walks up the
// v2 hierarchy for a limit set on a parent (a Kubernetes pod's limit sits
// above the container's cgroup) and treats v1's page-rounded "unlimited"
// value as no limit.
package memlimit

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// DefaultRatio is the share of the cgroup limit given to the Go heap, as
// Prometheus 3's --auto-gomemlimit.ratio: the rest is for memory the
// runtime does not count (mmapped TSDB chunks, cgo, thread stacks).
const DefaultRatio = 0.9

// Options say whether and how to set the limit.
type Options struct {
	// Enabled is false for --auto-gomemlimit=false: nothing is changed.
	Enabled bool
	// Ratio of the cgroup limit to use, in (0, 1].
	Ratio float64
	// Limit reports the memory limit in bytes, or an error wrapping
	// memlimit.ErrNoLimit or memlimit.ErrNoCgroup when there is none.
	// Nil reads the process's own cgroup.
	Limit func() (uint64, error)
	// Logger gets the one line saying what was decided.
	Logger *slog.Logger
}

// Result is what Apply decided, for the log line and tests.
type Result struct {
	// Set is true when Apply changed the runtime's limit.
	Set bool
	// CgroupLimit is the limit read from the cgroup, 0 when none.
	CgroupLimit uint64
	// GoMemLimit is the runtime's limit after Apply (math.MaxInt64: none).
	GoMemLimit int64
}

var errBadRatio = errors.New("want a ratio greater than 0 and at most 1")

// ValidateRatio is the check of --auto-gomemlimit.ratio.
func ValidateRatio(r float64) error {
	if math.IsNaN(r) || r <= 0 || r > 1 {
		return fmt.Errorf("--auto-gomemlimit.ratio %v: %w", r, errBadRatio)
	}
	return nil
}

// Apply sets the runtime's soft memory limit to Ratio times the cgroup
// memory limit, unless it is disabled or the user set GOMEMLIMIT (the
// runtime has applied it already, and an explicit choice wins). No limit,
// or no cgroup, leaves the runtime's limit alone. It logs one line.
func Apply(o Options) (Result, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	current := debug.SetMemoryLimit(-1)
	res := Result{GoMemLimit: current}
	if !o.Enabled {
		logger.Info("GOMEMLIMIT not set from the cgroup: --auto-gomemlimit=false", "gomemlimit", limitString(current))
		return res, nil
	}
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		logger.Info("GOMEMLIMIT set by the environment: not changed", "gomemlimit", v)
		return res, nil
	}
	if err := ValidateRatio(o.Ratio); err != nil {
		return res, err
	}
	read := o.Limit
	if read == nil {
		read = memlimit.FromCgroup
	}
	limit, err := read()
	switch {
	case errors.Is(err, memlimit.ErrNoLimit), errors.Is(err, memlimit.ErrNoCgroup), errors.Is(err, memlimit.ErrCgroupsNotSupported):
		logger.Info("GOMEMLIMIT not set: no cgroup memory limit", "reason", err.Error())
		return res, nil
	case err != nil:
		return res, fmt.Errorf("reading the cgroup memory limit: %w", err)
	case limit >= math.MaxInt64:
		// A limit no machine has is how some runtimes spell "none".
		logger.Info("GOMEMLIMIT not set: no cgroup memory limit", "cgroup_limit", limit)
		return res, nil
	}
	res.CgroupLimit = limit
	res.GoMemLimit = int64(float64(limit) * o.Ratio)
	res.Set = true
	debug.SetMemoryLimit(res.GoMemLimit)
	logger.Info("GOMEMLIMIT set from the cgroup memory limit",
		"gomemlimit", res.GoMemLimit, "cgroup_limit", limit, "ratio", o.Ratio)
	return res, nil
}

func limitString(l int64) string {
	if l == math.MaxInt64 {
		return "none"
	}
	return fmt.Sprint(l)
}
