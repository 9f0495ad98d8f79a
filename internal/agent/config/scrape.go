package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	_ "github.com/prometheus/prometheus/discovery/file" // file_sd_configs; static_configs is built in
	"github.com/prometheus/prometheus/discovery/targetgroup"
	yaml2 "go.yaml.in/yaml/v2"
	"gopkg.in/yaml.v3"
)

// ScrapeConfig is one Prometheus scrape_config, parsed, defaulted and
// validated by Prometheus's own config package, so every field works as
// the Prometheus documentation says. Only static_configs and
// file_sd_configs discover targets: the agent links no other discovery.
//
// The upstream type is parsed with yaml.v2, as Prometheus does; the
// agent's loader hands it its YAML subtree and maps upstream's errors back
// to the file's field paths and lines (parseNode).
type ScrapeConfig struct {
	promconfig.ScrapeConfig `yaml:"-"`
}

// DefaultScrapeBodySizeLimit bounds a scrape's uncompressed body when its
// config sets no body_size_limit (Prometheus has no bound): a runaway
// target must not exhaust a sidecar's memory.
const DefaultScrapeBodySizeLimit = 64 << 20

// ScrapeGlobal is the upstream global section a scrape config inherits
// from: the agent's interval and timeout and body size bound, Prometheus's
// defaults otherwise.
func ScrapeGlobal(g Global) promconfig.GlobalConfig {
	pg := promconfig.DefaultGlobalConfig
	pg.ScrapeInterval = g.Interval
	pg.ScrapeTimeout = g.Timeout
	pg.BodySizeLimit = DefaultScrapeBodySizeLimit
	return pg
}

// UnmarshalYAML parses a scrape config the way Prometheus does.
func (s *ScrapeConfig) UnmarshalYAML(n *yaml.Node) error {
	if errs := s.parseNode(n, ""); len(errs) > 0 {
		return errs
	}
	return nil
}

// MarshalYAML renders the config as Prometheus prints it: secrets as
// <secret>, passwords in URLs as xxxxx (Redacted hides the rest).
func (s ScrapeConfig) MarshalYAML() (any, error) {
	c := s.ScrapeConfig
	out, err := yaml2.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encoding scrape config %s: %w", c.JobName, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("encoding scrape config %s: %w", c.JobName, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func redactParams(p url.Values) url.Values {
	out := make(url.Values, len(p))
	for k, vs := range p {
		if secretOption(k) {
			vs = []string{"xxxxx"}
		}
		out[k] = vs
	}
	return out
}

// oldScrapeFields are the keys of the agent's former scrape config format
// (`targets: [URL]`), which Prometheus's has not.
var oldScrapeFields = []string{"targets", "interval", "timeout", "labels"}

var yaml2LineRE = regexp.MustCompile(`^\s*line (\d+): (.*)$`)

// parseNode decodes n (a scrape_configs item) with upstream's parser and
// reports every problem at its field path (under path) and file line.
func (s *ScrapeConfig) parseNode(n *yaml.Node, path string) Errors {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return Errors{{Path: path, Line: n.Line, Msg: "expected a mapping of scrape_config fields, got " + nodeKind(n)}}
	}
	// The former form is told by its keys; the error points at targets
	// when it is there, else at the first former key.
	var oldKey *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if slices.Contains(oldScrapeFields, k.Value) && (oldKey == nil || k.Value == "targets") {
			oldKey = k
		}
	}
	if oldKey != nil {
		return Errors{{Path: joinPath(path, oldKey.Value), Line: oldKey.Line, Msg: oldFormMessage(n)}}
	}
	// Re-encode the subtree in block style and map the encoded lines back
	// to the file's: yaml.v2 numbers lines in what it was given.
	budget := maxScrapeNodes
	c := resolveCopy(n, &budget)
	if budget < 0 {
		return Errors{{Path: path, Line: n.Line, Msg: fmt.Sprintf("more than %d YAML nodes once aliases are expanded", maxScrapeNodes)}}
	}
	text, err := yaml.Marshal(c)
	if err != nil {
		return Errors{{Path: path, Line: n.Line, Msg: cleanYAMLError(err)}}
	}
	var enc yaml.Node
	if err := yaml.Unmarshal(text, &enc); err != nil || len(enc.Content) == 0 {
		return Errors{{Path: path, Line: n.Line, Msg: "cannot re-encode the scrape config"}}
	}
	where := map[int]Problem{} // encoded line -> path and file line
	mapLines(enc.Content[0], c, path, where)

	var sc promconfig.ScrapeConfig
	if err := yaml2.UnmarshalStrict(text, &sc); err != nil {
		var out Errors
		for _, line := range strings.Split(err.Error(), "\n") {
			line = strings.TrimPrefix(strings.TrimPrefix(line, "yaml: "), "unmarshal errors:")
			if strings.TrimSpace(line) == "" {
				continue
			}
			if m := yaml2LineRE.FindStringSubmatch(line); m != nil {
				l, _ := strconv.Atoi(m[1])
				p, ok := where[l]
				if !ok {
					p = Problem{Path: path, Line: n.Line}
				}
				p.Msg = m[2]
				out = append(out, p)
				continue
			}
			msg := strings.TrimSpace(line)
			p := locateValue(c, path, msg)
			p.Msg = msg
			out = append(out, p)
		}
		return out
	}
	s.ScrapeConfig = sc
	return nil
}

