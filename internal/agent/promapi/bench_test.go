package promapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// BenchmarkQueryLatencyVsPrometheus: range queries of the dashboards'
// shapes (rates summed by a label, a quantile of a classic histogram, topk,
// raw series) over the same 1,050 series, answered by the agent's API and
// by Prometheus 2.42, both over loopback HTTP, alternating in one run.
// agent/prometheus is the ratio of their mean latencies. Run briefly:
//
//	go test ./internal/agent/promapi/ -run '^$' -bench QueryLatency -benchtime 20x
func BenchmarkQueryLatencyVsPrometheus(b *testing.B) {
	var n atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := n.Add(1)
		var sb strings.Builder
		sb.WriteString("# TYPE bench_requests_total counter\n")
		for pod := range 100 {
			for code := range 5 {
				fmt.Fprintf(&sb, "bench_requests_total{pod=\"p%d\",code=\"%d\"} %d\n", pod, 200+code*100, i*int64(pod+code+1))
			}
		}
		sb.WriteString("# TYPE bench_latency_seconds histogram\n")
		for pod := range 50 {
			cum := int64(0)
			for j, le := range []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"} {
				cum += i * int64(j+pod%3+1)
				fmt.Fprintf(&sb, "bench_latency_seconds_bucket{pod=\"p%d\",le=%q} %d\n", pod, le, cum)
			}
		}
		_, _ = w.Write([]byte(sb.String()))
	}))
	b.Cleanup(target.Close)
	d := newSameData(b, target.URL, 30)
	r := promv1.Range{Start: time.UnixMilli(d.first + 1000), End: time.UnixMilli(d.last), Step: 100 * time.Millisecond}
	queries := []string{
		`sum by (code) (rate(bench_requests_total[1s]))`,
		`histogram_quantile(0.99, sum by (le) (rate(bench_latency_seconds_bucket[1s])))`,
		`topk(5, sum by (pod) (rate(bench_requests_total[1s])))`,
		`bench_requests_total`,
	}
	var promTime, agentTime time.Duration
	promQ, agentQ := make([]time.Duration, len(queries)), make([]time.Duration, len(queries))
	b.ResetTimer()
	for b.Loop() {
		for i, q := range queries {
			start := time.Now()
			if _, _, _, err := d.prom.QueryRange(b.Context(), q, r); err != nil {
				b.Fatal(err)
			}
			mid := time.Now()
			if _, _, _, err := d.agent.QueryRange(b.Context(), q, r); err != nil {
				b.Fatal(err)
			}
			promQ[i] += mid.Sub(start)
			agentQ[i] += time.Since(mid)
		}
	}
	for i := range queries {
		promTime += promQ[i]
		agentTime += agentQ[i]
		b.ReportMetric(float64(agentQ[i])/float64(promQ[i]), fmt.Sprintf("agent/prometheus-q%d", i))
	}
	per := float64(b.N * len(queries))
	b.ReportMetric(float64(promTime.Microseconds())/per, "prometheus-µs/query")
	b.ReportMetric(float64(agentTime.Microseconds())/per, "agent-µs/query")
	b.ReportMetric(float64(agentTime)/float64(promTime), "agent/prometheus")
}
