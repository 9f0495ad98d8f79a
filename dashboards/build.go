package dashboards

//lint:file-ignore SA1019 the v1 dashboard model is what file provisioning, Grafana's import and dashboard-linter read; v2 is Grafana 12's app-platform format.

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Tag is carried by every Vigil dashboard; the dashboards link to each other
// through it.
const Tag = "vigil"

// specs is the set, in the order the index lists it.
func specs() []spec {
	return []spec{
		serviceOverview(),
		mongoDB(),
		redisDashboard(),
		hostDashboard(),
		endpointsDashboard(),
		alertsDashboard(),
	}
}

// All builds every dashboard from its Go source.
func All() ([]dashboard.Dashboard, error) {
	var out []dashboard.Dashboard
	seen := map[string]bool{}
	for _, s := range specs() {
		if seen[s.uid] {
			return nil, fmt.Errorf("dashboard uid %q used twice", s.uid)
		}
		seen[s.uid] = true
		d, err := s.build()
		if err != nil {
			return nil, fmt.Errorf("building dashboard %s: %w", s.uid, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// queryVar is a multi-value variable with "All". allValue is what "All"
// stands for in queries: the variable's own regex (the $job variable's job
// names), or, when empty, Grafana's default, the alternation of the values
// the variable's query found. Never ".+": that would drop the variable's
// restriction and pull every job's series into the panels.
func queryVar(name, label, query, allValue string) *dashboard.QueryVariableBuilder {
	b := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Query(dashboard.StringOrMap{String: ptr(query)}).
		Definition(query).
		Datasource(datasourceRef).
		Multi(true).
		IncludeAll(true).
		Current(dashboard.VariableOption{
			Selected: ptr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
	if allValue != "" {
		b = b.AllValue(allValue)
	}
	return b
}

// variableSelector selects the series the variables read, within jobs.
func (s spec) variableSelector(jobs string) string {
	switch {
	case s.series == "":
		return fmt.Sprintf(`up{job=~"%s"}`, jobs)
	case strings.Contains(s.series, "|"):
		return fmt.Sprintf(`{__name__=~"%s", job=~"%s"}`, s.series, jobs)
	default:
		return fmt.Sprintf(`%s{job=~"%s"}`, s.series, jobs)
	}
}

func (s spec) build() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder(s.title).
		Uid(s.uid).
		Description(s.description).
		Tags([]string{Tag, s.uid[len("vigil-"):]}).
		Readonly().
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("Vigil").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true).
			TargetBlank(false).
			Icon("external link").
			Tooltip("")).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus").
			Current(dashboard.VariableOption{
				Selected: ptr(true),
				Text:     dashboard.StringOrArrayOfString{String: ptr("Prometheus")},
				Value:    dashboard.StringOrArrayOfString{String: ptr("prometheus")},
			})).
		WithVariable(queryVar("job", "Job", fmt.Sprintf(`label_values(%s, job)`, s.variableSelector(s.jobs)), s.jobs)).
		WithVariable(queryVar("instance", "Instance", fmt.Sprintf(`label_values(%s, instance)`, s.variableSelector("$job")), ""))
	for _, r := range s.rows {
		b = b.WithRow(dashboard.NewRowBuilder(r.title))
		for _, p := range r.panels {
			pb, err := p.builder()
			if err != nil {
				return dashboard.Dashboard{}, err
			}
			b = b.WithPanel(pb)
		}
	}
	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, err
	}
	// Stable panel ids in declaration order, so links to a panel
	// (viewPanel=N) survive regeneration.
	var id uint32
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			p.Panel.Id = ptr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	return d, nil
}
