package rules

import (
	"fmt"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// MetricNames returns the sorted, distinct metric names a PromQL expression
// selects, so that tests can check them against what the app and the agent
// expose. A selector that matches names by pattern is an error: its names
// cannot be checked.
func MetricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", expr, err)
	}
	var names []string
	var walkErr error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name != model.MetricNameLabel {
					continue
				}
				if m.Type != labels.MatchEqual {
					walkErr = fmt.Errorf("expression %q: selector %s matches metric names by pattern", expr, vs)
					return walkErr
				}
				name = m.Value
			}
		}
		if name == "" {
			walkErr = fmt.Errorf("expression %q: selector %s names no metric", expr, vs)
			return walkErr
		}
		names = append(names, name)
		return nil
	})
	if walkErr != nil {
		return nil, walkErr
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
