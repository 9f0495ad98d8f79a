package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration file, located by the
// field path (targets[2].http.url) and the line it is on.
type Problem struct {
	Path string
	Line int // 0 when unknown
	Msg  string
}

func (p Problem) Error() string {
	switch {
	case p.Path == "" && p.Line == 0:
		return p.Msg
	case p.Path == "":
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	case p.Line == 0:
		return p.Path + ": " + p.Msg
	}
	return fmt.Sprintf("%s (line %d): %s", p.Path, p.Line, p.Msg)
}

// Errors is every problem found in a configuration, in file order.
type Errors []Problem

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, p := range e {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads, defaults and validates the configuration file at path.
// Relative file paths inside it (rule files, password and TLS files) are
// resolved against the file's directory, as Prometheus does. A returned
// error wraps Errors when the file was read but is invalid.
func Load(path string) (*Config, error) {
	data, err := ReadLimited(path, MaxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	cfg, err := parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse defaults and validates a configuration; relative paths are left as
// they are (relative to the working directory).
func Parse(data []byte) (*Config, error) { return parse(data, "") }

func parse(data []byte, dir string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{{Msg: cleanYAMLError(err)}}
	}
	cfg := &Config{}
	rep := &report{lines: map[string]int{}, bad: map[string]bool{}}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		(&walker{rep}).walk(root, reflect.TypeOf(cfg).Elem(), "")
		// The walker removed what it could not accept, so the rest decodes
		// and is validated too: one run reports every problem.
		if err := root.Decode(cfg); err != nil {
			rep.add("", 0, "%s", cleanYAMLError(err))
			return nil, rep.sorted()
		}
		if len(rep.problems) == 0 {
			// The walker has checked every field by name and type; the strict
			// decoder is a second line of defence for what it does not know.
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&Config{}); err != nil && !errors.Is(err, io.EOF) {
				return nil, Errors{{Msg: cleanYAMLError(err)}}
			}
		}
	}
	if dir != "" {
		cfg.resolvePaths(dir)
	}
	cfg.applyDefaults()
	(&validator{rep}).validate(cfg)
	if len(rep.problems) > 0 {
		return nil, rep.sorted()
	}
	return cfg, nil
}

// report collects Problems and sorts them into file order.
type report struct {
	lines    map[string]int  // field path -> line of its key
	bad      map[string]bool // paths the walker rejected: not validated again
	problems Errors
}

