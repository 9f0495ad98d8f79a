package parity

import (
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) Families {
	t.Helper()
	fs, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return fs
}

func TestParse(t *testing.T) {
	fs := mustParse(t, `# TYPE redis_up gauge
redis_up 1
# TYPE redis_commands_total counter
redis_commands_total{cmd="get"} 3
redis_commands_total{cmd="set"} 4
# TYPE lat histogram
lat_bucket{le="1"} 1
lat_bucket{le="+Inf"} 2
lat_sum 3
lat_count 2
untyped_thing 7
`)
	if got, want := fs.Names(), []string{"lat", "redis_commands_total", "redis_up", "untyped_thing"}; !slices.Equal(got, want) {
		t.Fatalf("families %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name, typ string
		series    int
		value     float64 // of the first series
	}{
		{"redis_up", "gauge", 1, 1},
		{"redis_commands_total", "counter", 2, 3},
		{"lat", "histogram", 1, 2}, // the observation count
		{"untyped_thing", "untyped", 1, 7},
	} {
		f := fs[tc.name]
		if f.Type != tc.typ || len(f.Series) != tc.series || f.Series[0].Value != tc.value {
			t.Errorf("%s: type %s, %d series, first value %g; want %s, %d, %g", tc.name, f.Type, len(f.Series), f.Series[0].Value, tc.typ, tc.series, tc.value)
		}
	}
}

func TestParseDropsEmptyLabels(t *testing.T) {
	fs := mustParse(t, `node_filesystem_size_bytes{device="/dev/vda",device_error=""} 1
`)
	if got := fmtLabels(fs["node_filesystem_size_bytes"].Series[0].Labels); got != `{device="/dev/vda"}` {
		t.Errorf("labels %s, want the empty device_error dropped as Prometheus does", got)
	}
}

func TestParseRejectsWhatPrometheusRejects(t *testing.T) {
	for name, text := range map[string]string{
		"family twice":   "# TYPE a gauge\na 1\n# TYPE a gauge\na 2\n",
		"malformed line": "a{b=\"c\" 1\n",
		"bad value":      "a one\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(strings.NewReader(text)); err == nil {
				t.Errorf("accepted %q", text)
			}
		})
	}
}

func TestRelabel(t *testing.T) {
	fs := mustParse(t, "probe_success{instance=\"x\",module=\"m\"} 1\n")
	target := map[string]string{"job": "blackbox", "instance": "http://a/"}
	for _, tc := range []struct {
		honor bool
		want  string
	}{
		{false, `{exported_instance="x",instance="http://a/",job="blackbox",module="m"}`},
		{true, `{instance="x",job="blackbox",module="m"}`},
	} {
		got := fmtLabels(fs.Relabel(target, tc.honor)["probe_success"].Series[0].Labels)
		if got != tc.want {
			t.Errorf("honor_labels %v: %s, want %s", tc.honor, got, tc.want)
		}
	}
	if got := fmtLabels(fs["probe_success"].Series[0].Labels); got != `{instance="x",module="m"}` {
		t.Errorf("Relabel changed its input: %s", got)
	}
}

func TestSelect(t *testing.T) {
	fs := mustParse(t, `redis_up{job="redis",instance="a:1"} 1
redis_up{job="redis",instance="b:1"} 0
vigil_probes_total{target="a"} 4
`)
	got := fs.Select(map[string]string{"job": "redis", "instance": "b:1"})
	if names := got.Names(); !slices.Equal(names, []string{"redis_up"}) {
		t.Fatalf("families %v, want [redis_up]", names)
	}
	if s := got["redis_up"].Series; len(s) != 1 || s[0].Value != 0 {
		t.Fatalf("series %+v, want only b:1's", s)
	}
}

