package alerts

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/storage"
)

func TestStorageHealthTransitions(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := newStorageHealth(reg, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	h.now = func() time.Time { return now }
	var changes []StorageStatus
	h.onChange = func(s StorageStatus) { changes = append(changes, s) }

	// A sample-level error says nothing about the disk.
	if !isSampleError(storage.ErrOutOfOrderSample) || isSampleError(syscall.ENOSPC) {
		t.Fatal("isSampleError misclassifies")
	}

	h.failed(opCommit, errors.New("write to WAL: no space left on device"))
	s := h.Status()
	if s.Healthy || s.Since != now || s.Reason != "commit failed: write to WAL: no space left on device" {
		t.Fatalf("after a failed commit: %+v", s)
	}
	if got := testutil.ToFloat64(h.healthy); got != 0 {
		t.Errorf("vigil_storage_healthy = %g, want 0", got)
	}
	now = now.Add(5 * time.Second)
	h.succeeded() // one lucky commit inside the hold: still failing
	if h.Status().Healthy {
		t.Fatal("recovered inside the hold period")
	}
	now = now.Add(11 * time.Second)
	h.succeeded()
	if !h.Status().Healthy || testutil.ToFloat64(h.healthy) != 1 {
		t.Fatalf("not recovered after the hold: %+v", h.Status())
	}
	if len(changes) != 2 || changes[0].Healthy || !changes[1].Healthy {
		t.Errorf("onChange calls = %+v, want failing then healthy", changes)
	}

	// A failed head compaction, read from the TSDB's counters.
	tsdbReg := prometheus.NewRegistry()
	failedC := prometheus.NewCounter(prometheus.CounterOpts{Name: "prometheus_tsdb_compactions_failed_total", Help: "x"})
	ranC := prometheus.NewCounter(prometheus.CounterOpts{Name: "prometheus_tsdb_compactions_total", Help: "x"})
	tsdbReg.MustRegister(failedC, ranC)
	h.checkCounters(tsdbReg)
	if !h.Status().Healthy {
		t.Fatal("failing without any failed compaction")
	}
	failedC.Inc()
	h.checkCounters(tsdbReg)
	if s := h.Status(); s.Healthy || s.Reason == "" {
		t.Fatalf("failed compaction not reported: %+v", s)
	}
	now = now.Add(time.Minute)
	h.succeeded() // commits work, but the head still cannot be compacted
	if h.Status().Healthy {
		t.Fatal("recovered while compaction still fails")
	}
	ranC.Inc()
	now = now.Add(time.Second)
	h.checkCounters(tsdbReg)
	if !h.Status().Healthy {
		t.Fatalf("not recovered after a successful compaction: %+v", h.Status())
	}
	if got := testutil.ToFloat64(h.failures.WithLabelValues(opCompaction)); got != 1 {
		t.Errorf("compaction failures = %g, want 1", got)
	}
	if problems, err := testutil.CollectAndLint(h.failures); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
