package rules

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		want    []string
		wantErr bool
	}{
		{name: "plain selector", expr: `up`, want: []string{"up"}},
		{name: "no metric", expr: `vector(1)`, want: nil},
		{name: "distinct and sorted", expr: `rate(b_total[5m]) / rate(a_total[5m]) and b_total > 0`, want: []string{"a_total", "b_total"}},
		{name: "name matcher", expr: `{__name__="x", job="app"}`, want: []string{"x"}},
		{name: "inside functions and subqueries", expr: `max_over_time(histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))[10m:1m]) - time()`, want: []string{"h_bucket"}},
		{name: "recording rule", expr: `job:http_requests_errors:ratio_rate5m > 0.1`, want: []string{"job:http_requests_errors:ratio_rate5m"}},
		{name: "name by regex", expr: `{__name__=~"go_.*"}`, wantErr: true},
		{name: "syntax error", expr: `sum(rate(x[5m])`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MetricNames(tt.expr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("MetricNames(%q) error = %v, want error %v", tt.expr, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("MetricNames(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}