func TestCompare(t *testing.T) {
	stable := func(name string) bool { return name == "redis_up" || name == "node_filesystem_size_bytes" }
	for _, tc := range []struct {
		name            string
		exporter, vigil string
		want            []string
	}{
		{
			name:     "equal",
			exporter: "# TYPE redis_up gauge\nredis_up{instance=\"a\"} 1\n# TYPE redis_uptime_in_seconds gauge\nredis_uptime_in_seconds 5\n",
			vigil:    "# TYPE redis_up gauge\nredis_up{instance=\"a\"} 1\n# TYPE redis_uptime_in_seconds gauge\nredis_uptime_in_seconds 9\n",
		},
		{
			name:     "presence both ways",
			exporter: "a 1\nb 1\n",
			vigil:    "b 1\nc 1\n",
			want:     []string{"a: missing in vigil", "c: extra in vigil"},
		},
		{
			name:     "type",
			exporter: "# TYPE a counter\na 1\n",
			vigil:    "# TYPE a gauge\na 1\n",
			want:     []string{"a: type: exporter counter, vigil gauge"},
		},
		{
			name:     "label names, over all series",
			exporter: "a{x=\"1\"} 1\na{y=\"1\"} 1\n",
			vigil:    "a{x=\"1\",target=\"t\"} 1\n",
			want:     []string{"a: label names: exporter {x,y}, vigil {target,x}"},
		},
		{
			name:     "stable value",
			exporter: "redis_up{instance=\"a\"} 1\n",
			vigil:    "redis_up{instance=\"a\"} 0\n",
			want:     []string{`redis_up: values: {instance="a"}: exporter 1, vigil 0`},
		},
		{
			name:     "stable series set",
			exporter: "node_filesystem_size_bytes{mountpoint=\"/\"} 10\nnode_filesystem_size_bytes{mountpoint=\"/data\"} 20\n",
			vigil:    "node_filesystem_size_bytes{mountpoint=\"/\"} 10\nnode_filesystem_size_bytes{mountpoint=\"/boot\"} 5\n",
			want:     []string{`node_filesystem_size_bytes: values: {mountpoint="/data"}: exporter 20, vigil none; {mountpoint="/boot"}: exporter none, vigil 5`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range Compare(mustParse(t, tc.exporter), mustParse(t, tc.vigil), stable) {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestCompareBoundsSeriesDetail(t *testing.T) {
	var e strings.Builder
	for i := range 10 {
		e.WriteString("a{i=\"" + string(rune('0'+i)) + "\"} 1\n")
	}
	d := Compare(mustParse(t, e.String()), mustParse(t, "a{i=\"x\"} 1\n"), func(string) bool { return true })
	if len(d) != 1 || !strings.HasSuffix(d[0].Detail, "… and 5 more") {
		t.Fatalf("differences %v, want one ending in … and 5 more", d)
	}
}

func TestCheck(t *testing.T) {
	diffs := []Difference{
		{Family: "redis_exporter_build_info", Kind: MissingInVigil},
		{Family: "redis_mem_fragmentation_bytes", Kind: MissingInVigil},
		{Family: "container_memory_rss", Kind: ExtraInVigil},
	}
	allow := []Allowed{
		{Family: "redis_exporter_build_info", Kind: MissingInVigil, Reason: "the exporter's own"},
		{Family: "container_memory_rss", Kind: ExtraInVigil, Reason: "cAdvisor's"},
	}
	for _, tc := range []struct {
		name    string
		diffs   []Difference
		allow   []Allowed
		missing []string
		want    []string // substrings, one per problem, in order
	}{
		{name: "all accepted", diffs: diffs, allow: allow, missing: []string{"redis_mem_fragmentation_bytes"}},
		{
			name: "missing and not listed", diffs: diffs, allow: allow,
			want: []string{"redis_mem_fragmentation_bytes: the exporter has it and Vigil does not"},
		},
		{
			name: "a difference not allowed", diffs: append(slices.Clone(diffs), Difference{Family: "redis_up", Kind: LabelsDiffer, Detail: "exporter {}, vigil {target}"}),
			allow: allow, missing: []string{"redis_mem_fragmentation_bytes"},
			want: []string{"redis_up: label names: exporter {}, vigil {target}"},
		},
		{
			name: "an allow-list entry that now matches", diffs: diffs[:2], allow: allow, missing: []string{"redis_mem_fragmentation_bytes"},
			want: []string{"container_memory_rss: allow-listed as \"extra in vigil\" (cAdvisor's) but it no longer differs"},
		},
		{
			name: "a missing family Vigil now has", diffs: []Difference{diffs[0], diffs[2]}, allow: allow, missing: []string{"redis_mem_fragmentation_bytes"},
			want: []string{"redis_mem_fragmentation_bytes: on the missing list but no longer missing"},
		},
		{
			name: "a prefix entry", diffs: append(slices.Clone(diffs), Difference{Family: "container_memory_cache", Kind: ExtraInVigil}),
			allow:   []Allowed{allow[0], {Family: "container_*", Kind: ExtraInVigil, Reason: "cAdvisor's"}},
			missing: []string{"redis_mem_fragmentation_bytes"},
		},
		{
			name: "a prefix entry matching nothing", diffs: diffs[:2],
			allow:   []Allowed{allow[0], {Family: "container_*", Kind: ExtraInVigil, Reason: "cAdvisor's"}},
			missing: []string{"redis_mem_fragmentation_bytes"},
			want:    []string{"container_*: allow-listed"},
		},
		{
			name: "a prefix entry of another kind", diffs: diffs,
			allow:   []Allowed{allow[0], {Family: "container_*", Kind: MissingInVigil, Reason: "wrong kind"}},
			missing: []string{"redis_mem_fragmentation_bytes"},
			want:    []string{"container_memory_rss: extra in vigil", "container_*: allow-listed"},
		},
		{
			name: "on both lists", diffs: diffs, allow: allow, missing: []string{"redis_mem_fragmentation_bytes", "redis_exporter_build_info"},
			want: []string{"redis_exporter_build_info: both allow-listed and on the missing list"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.diffs, tc.allow, tc.missing)
			if len(got) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(tc.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %q, want it to contain %q", got[i], tc.want[i])
				}
			}
		})
	}
	if got := Missing(diffs, allow); !slices.Equal(got, []string{"redis_mem_fragmentation_bytes"}) {
		t.Errorf("Missing = %v", got)
	}
}

func TestReadList(t *testing.T) {
	got, err := ReadList(strings.NewReader("# issue 10's to-do\n\nredis_a\n  redis_b  \n"))
	if err != nil || !slices.Equal(got, []string{"redis_a", "redis_b"}) {
		t.Fatalf("ReadList = %v, %v", got, err)
	}
	if _, err := ReadList(strings.NewReader("redis_a\nnot a name\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a bad line: err %v, want one naming line 2", err)
	}
}