var quotedRE = regexp.MustCompile(`"([^"]+)"`)

// locateValue finds the field an upstream error without a line is about:
// the first scalar value under n that the message quotes (a bad duration,
// a URL given as a target), else n itself.
func locateValue(n *yaml.Node, path, msg string) Problem {
	for _, m := range quotedRE.FindAllStringSubmatch(msg, -1) {
		if p, ok := findScalar(n, path, m[1]); ok {
			return p
		}
	}
	return Problem{Path: path, Line: n.Line}
}

func findScalar(n *yaml.Node, path, value string) (Problem, bool) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == value {
			return Problem{Path: path, Line: n.Line}, true
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p, ok := findScalar(n.Content[i+1], joinPath(path, n.Content[i].Value), value); ok {
				return p, true
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if p, ok := findScalar(c, fmt.Sprintf("%s[%d]", path, i), value); ok {
				return p, true
			}
		}
	}
	return Problem{}, false
}

// maxScrapeNodes bounds a scrape config's YAML once its aliases are
// expanded: nested aliases would otherwise grow a small file exponentially.
const maxScrapeNodes = 100_000

// resolveCopy deep-copies n with aliases replaced by what they point to and
// collections in block style, so the copy encodes on its own, one field a
// line. Every node costs one of budget; below zero the copy is cut short.
func resolveCopy(n *yaml.Node, budget *int) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	*budget--
	if *budget < 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	c := *n
	c.Anchor = ""
	if c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode {
		c.Style &^= yaml.FlowStyle
	}
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = resolveCopy(ch, budget)
	}
	return &c
}

// mapLines walks the encoded tree enc beside the original orig (the same
// shape) and records, for each encoded line, the field path and the file
// line of the first node on it.
func mapLines(enc, orig *yaml.Node, path string, where map[int]Problem) {
	for orig.Kind == yaml.AliasNode && orig.Alias != nil {
		orig = orig.Alias
	}
	if _, ok := where[enc.Line]; !ok {
		where[enc.Line] = Problem{Path: path, Line: orig.Line}
	}
	if len(enc.Content) != len(orig.Content) {
		return
	}
	switch enc.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(enc.Content); i += 2 {
			p := joinPath(path, orig.Content[i].Value)
			if _, ok := where[enc.Content[i].Line]; !ok {
				where[enc.Content[i].Line] = Problem{Path: p, Line: orig.Content[i].Line}
			}
			mapLines(enc.Content[i+1], orig.Content[i+1], p, where)
		}
	case yaml.SequenceNode:
		for i := range enc.Content {
			mapLines(enc.Content[i], orig.Content[i], fmt.Sprintf("%s[%d]", path, i), where)
		}
	}
}

// oldFormMessage explains that the former `targets: [URL]` form is gone and
// shows the equivalent Prometheus scrape config, built from what the old
// one said (a bearer token is shown as a placeholder, never its value).
func oldFormMessage(n *yaml.Node) string {
	var old struct {
		JobName     string            `yaml:"job_name"`
		Targets     []string          `yaml:"targets"`
		Interval    string            `yaml:"interval"`
		Timeout     string            `yaml:"timeout"`
		Labels      map[string]string `yaml:"labels"`
		BearerToken string            `yaml:"bearer_token"`
	}
	_ = n.Decode(&old) // best effort: the suggestion shows what could be read
	var b strings.Builder
	b.WriteString("the agent now reads Prometheus's scrape_config format; `targets: [URL]` directly under a scrape config is no longer accepted. The equivalent is:\n")
	for i, s := range migrateScrape(old.JobName, old.Targets, old.Interval, old.Timeout, old.Labels, old.BearerToken != "") {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(s)
	}
	return strings.TrimRight(b.String(), "\n")
}

