// Package parity compares what Prometheus records from a real exporter with
// what it records from Vigil's agent for the same target: family by family,
// the name, the type, the label names and, for the families whose values do
// not move between two scrapes, every series' labels and value. Its tests
// (parity_test.go, mongodb_test.go, ...) run redis_exporter, node_exporter
// and blackbox_exporter (pinned by tools/exporters) and Percona's
// mongodb_exporter (tools/mongodbexporter) beside the agent against the
// same servers:
//
//	go test ./parity/                             # fails with the list of differences
//	go test ./parity/ -run TestParity -v          # also logs the accepted ones
//	go test ./parity/ -run 'TestParity$' -update  # re-measures testdata/missing_*.txt
//
// What Vigil does differently on purpose is the allow-list in
// parity_test.go; what it lacks yet (issue 10's to-do) are the missing
// lists. Both are checked both ways, so they only shrink.
package parity

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Family is one metric family as Prometheus stores it.
type Family struct {
	Name   string
	Type   string // gauge, counter, histogram, summary, untyped
	Series []Series
}

// Series is one series of a family. A histogram or summary is reduced to
// its observation count: its buckets and quantiles move.
type Series struct {
	Labels map[string]string
	Value  float64
}

// Families are the families of one scrape, by name.
type Families map[string]*Family

// Accept is the Accept header of a scrape: the text format Parse reads.
const Accept = "text/plain;version=0.0.4"

// Parse reads an exposition in the Prometheus text format into the series
// Prometheus would store (a label with an empty value is no label). It
// rejects what Prometheus would reject (a family named twice, a malformed
// line), so an exporter and the agent are held to the same parser.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing the exposition: %w", err)
	}
	out := Families{}
	for name, mf := range mfs {
		f := &Family{Name: name, Type: strings.ToLower(mf.GetType().String())}
		for _, m := range mf.GetMetric() {
			s := Series{Labels: map[string]string{}}
			for _, lp := range m.GetLabel() {
				// Prometheus stores a label with an empty value as no label.
				if lp.GetValue() != "" {
					s.Labels[lp.GetName()] = lp.GetValue()
				}
			}
			s.Value = value(mf.GetType(), m)
			f.Series = append(f.Series, s)
		}
		out[name] = f
	}
	return out, nil
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	case dto.MetricType_SUMMARY:
		return float64(m.GetSummary().GetSampleCount())
	default:
		return m.GetUntyped().GetValue()
	}
}

// Relabel returns the families as Prometheus stores them after adding the
// target's labels (job, instance and the static labels of the scrape
// config). With honorLabels false, an exposed label that a target label
// overrides is kept as exported_<name>, as Prometheus does; with true, the
// exposed label wins.
func (fs Families) Relabel(target map[string]string, honorLabels bool) Families {
	out := Families{}
	for name, f := range fs {
		nf := &Family{Name: f.Name, Type: f.Type}
		for _, s := range f.Series {
			ls := maps.Clone(s.Labels)
			for k, v := range target {
				if old, ok := ls[k]; ok {
					if honorLabels {
						continue
					}
					ls["exported_"+k] = old
				}
				ls[k] = v
			}
			nf.Series = append(nf.Series, Series{Labels: ls, Value: s.Value})
		}
		out[name] = nf
	}
	return out
}

// Select keeps the series whose labels include every pair of match (one
// target's series out of an honor_labels scrape of the agent) and the
// families left with a series.
func (fs Families) Select(match map[string]string) Families {
	out := Families{}
	for name, f := range fs {
		nf := &Family{Name: f.Name, Type: f.Type}
		for _, s := range f.Series {
			ok := true
			for k, v := range match {
				if s.Labels[k] != v {
					ok = false
					break
				}
			}
			if ok {
				nf.Series = append(nf.Series, s)
			}
		}
		if len(nf.Series) > 0 {
			out[name] = nf
		}
	}
	return out
}

// Without drops the families for which drop is true.
func (fs Families) Without(drop func(name string) bool) Families {
	out := Families{}
	for name, f := range fs {
		if !drop(name) {
			out[name] = f
		}
	}
	return out
}

// Names are the family names, sorted.
func (fs Families) Names() []string { return slices.Sorted(maps.Keys(fs)) }

// DiffKind classifies a difference.
type DiffKind string

const (
	MissingInVigil DiffKind = "missing in vigil" // the exporter has the family, Vigil not
	ExtraInVigil   DiffKind = "extra in vigil"   // Vigil has the family, the exporter not
	TypeDiffers    DiffKind = "type"
	LabelsDiffer   DiffKind = "label names"
	ValuesDiffer   DiffKind = "values" // the series (labels and values) of a stable family
)

// Difference is one way in which Vigil's family differs from the exporter's.
type Difference struct {
	Family string
	Kind   DiffKind
	Detail string
}

func (d Difference) String() string {
	if d.Detail == "" {
		return d.Family + ": " + string(d.Kind)
	}
	return d.Family + ": " + string(d.Kind) + ": " + d.Detail
}

// maxSeriesDetail bounds the series a values difference lists.
const maxSeriesDetail = 6

