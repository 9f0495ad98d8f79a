package dashboards

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The panels are declared as data (spec, row, panel, query) and turned into
// foundation-SDK builders in one place, so every panel gets the same
// conventions: the templated datasource, a unit, a description, thresholds
// taken from package thresholds.

// spec describes one dashboard.
type spec struct {
	uid         string
	title       string
	description string
	// jobs is the regex of the job names the $job variable offers, and its
	// "All" value: the default job names of the series the dashboard shows.
	jobs string
	// series is the metric (or |-separated metrics) the $job and $instance
	// variables read their values from: "up" for what Prometheus scrapes
	// itself; for the agent's targets, their exporter's up-style family,
	// since with honor_labels (the recommended scrape) Prometheus records up
	// for the agent only, not for each of its targets.
	series string
	rows   []row
}

type row struct {
	title  string
	panels []panel
}

type panelKind int

const (
	kindTimeseries panelKind = iota
	kindStat
)

type panel struct {
	kind        panelKind
	title       string
	description string
	unit        string
	w, h        uint32
	queries     []query
	// steps are threshold steps above the green base, in increasing value.
	steps []step
	// below inverts the colouring: the base is red and values at or above
	// the first step are green (free space, days left, up).
	below    bool
	min, max *float64
	// states names the values 0 and 1 of a boolean gauge ("Down", "Up").
	states  *[2]string
	stacked bool
}

type step struct {
	value float64
	color string
}

type query struct {
	expr   string
	legend string
}

func ptr[T any](v T) *T { return &v }

// sel renders a selector with the $job/$instance matchers every panel query
// carries, plus extra matchers such as `status=~"5.."`.
func sel(metric string, extra ...string) string {
	m := append([]string{`job=~"$job"`, `instance=~"$instance"`}, extra...)
	return metric + "{" + strings.Join(m, ", ") + "}"
}

// num formats a threshold constant for PromQL without exponent notation.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

var datasourceRef = common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${datasource}")}

func (p panel) thresholds() cog.Builder[dashboard.ThresholdsConfig] {
	base, over := "green", ""
	if p.below {
		base = "red"
	}
	steps := []dashboard.Threshold{{Value: nil, Color: base}}
	for _, s := range p.steps {
		over = s.color
		if over == "" {
			over = "red"
			if p.below {
				over = "green"
			}
		}
		steps = append(steps, dashboard.Threshold{Value: ptr(s.value), Color: over})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func (p panel) targets() []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(p.queries))
	for i, q := range p.queries {
		b := prometheus.NewDataqueryBuilder().
			Datasource(datasourceRef).
			Expr(q.expr).
			RefId(string(rune('A' + i)))
		if q.legend != "" {
			b = b.LegendFormat(q.legend)
		}
		if p.kind == kindStat {
			b = b.Instant()
		} else {
			b = b.Range()
		}
		out = append(out, b)
	}
	return out
}

var (
	upDown   = &[2]string{"Down", "Up"}
	okFailed = &[2]string{"Failed", "OK"}
)

func stateMappings(states [2]string) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: ptr(states[0]), Color: ptr("red"), Index: ptr[int32](0)},
			"1": {Text: ptr(states[1]), Color: ptr("green"), Index: ptr[int32](1)},
		},
	}}}
}

func (p panel) builder() (cog.Builder[dashboard.Panel], error) {
	if p.title == "" || p.description == "" || p.unit == "" || len(p.queries) == 0 || p.w == 0 || p.h == 0 {
		return nil, fmt.Errorf("panel %q: title, description, unit, size and a query are all required", p.title)
	}
	switch p.kind {
	case kindStat:
		b := stat.NewPanelBuilder().
			Title(p.title).
			Description(p.description).
			Datasource(datasourceRef).
			Unit(p.unit).
			Span(p.w).Height(p.h).
			Thresholds(p.thresholds()).
			ColorMode(common.BigValueColorModeValue).
			GraphMode(common.BigValueGraphModeArea).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
		for _, t := range p.targets() {
			b = b.WithTarget(t)
		}
		if p.min != nil {
			b = b.Min(*p.min)
		}
		if p.max != nil {
			b = b.Max(*p.max)
		}
		if p.states != nil {
			b = b.Mappings(stateMappings(*p.states))
		}
		return b, nil
	default:
		b := timeseries.NewPanelBuilder().
			Title(p.title).
			Description(p.description).
			Datasource(datasourceRef).
			Unit(p.unit).
			Span(p.w).Height(p.h).
			Thresholds(p.thresholds()).
			FillOpacity(10).
			Legend(common.NewVizLegendOptionsBuilder().
				DisplayMode(common.LegendDisplayModeList).
				Placement(common.LegendPlacementBottom).
				ShowLegend(true))
		for _, t := range p.targets() {
			b = b.WithTarget(t)
		}
		if len(p.steps) > 0 {
			b = b.ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
		}
		if p.min != nil {
			b = b.Min(*p.min)
		}
		if p.max != nil {
			b = b.Max(*p.max)
		}
		if p.states != nil {
			b = b.Mappings(stateMappings(*p.states))
		}
		if p.stacked {
			b = b.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
		}
		return b, nil
	}
}
