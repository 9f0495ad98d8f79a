// Package health answers GET /api/health: it checks the app's dependencies
// concurrently under one deadline, so the endpoint answers in bounded time
// even when a dependency hangs, and mirrors each result into
// app_dependency_up. Results are reused for a second, so a flood of health
// calls costs the dependencies one check a second. The public answer says
// only the status and whether each dependency is up; the details (version,
// uptime, memory, latencies, errors) are for ServeDetails, behind
// authentication.
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Overall and per-check statuses.
const (
	StatusHealthy   = "healthy"
	StatusDegraded  = "degraded"
	StatusUnhealthy = "unhealthy"

	CheckUp       = "up"
	CheckDown     = "down"
	CheckDisabled = "disabled"
)

// Check is one dependency.
type Check struct {
	Name string
	// Probe returns nil when the dependency works. It must honour ctx;
	// one that does not is reported down at the deadline anyway.
	Probe func(ctx context.Context) error
	// Critical dependencies make the app unhealthy (503) when down;
	// others only degrade it.
	Critical bool
	// Disabled checks are reported as "disabled" and not run (for example
	// Redis when the app runs on its in-process cache).
	Disabled bool
}

// CheckResult is one entry of Report.Checks.
type CheckResult struct {
	Status    string  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Memory is the Go runtime's view of the process memory.
type Memory struct {
	AllocBytes uint64 `json:"alloc_bytes"`
	SysBytes   uint64 `json:"sys_bytes"`
}

// Report is the JSON body of /api/health.
type Report struct {
	Status        string                 `json:"status"`
	Version       string                 `json:"version"`
	UptimeSeconds float64                `json:"uptime_seconds"`
	Memory        Memory                 `json:"memory"`
	Checks        map[string]CheckResult `json:"checks"`
}

// Checker runs the checks.
type Checker struct {
	Checks   []Check
	Version  string
	Started  time.Time
	Deadline time.Duration // whole-check budget; default 1.5s
	// Up, when set, is the app_dependency_up gauge (label: dependency).
	Up     *prometheus.GaugeVec
	Logger *slog.Logger
	// CacheFor is how long a report answers health calls: default 1s,
	// negative for none.
	CacheFor time.Duration

	mu       sync.Mutex
	last     Report
	lastAt   time.Time
	inflight chan struct{} // closed when the running check ends
}

// PublicReport is the unauthenticated answer of /api/health: nothing an
// attacker could use (no version, no driver errors, no addresses).
type PublicReport struct {
	Status string                  `json:"status"`
	Checks map[string]PublicStatus `json:"checks"`
}

// PublicStatus is one dependency in PublicReport.
type PublicStatus struct {
	Status string `json:"status"`
}

// Public strips rep to its statuses.
func (rep Report) Public() PublicReport {
	p := PublicReport{Status: rep.Status, Checks: make(map[string]PublicStatus, len(rep.Checks))}
	for name, c := range rep.Checks {
		p.Checks[name] = PublicStatus{Status: c.Status}
	}
	return p
}

// Current returns a report at most CacheFor old, running the checks when
// there is none; concurrent callers share one run.
func (c *Checker) Current(ctx context.Context) Report {
	ttl := c.CacheFor
	if ttl == 0 {
		ttl = time.Second
	}
	for {
		c.mu.Lock()
		if ttl > 0 && !c.lastAt.IsZero() && time.Since(c.lastAt) < ttl {
			rep := c.last
			c.mu.Unlock()
			return rep
		}
		if wait := c.inflight; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				// The caller is gone; whatever it gets is not read.
				c.mu.Lock()
				rep := c.last
				c.mu.Unlock()
				return rep
			}
		}
		done := make(chan struct{})
		c.inflight = done
		c.mu.Unlock()

		// Not the caller's cancellation: others may be waiting on this run.
		rep := c.Run(context.WithoutCancel(ctx))

		c.mu.Lock()
		c.last, c.lastAt, c.inflight = rep, time.Now(), nil
		close(done)
		c.mu.Unlock()
		if rep.Status == StatusUnhealthy && c.Logger != nil {
			c.Logger.WarnContext(ctx, "health check unhealthy", "checks", rep.Checks)
		}
		return rep
	}
}

// Run checks every dependency concurrently and returns the report.
func (c *Checker) Run(ctx context.Context) Report {
	deadline := c.Deadline
	if deadline <= 0 {
		deadline = 1500 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()

	type result struct {
		i   int
		res CheckResult
	}
	results := make(chan result, len(c.Checks))
	var wg sync.WaitGroup
	for i, chk := range c.Checks {
		if chk.Disabled {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := chk.Probe(ctx)
			r := CheckResult{Status: CheckUp, LatencyMS: ms(time.Since(start))}
			if err != nil {
				r.Status, r.Error = CheckDown, truncate(err.Error(), maxErrorLen)
			}
			results <- result{i, r}
		}()
	}
	// A probe that ignores ctx must not hold the answer: stop waiting at
	// the deadline and report what has not answered as down.
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	got := make(map[int]CheckResult, len(c.Checks))
	start := time.Now()
collect:
	for {
		select {
		case r := <-results:
			got[r.i] = r.res
		case <-allDone:
			for {
				select {
				case r := <-results:
					got[r.i] = r.res
				default:
					break collect
				}
			}
		case <-ctx.Done():
			break collect
		}
	}

	rep := Report{
		Status:        StatusHealthy,
		Version:       c.Version,
		UptimeSeconds: time.Since(c.Started).Seconds(),
		Checks:        make(map[string]CheckResult, len(c.Checks)),
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	rep.Memory = Memory{AllocBytes: mem.Alloc, SysBytes: mem.Sys}

	for i, chk := range c.Checks {
		if chk.Disabled {
			rep.Checks[chk.Name] = CheckResult{Status: CheckDisabled}
			continue
		}
		r, ok := got[i]
		if !ok {
			r = CheckResult{Status: CheckDown, LatencyMS: ms(time.Since(start)), Error: "no answer within " + deadline.String()}
		}
		rep.Checks[chk.Name] = r
		up := 1.0
		if r.Status == CheckDown {
			up = 0
			if chk.Critical {
				rep.Status = StatusUnhealthy
			} else if rep.Status == StatusHealthy {
				rep.Status = StatusDegraded
			}
		}
		if c.Up != nil {
			c.Up.WithLabelValues(chk.Name).Set(up)
		}
	}
	return rep
}

// maxErrorLen bounds a check's error in the report: driver errors can
// carry a whole topology description.
const maxErrorLen = 300

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ServeHTTP answers the public report: 200 when healthy or degraded, 503
// when unhealthy.
func (c *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := c.Current(r.Context())
	writeReport(w, rep.Status, rep.Public())
}

// ServeDetails answers the whole report, with the same status codes; serve
// it only to authenticated operators.
func (c *Checker) ServeDetails(w http.ResponseWriter, r *http.Request) {
	rep := c.Current(r.Context())
	writeReport(w, rep.Status, rep)
}

func writeReport(w http.ResponseWriter, status string, body any) {
	code := http.StatusOK
	if status == StatusUnhealthy {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// Watch runs the checks every interval until ctx ends, so that
// app_dependency_up stays current when nobody calls /api/health.
func (c *Checker) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.Current(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
