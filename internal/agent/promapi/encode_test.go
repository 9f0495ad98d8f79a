package promapi

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// TestEncodeResults: the hand-written encoding writes what Prometheus's
// codec writes, for the values and labels that need care.
func TestEncodeResults(t *testing.T) {
	odd := labels.FromStrings("__name__", "m", "q", `a"b\c`, "u", "ünï\u2028", "ctl", "x\ny\t\x01", "html", "<&>")
	tests := []struct {
		name string
		v    parser.Value
		want string
	}{
		{"vector values", promql.Vector{
			{Metric: labels.FromStrings("a", "1"), T: 1435781451781, F: 1.234},
			{Metric: labels.FromStrings("a", "2"), T: 1435781451001, F: math.NaN()},
			{Metric: labels.FromStrings("a", "3"), T: 1435781451010, F: math.Inf(1)},
			{Metric: labels.FromStrings("a", "4"), T: 1435781451000, F: math.Inf(-1)},
			{Metric: labels.FromStrings("a", "5"), T: -1500, F: 1e-7},
			{Metric: labels.FromStrings("a", "6"), T: 0, F: 1e21},
			{Metric: labels.FromStrings("a", "7"), T: 5, F: -0.000001},
		}, `{"resultType":"vector","result":[` +
			`{"metric":{"a":"1"},"value":[1435781451.781,"1.234"]},` +
			`{"metric":{"a":"2"},"value":[1435781451.001,"NaN"]},` +
			`{"metric":{"a":"3"},"value":[1435781451.010,"+Inf"]},` +
			`{"metric":{"a":"4"},"value":[1435781451,"-Inf"]},` +
			`{"metric":{"a":"5"},"value":[-1.500,"1e-07"]},` +
			`{"metric":{"a":"6"},"value":[0,"1e+21"]},` +
			`{"metric":{"a":"7"},"value":[0.005,"-0.000001"]}]}`},
		{"empty vector", promql.Vector{}, `{"resultType":"vector","result":[]}`},
		{"empty matrix", promql.Matrix{}, `{"resultType":"matrix","result":[]}`},
		{"matrix", promql.Matrix{{Metric: labels.FromStrings("a", "1"), Floats: []promql.FPoint{{T: 1000, F: 1}, {T: 1100, F: 2.5}}}, {Metric: labels.EmptyLabels()}},
			`{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1"],[1.100,"2.5"]]},{"metric":{}}]}`},
		{"scalar", promql.Scalar{T: 1500, V: 2}, `{"resultType":"scalar","result":[1.5,"2"]}`},
		{"string", promql.String{T: 1000, V: `"x"`}, `{"resultType":"string","result":[1,"\"x\""]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(queryData{ResultType: tc.v.Type(), Result: tc.v})
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}

	// Labels that need escaping survive a round trip.
	b, err := json.Marshal(queryData{ResultType: parser.ValueTypeVector, Result: promql.Vector{{Metric: odd, T: 1, F: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Result []struct{ Metric map[string]string }
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if m := got.Result[0].Metric; len(m) != odd.Len() || m["q"] != `a"b\c` || m["u"] != "ünï\u2028" || m["ctl"] != "x\ny\t\x01" || m["html"] != "<&>" {
		t.Errorf("labels after a round trip: %q (JSON %s)", m, b)
	}
}
