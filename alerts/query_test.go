package alerts

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
)

// TestQueryAccessors: the query API's storage and engine exist from the
// first configuration until Close, with the configured limits, and the
// engine evaluates subqueries without a step (it used to panic on them).
func TestQueryAccessors(t *testing.T) {
	e, err := New(t.Context(), Options{Registerer: prometheus.NewRegistry(), StoragePath: t.TempDir(), QueryMaxSamples: 50})
	if err != nil {
		t.Fatal(err)
	}
	if e.Queryable() != nil || e.QueryEngine() != nil {
		t.Fatal("storage and engine before the first configuration")
	}
	if err := e.ApplyConfig(testConfig(nil, nil)); err != nil {
		t.Fatal(err)
	}
	q, qe := e.Queryable(), e.QueryEngine()
	if q == nil || qe == nil {
		t.Fatal("no storage or engine after ApplyConfig")
	}
	run := func(expr string) promql.Result {
		t.Helper()
		qry, err := qe.NewInstantQuery(t.Context(), q, nil, expr, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		defer qry.Close()
		return *qry.Exec(t.Context())
	}
	if r := run(`max_over_time(vector(1)[1s:])`); r.Err != nil || r.Value.(promql.Vector)[0].F != 1 {
		t.Errorf("subquery without step: %v %v", r.Value, r.Err)
	}
	var tooMany promql.ErrTooManySamples
	if r := run(`vector(1)[1s:10ms]`); !errors.As(r.Err, &tooMany) { // 100 samples > 50; [1s:] at the 100ms evaluation interval is 10
		t.Errorf("over QueryMaxSamples: %v, want ErrTooManySamples", r.Err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e.Queryable() != nil || e.QueryEngine() != nil {
		t.Error("storage and engine after Close")
	}
}