// migrateScrape renders the scrape configs equivalent to an old-form one:
// one per distinct scheme and path of its URLs (a job_name is unique, so
// the further ones keep the job label through relabelling).
func migrateScrape(job string, urls []string, interval, timeout string, labels map[string]string, bearer bool) []string {
	type group struct {
		scheme, path, user string
		query              url.Values
		hosts              []string
	}
	var groups []*group
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		user := u.User.Username()
		var g *group
		for _, x := range groups {
			if x.scheme == u.Scheme && x.path == path && x.user == user && x.query.Encode() == u.Query().Encode() {
				g = x
			}
		}
		if g == nil {
			g = &group{scheme: u.Scheme, path: path, user: user, query: u.Query()}
			groups = append(groups, g)
		}
		g.hosts = append(g.hosts, u.Host)
	}
	if len(groups) == 0 {
		groups = []*group{{scheme: "http", path: "/metrics", hosts: []string{"host:port"}}}
	}
	var out []string
	for i, g := range groups {
		var b strings.Builder
		name := job
		if i > 0 {
			name = fmt.Sprintf("%s-%d", job, i+1)
		}
		fmt.Fprintf(&b, "  - job_name: %s\n", quoteYAML(name))
		if interval != "" {
			fmt.Fprintf(&b, "    scrape_interval: %s\n", interval)
		}
		if timeout != "" {
			fmt.Fprintf(&b, "    scrape_timeout: %s\n", timeout)
		}
		if g.scheme != "http" {
			fmt.Fprintf(&b, "    scheme: %s\n", g.scheme)
		}
		if g.path != "/metrics" {
			fmt.Fprintf(&b, "    metrics_path: %s\n", g.path)
		}
		if len(g.query) > 0 {
			b.WriteString("    params:\n")
			for _, k := range sortedKeys(g.query) {
				vs := g.query[k]
				if secretOption(k) {
					vs = []string{"<secret>"}
				}
				fmt.Fprintf(&b, "      %s: [", quoteYAML(k))
				for j, v := range vs {
					if j > 0 {
						b.WriteString(", ")
					}
					b.WriteString(quoteYAML(v))
				}
				b.WriteString("]\n")
			}
		}
		switch {
		case g.user != "":
			fmt.Fprintf(&b, "    basic_auth:\n      username: %s\n      password_file: /path/to/password  # or password: <the password>\n", quoteYAML(g.user))
		case bearer:
			b.WriteString("    authorization:\n      credentials_file: /path/to/token  # or credentials: <the token>\n")
		}
		b.WriteString("    static_configs:\n      - targets: [")
		for j, h := range g.hosts {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteYAML(h))
		}
		b.WriteString("]\n")
		if len(labels) > 0 {
			b.WriteString("        labels:\n")
			for _, k := range sortedKeys(labels) {
				fmt.Fprintf(&b, "          %s: %s\n", k, quoteYAML(labels[k]))
			}
		}
		if i > 0 {
			fmt.Fprintf(&b, "    relabel_configs:\n      - target_label: job\n        replacement: %s\n", quoteYAML(job))
		}
		out = append(out, b.String())
	}
	return out
}

func quoteYAML(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSpace(string(out))
}

// StaticScrapeConfig is a scrape config of job scraping the given URLs
// (http or https, one metrics path), as a file would write it with
// static_configs; labels are added to every target. Validate with the
// rest of the configuration (the global interval and timeout apply).
func StaticScrapeConfig(job string, urls []string, labels map[string]string) (ScrapeConfig, error) {
	sc := promconfig.DefaultScrapeConfig
	sc.JobName = job
	tg := &targetgroup.Group{Source: "0"}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return ScrapeConfig{}, fmt.Errorf("scrape URL %q: want an http(s) URL", RedactURI(raw))
		}
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		if len(tg.Targets) > 0 && (u.Scheme != sc.Scheme || path != sc.MetricsPath) {
			return ScrapeConfig{}, errors.New("scrape URLs of one job must share scheme and path")
		}
		sc.Scheme, sc.MetricsPath = u.Scheme, path
		tg.Targets = append(tg.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(u.Host)})
	}
	if len(labels) > 0 {
		tg.Labels = model.LabelSet{}
		for k, v := range labels {
			tg.Labels[model.LabelName(k)] = model.LabelValue(v)
		}
	}
	sc.ServiceDiscoveryConfigs = discovery.Configs{discovery.StaticConfig{tg}}
	return ScrapeConfig{ScrapeConfig: sc}, nil
}

// scrape checks one defaulted scrape config with upstream's
// validation, against the agent's global interval and timeout.
func (v *validator) scrape(p string, s *ScrapeConfig, g Global) {
	if err := s.Validate(ScrapeGlobal(g)); err != nil {
		// The path names the scrape config already.
		v.at(p, "%s", jobSuffixRE.ReplaceAllString(err.Error(), ""))
	}
}

var jobSuffixRE = regexp.MustCompile(` for scrape config with job name "[^"]*"`)

// staticTargets counts the targets of a scrape config's static_configs.
func staticTargets(s ScrapeConfig) int {
	n := 0
	for _, c := range s.ServiceDiscoveryConfigs {
		if sc, ok := c.(discovery.StaticConfig); ok {
			for _, tg := range sc {
				n += len(tg.Targets)
			}
		}
	}
	return n
}
