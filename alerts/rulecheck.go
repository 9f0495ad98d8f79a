package alerts

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// checkRuleFileContent reports every problem of one rule file, each once,
// as `<id>:<line>: group "g", rule N, "name": problem` (promtool's detail):
// rulefmt stops at the first value that does not decode (a `for: 1x` fails
// the whole file, reported twice and without a line), so each group and rule
// is decoded and validated on its own here, with rulefmt's own validation.
// It returns nil when the YAML itself does not parse; rulefmt's error (with
// its line) is the one to show then.
func checkRuleFileContent(id string, data []byte, p parser.Parser) []error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	var errs []error
	at := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", id, n.Line, fmt.Sprintf(format, args...)))
	}
	if root.Kind != yaml.MappingNode {
		at(root, "want a mapping with a groups list")
		return errs
	}
	var groups *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i]; k.Value {
		case "groups":
			groups = root.Content[i+1]
		default:
			at(k, "unknown field %q", k.Value)
		}
	}
	if groups == nil {
		return errs
	}
	if groups.Kind != yaml.SequenceNode {
		at(groups, "groups: want a list")
		return errs
	}
	seen := map[string]bool{}
	for gi, gn := range groups.Content {
		var g struct {
			Name        string            `yaml:"name"`
			Interval    model.Duration    `yaml:"interval"`
			QueryOffset *model.Duration   `yaml:"query_offset"`
			Limit       int               `yaml:"limit"`
			Rules       []yaml.Node       `yaml:"rules"`
			Labels      map[string]string `yaml:"labels"`
		}
		gname := mappingValue(gn, "name")
		where := fmt.Sprintf("group %q", gname)
		if gname == "" {
			where = fmt.Sprintf("group %d", gi+1)
		}
		for _, k := range unknownKeys(gn, "name", "interval", "query_offset", "limit", "rules", "labels") {
			at(k, "%s: unknown field %q", where, k.Value)
		}
		if err := gn.Decode(&g); err != nil {
			// A bad interval or limit: the rules may still be checked.
			at(gn, "%s: %s", where, cleanDecodeError(err))
			g.Rules = nil
			if rn := mappingNode(gn, "rules"); rn != nil && rn.Kind == yaml.SequenceNode {
				for _, r := range rn.Content {
					g.Rules = append(g.Rules, *r)
				}
			}
		}
		if gname == "" {
			at(gn, "%s: group name must not be empty", where)
		} else if seen[gname] {
			at(gn, "%s: group name repeated in the same file", where)
		}
		seen[gname] = true
		for k, v := range g.Labels {
			if !model.UTF8Validation.IsValidLabelName(k) || k == model.MetricNameLabel {
				at(gn, "%s: invalid label name: %s", where, k)
			}
			if !model.LabelValue(v).IsValid() {
				at(gn, "%s: invalid label value: %s", where, v)
			}
		}
		for ri := range g.Rules {
			rn := &g.Rules[ri]
			name := cmpOr(mappingValue(rn, "alert"), mappingValue(rn, "record"))
			rwhere := fmt.Sprintf("%s, rule %d, %q", where, ri+1, name)
			for _, k := range unknownKeys(rn, "record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations") {
				at(k, "%s: unknown field %q", rwhere, k.Value)
			}
			var r rulefmt.Rule
			if err := rn.Decode(&r); err != nil {
				at(valueNodeOf(rn, err), "%s: %s", rwhere, cleanDecodeError(err))
				continue
			}
			var node rulefmt.RuleNode
			if err := rn.Decode(&node); err != nil {
				at(rn, "%s: %s", rwhere, cleanDecodeError(err))
				continue
			}
			for _, we := range r.Validate(node, model.UTF8Validation, p) {
				line, msg := splitLine(we.Error())
				if line == 0 {
					line = rn.Line
				}
				errs = append(errs, fmt.Errorf("%s:%d: %s: %s", id, line, rwhere, msg))
			}
		}
	}
	return errs
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// mappingNode is the value node of key in a mapping node.
func mappingNode(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func mappingValue(n *yaml.Node, key string) string {
	if v := mappingNode(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func unknownKeys(n *yaml.Node, known ...string) []*yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !slices.Contains(known, n.Content[i].Value) {
			out = append(out, n.Content[i])
		}
	}
	return out
}

var quotedValue = regexp.MustCompile(`"([^"]*)"`)

// valueNodeOf finds the scalar a decode error quotes (`"1x"`), for its line;
// the rule's node when there is none.
func valueNodeOf(rule *yaml.Node, err error) *yaml.Node {
	if rule.Kind != yaml.MappingNode {
		return rule
	}
	for _, m := range quotedValue.FindAllStringSubmatch(err.Error(), -1) {
		for i := 1; i < len(rule.Content); i += 2 {
			if v := rule.Content[i]; v.Kind == yaml.ScalarNode && v.Value == m[1] {
				return v
			}
		}
	}
	return rule
}

// cleanDecodeError drops the yaml package's "yaml: unmarshal errors:" frame.
func cleanDecodeError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	return strings.Join(strings.Fields(s), " ")
}

var linePrefix = regexp.MustCompile(`^(\d+):\d+: (?:\d+:\d+: )?`)

// splitLine takes a rulefmt "line:col: " prefix off a message.
func splitLine(s string) (int, string) {
	m := linePrefix.FindStringSubmatch(s)
	if m == nil {
		return 0, s
	}
	line, _ := strconv.Atoi(m[1])
	return line, s[len(m[0]):]
}