func (p *report) add(path string, line int, format string, args ...any) {
	for b := range p.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return
		}
	}
	p.problems = append(p.problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// at reports a problem at a field path, on the line of the nearest
// enclosing field that was written in the file (defaulted fields have none).
func (p *report) at(path string, format string, args ...any) {
	p.add(path, p.lineOf(path), format, args...)
}

func (p *report) lineOf(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (p *report) sorted() Errors {
	sort.SliceStable(p.problems, func(i, j int) bool {
		li, lj := p.problems[i].Line, p.problems[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	return p.problems
}

// walker checks the YAML tree against the Go types before decoding, so that
// every unknown field, bad duration, regexp or type mismatch is reported
// with its path — yaml.v3 stops at the first error a custom unmarshaler
// returns and reports only lines.
type walker struct {
	*report
}

// reject reports a problem with the node at path and nulls it, so the
// rest of the file still decodes.
func (w *walker) reject(n *yaml.Node, path string, line int, format string, args ...any) {
	w.add(path, line, format, args...)
	w.bad[path] = true
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

// nodeParser is a type that parses its YAML subtree itself (an upstream
// type with a parser of its own) and reports problems under path.
type nodeParser interface {
	parseNode(n *yaml.Node, path string) Errors
}

var (
	nodeParserType          = reflect.TypeOf((*nodeParser)(nil)).Elem()
	unmarshalerType         = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	obsoleteUnmarshalerType = reflect.TypeOf((*interface {
		UnmarshalYAML(func(any) error) error
	})(nil)).Elem()
)

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == remoteWriteType {
		w.walkRemoteWrite(n, path)
		return
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(nodeParserType) {
		// The type checks its own subtree and reports each problem at
		// its field path.
		if errs := reflect.New(t).Interface().(nodeParser).parseNode(n, path); len(errs) > 0 {
			w.problems = append(w.problems, errs...)
			w.bad[path] = true
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		return
	}
	if pt.Implements(unmarshalerType) || pt.Implements(obsoleteUnmarshalerType) || isScalar(t) {
		if t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode && w.unknownFields(n, t, path) {
			return // upstream types (relabel.Config) decode leniently from a Node
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.reject(n, path, n.Line, "%s", cleanYAMLError(err))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.reject(n, path, n.Line, "expected a mapping of %s fields, got %s", typeName(t), nodeKind(n))
			return
		}
		fields := yamlFields(t)
		seen := map[string]int{}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // merge key: the merged mapping's fields are ours
				w.walk(v, t, path)
				kept = append(kept, k, v)
				continue
			}
			p := joinPath(path, k.Value)
			if prev, dup := seen[k.Value]; dup {
				w.add(p, k.Line, "field %s already set on line %d", k.Value, prev)
				continue
			}
			seen[k.Value] = k.Line
			f, ok := fields[k.Value]
			if !ok {
				w.add(p, k.Line, "field %s not found in type %s (known fields: %s)", k.Value, typeName(t), strings.Join(sortedKeys(fields), ", "))
				continue
			}
			w.lines[p] = k.Line
			w.walk(v, f, p)
			kept = append(kept, k, v)
		}
		n.Content = kept
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.reject(n, path, n.Line, "expected a list, got %s", nodeKind(n))
			return
		}
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = c.Line
			w.walk(c, t.Elem(), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.reject(n, path, n.Line, "expected a mapping, got %s", nodeKind(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			w.lines[p] = k.Line
			w.walk(k, t.Key(), p)
			w.walk(v, t.Elem(), p)
		}
	default:
		w.reject(n, path, n.Line, "unsupported field type %s", t)
	}
}

// unknownFields reports the keys of mapping n that are not fields of t,
// with their path and line, and nulls n when there are any.
func (w *walker) unknownFields(n *yaml.Node, t reflect.Type, path string) bool {
	fields := yamlFields(t)
	bad := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value != "<<" {
			if _, ok := fields[k.Value]; !ok {
				w.add(joinPath(path, k.Value), k.Line, "field %s not found in type %s (known fields: %s)", k.Value, typeName(t), strings.Join(sortedKeys(fields), ", "))
				bad = true
			}
		}
	}
	if bad {
		w.bad[path] = true
		*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
	}
	return bad
}

func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func typeName(t reflect.Type) string { return t.String() }

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// yamlFields maps the YAML names of t's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			if f.Type.Kind() != reflect.Struct {
				continue // an inline map takes any key (walkUpstream)
			}
			maps := yamlFields(f.Type)
			for k, v := range maps {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var yamlLinePrefix = regexp.MustCompile(`^(yaml: )?(unmarshal errors:\s*)?(line \d+: )?`)

// cleanYAMLError drops yaml.v3's "yaml: unmarshal errors: line N:" prefix
// when the caller reports the line itself.
func cleanYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = yamlLinePrefix.ReplaceAllString(m, "")
		}
		return strings.Join(msgs, "; ")
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "yaml: line ") { // syntax errors: keep the line
		return strings.TrimPrefix(msg, "yaml: ")
	}
	return strings.TrimPrefix(msg, "yaml: ")
}

// resolvePaths makes relative file paths relative to dir, the directory of
// the configuration file.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.RuleFiles {
		abs(&c.RuleFiles[i])
	}
	c.resolveRemoteWritePaths(dir)
	tls := func(t *TLSConfig) {
		abs(&t.CAFile)
		abs(&t.CertFile)
		abs(&t.KeyFile)
	}
	for i := range c.ScrapeConfigs {
		c.ScrapeConfigs[i].SetDirectory(dir) // file_sd files, TLS, password and token files
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.MongoDB != nil {
			abs(&t.MongoDB.URIFile)
		}
		if t.Redis != nil {
			abs(&t.Redis.PasswordFile)
			tls(&t.Redis.TLS)
		}
		if t.HTTP != nil {
			abs(&t.HTTP.BearerTokenFile)
			if t.HTTP.BasicAuth != nil {
				abs(&t.HTTP.BasicAuth.PasswordFile)
			}
			tls(&t.HTTP.TLS)
		}
		if t.TCP != nil {
			tls(&t.TCP.TLSConfig)
		}
	}
}

// quote is strconv.Quote, named for readability in messages.
func quote(s string) string { return strconv.Quote(s) }