// Compare lists how vigil differs from exporter, family by family, sorted
// by family: presence, type, the union of the series' label names, and, for
// the families stable reports true for, the series themselves (each series'
// labels and value, compared exactly).
func Compare(exporter, vigil Families, stable func(name string) bool) []Difference {
	var diffs []Difference
	names := map[string]bool{}
	for n := range exporter {
		names[n] = true
	}
	for n := range vigil {
		names[n] = true
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		e, v := exporter[name], vigil[name]
		switch {
		case v == nil:
			diffs = append(diffs, Difference{Family: name, Kind: MissingInVigil})
			continue
		case e == nil:
			diffs = append(diffs, Difference{Family: name, Kind: ExtraInVigil})
			continue
		}
		if e.Type != v.Type {
			diffs = append(diffs, Difference{Family: name, Kind: TypeDiffers, Detail: fmt.Sprintf("exporter %s, vigil %s", e.Type, v.Type)})
		}
		el, vl := labelNames(e), labelNames(v)
		if !slices.Equal(el, vl) {
			diffs = append(diffs, Difference{Family: name, Kind: LabelsDiffer, Detail: fmt.Sprintf("exporter %s, vigil %s", fmtNames(el), fmtNames(vl))})
		}
		if stable != nil && stable(name) {
			if d := seriesDiff(e, v); d != "" {
				diffs = append(diffs, Difference{Family: name, Kind: ValuesDiffer, Detail: d})
			}
		}
	}
	return diffs
}

func labelNames(f *Family) []string {
	set := map[string]bool{}
	for _, s := range f.Series {
		for k := range s.Labels {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func fmtNames(names []string) string { return "{" + strings.Join(names, ",") + "}" }

// seriesDiff describes how the series of two families differ, "" if not.
func seriesDiff(e, v *Family) string {
	ev, vv := seriesValues(e), seriesValues(v)
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(ev)) {
		switch x, ok := vv[k]; {
		case !ok:
			lines = append(lines, fmt.Sprintf("%s: exporter %s, vigil none", k, fmtValue(ev[k])))
		case x != ev[k]:
			lines = append(lines, fmt.Sprintf("%s: exporter %s, vigil %s", k, fmtValue(ev[k]), fmtValue(x)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vv)) {
		if _, ok := ev[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s: exporter none, vigil %s", k, fmtValue(vv[k])))
		}
	}
	if len(lines) > maxSeriesDetail {
		lines = append(lines[:maxSeriesDetail], fmt.Sprintf("… and %d more", len(lines)-maxSeriesDetail))
	}
	return strings.Join(lines, "; ")
}

// seriesValues maps each series' label set, written as in PromQL, to its value.
func seriesValues(f *Family) map[string]float64 {
	out := map[string]float64{}
	for _, s := range f.Series {
		out[fmtLabels(s.Labels)] = s.Value
	}
	return out
}

func fmtLabels(ls map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(ls)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(ls[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Allowed is a difference Vigil makes on purpose, with the reason. Family
// is a family name or, ending in *, a prefix (e.g. container_*: a whole
// group Vigil adds).
type Allowed struct {
	Family string
	Kind   DiffKind
	Reason string
}

func (a Allowed) matches(d Difference) bool {
	if a.Kind != d.Kind {
		return false
	}
	if p, ok := strings.CutSuffix(a.Family, "*"); ok {
		return strings.HasPrefix(d.Family, p)
	}
	return a.Family == d.Family
}

// allowedBy returns the index of the first entry of allow matching d, or -1.
func allowedBy(allow []Allowed, d Difference) int {
	return slices.IndexFunc(allow, func(a Allowed) bool { return a.matches(d) })
}

// Check holds the differences against what is accepted: the allow-list
// (deliberate differences) and missing, the families Vigil does not have
// yet (issue 10's to-do). It returns every problem, each a sentence saying
// what to fix: an unaccepted difference, and also an allow-list entry or a
// missing-list name that no longer differs, so both lists only shrink.
func Check(diffs []Difference, allow []Allowed, missing []string) []string {
	var problems []string
	missingSet := map[string]bool{}
	for _, m := range missing {
		missingSet[m] = true
	}
	seen := make([]bool, len(allow))
	seenMissing := map[string]bool{}
	for _, d := range diffs {
		i := allowedBy(allow, d)
		switch {
		case i >= 0:
			seen[i] = true
		case d.Kind == MissingInVigil && missingSet[d.Family]:
			seenMissing[d.Family] = true
		case d.Kind == MissingInVigil:
			problems = append(problems, fmt.Sprintf("%s: the exporter has it and Vigil does not; add it to Vigil or to the missing list", d.Family))
		default:
			problems = append(problems, d.String())
		}
	}
	for i, a := range allow {
		if !seen[i] {
			problems = append(problems, fmt.Sprintf("%s: allow-listed as %q (%s) but it no longer differs so: remove the entry", a.Family, a.Kind, a.Reason))
		}
	}
	for _, m := range missing {
		switch {
		case allowedBy(allow, Difference{Family: m, Kind: MissingInVigil}) >= 0:
			problems = append(problems, fmt.Sprintf("%s: both allow-listed and on the missing list: keep one", m))
		case !seenMissing[m]:
			problems = append(problems, fmt.Sprintf("%s: on the missing list but no longer missing from Vigil (or gone from the exporter): remove it from the list", m))
		}
	}
	return problems
}

// ReadList reads a list of family names, one a line; blank lines and lines
// starting with # are skipped.
func ReadList(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !model.LegacyValidation.IsValidMetricName(line) {
			return nil, fmt.Errorf("line %d: %q is not a metric family name", n, line)
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// Missing are the families of diffs that are missing in Vigil and not
// allow-listed: the content of a missing list measured from a run.
func Missing(diffs []Difference, allow []Allowed) []string {
	var out []string
	for _, d := range diffs {
		if d.Kind == MissingInVigil && allowedBy(allow, d) < 0 {
			out = append(out, d.Family)
		}
	}
	return out
}
