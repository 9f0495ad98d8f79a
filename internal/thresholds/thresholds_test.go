package thresholds

import (
	"math"
	"testing"
)

// TestBurnRates checks the SRE workbook's table: each condition spends the
// stated share of a 30-day budget over its long window, pages or tickets as
// the workbook says, and has a short window of 1/12 of the long one.
func TestBurnRates(t *testing.T) {
	wantBudget := []struct {
		share    float64
		severity string
	}{
		{0.02, "critical"}, {0.05, "critical"}, {0.10, "warning"}, {0.10, "warning"},
	}
	if len(BurnRates) != len(wantBudget) {
		t.Fatalf("%d burn rates, want %d", len(BurnRates), len(wantBudget))
	}
	for i, br := range BurnRates {
		spent := br.Factor * br.Long.Hours() / SLOWindow.Hours()
		if math.Abs(spent-wantBudget[i].share) > 1e-9 {
			t.Errorf("burn rate %d (%gx over %s) spends %.4f of the budget, want %.2f", i, br.Factor, br.Long, spent, wantBudget[i].share)
		}
		if br.Severity != wantBudget[i].severity {
			t.Errorf("burn rate %d severity %q, want %q", i, br.Severity, wantBudget[i].severity)
		}
		if br.Short*12 != br.Long {
			t.Errorf("burn rate %d: short window %s is not 1/12 of %s", i, br.Short, br.Long)
		}
	}
}

func TestRatiosAreRatios(t *testing.T) {
	for name, v := range map[string]float64{
		"ErrorRatio": ErrorRatio, "MemoryRatio": MemoryRatio, "RedisMemoryRatio": RedisMemoryRatio,
		"DiskFreeRatio": DiskFreeRatio, "DiskPredictFreeRatio": DiskPredictFreeRatio, "InodeFreeRatio": InodeFreeRatio,
		"MongoConnRatio": MongoConnRatio, "ProbeFailureRatio": ProbeFailureRatio, "NotificationErrorRatio": NotificationErrorRatio,
		"AvailabilitySLO": AvailabilitySLO, "LatencySLO": LatencySLO,
	} {
		if v <= 0 || v >= 1 {
			t.Errorf("%s = %g, want a ratio strictly between 0 and 1", name, v)
		}
	}
	if DiskFreeRatio >= DiskPredictFreeRatio {
		t.Errorf("DiskFreeRatio %g must be below DiskPredictFreeRatio %g: the prediction warns before the disk is low", DiskFreeRatio, DiskPredictFreeRatio)
	}
}
