package alerts

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"google.golang.org/protobuf/proto"
)

func gaugeFamily(name string, v float64, kv ...string) *dto.MetricFamily {
	m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(v)}}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(name), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{m}}
}

// TestWriteProbe checks that a probe's series land in the TSDB at the
// probe's own timestamp with the target's identity and the report series
// of a scrape, and that a series the next probe lacks, an identity change
// and a removed target all end in staleness markers.
func TestWriteProbe(t *testing.T) {
	e := startEngine(t, t.TempDir(), testConfig(nil, nil), nil)
	id := map[string]string{"job": "redis", "instance": "cache:6379", "env": "prod"}
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	e.WriteProbe(t.Context(), "cache", id, t0, 1500*time.Microsecond, []*dto.MetricFamily{
		gaugeFamily("redis_up", 1),
		gaugeFamily("redis_db_keys", 7, "db", "db0"),
		// An exposed label clashing with the identity keeps its value as
		// exported_<name>, as Prometheus does with honor_labels: false.
		gaugeFamily("redis_thing", 2, "instance", "inner"),
	})
	checks := []struct {
		name string
		sel  []*labels.Matcher
		want float64
	}{
		{"redis_up", []*labels.Matcher{eq("__name__", "redis_up"), eq("job", "redis"), eq("instance", "cache:6379"), eq("env", "prod")}, 1},
		{"redis_db_keys", []*labels.Matcher{eq("__name__", "redis_db_keys"), eq("job", "redis"), eq("db", "db0")}, 7},
		{"exported_instance", []*labels.Matcher{eq("__name__", "redis_thing"), eq("instance", "cache:6379"), eq("exported_instance", "inner")}, 2},
		{"up", []*labels.Matcher{eq("__name__", "up"), eq("job", "redis"), eq("instance", "cache:6379"), eq("env", "prod")}, 1},
		{"scrape_duration_seconds", []*labels.Matcher{eq("__name__", "scrape_duration_seconds"), eq("job", "redis")}, 0.0015},
		{"scrape_samples_scraped", []*labels.Matcher{eq("__name__", "scrape_samples_scraped"), eq("job", "redis")}, 3},
		{"scrape_series_added", []*labels.Matcher{eq("__name__", "scrape_series_added"), eq("job", "redis")}, 3},
	}
	for _, c := range checks {
		ts, v, ok := lastSample(t, e, c.sel...)
		if !ok || v != c.want || ts != t0.UnixMilli() {
			t.Errorf("%s: sample (%d, %v, found %v), want (%d, %v)", c.name, ts, v, ok, t0.UnixMilli(), c.want)
		}
	}
	if _, _, ok := lastSample(t, e, eq("__name__", "redis_up"), eq("target", "cache")); ok {
		t.Error("a probe series carries the target label")
	}

	// The next probe lacks redis_db_keys: it ends with a staleness marker.
	t1 := t0.Add(15 * time.Second)
	e.WriteProbe(t.Context(), "cache", id, t1, time.Millisecond, []*dto.MetricFamily{gaugeFamily("redis_up", 0)})
	if ts, v, _ := lastSample(t, e, eq("__name__", "redis_db_keys")); !value.IsStaleNaN(v) || ts != t1.UnixMilli() {
		t.Errorf("redis_db_keys after it disappeared = %v at %d, want a staleness marker at %d", v, ts, t1.UnixMilli())
	}
	if _, v, _ := lastSample(t, e, eq("__name__", "redis_up"), eq("job", "redis")); v != 0 {
		t.Errorf("redis_up = %v, want 0", v)
	}

	// A new identity (instance set on reload) ends the old series.
	t2 := t1.Add(15 * time.Second)
	id2 := map[string]string{"job": "redis", "instance": "primary"}
	e.WriteProbe(t.Context(), "cache", id2, t2, time.Millisecond, []*dto.MetricFamily{gaugeFamily("redis_up", 1)})
	if _, v, _ := lastSample(t, e, eq("__name__", "redis_up"), eq("instance", "cache:6379")); !value.IsStaleNaN(v) {
		t.Errorf("redis_up of the old identity = %v, want a staleness marker", v)
	}
	if _, v, _ := lastSample(t, e, eq("__name__", "redis_up"), eq("instance", "primary")); v != 1 {
		t.Errorf("redis_up of the new identity = %v, want 1", v)
	}

	// A removed target's series and report series all end.
	e.ForgetTarget("cache")
	for _, name := range append([]string{"redis_up"}, reportNames...) {
		if _, v, _ := lastSample(t, e, eq("__name__", name), eq("instance", "primary")); !value.IsStaleNaN(v) {
			t.Errorf("%s after the target was removed = %v, want a staleness marker", name, v)
		}
	}
}
