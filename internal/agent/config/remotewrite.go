package config

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"gopkg.in/yaml.v3"
)

// RemoteWriteConfig is one remote_write endpoint, in Prometheus's own
// format and type, so that a remote_write block copied from a Prometheus
// configuration works unchanged and upstream's defaults and validation
// apply (remote_timeout 30s, queue_config, at most one auth method, ...).
type RemoteWriteConfig = promconfig.RemoteWriteConfig

var remoteWriteType = reflect.TypeOf(RemoteWriteConfig{})

// walkRemoteWrite checks one remote_write entry. Upstream's UnmarshalYAML
// would accept unknown fields silently under yaml.v3 and report a bad
// value without saying where, so the tree is first checked field by field
// (unknown fields and malformed values get their own path and line), then
// decoded by upstream for its defaults and cross-field validation.
func (w *walker) walkRemoteWrite(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		w.reject(n, path, n.Line, "expected a mapping of remote_write fields, got %s", nodeKind(n))
		return
	}
	before := len(w.problems)
	w.walkUpstream(n, remoteWriteType, path)
	if len(w.problems) > before {
		w.bad[path] = true
		*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		return
	}
	var rw RemoteWriteConfig
	err := n.Decode(&rw)
	if err == nil {
		err = rw.Validate(model.UTF8Validation)
	}
	if err != nil {
		field, line := path, n.Line
		if sub := upstreamErrorField(err.Error()); sub != "" {
			field = joinPath(path, sub)
			if l, ok := w.lines[field]; ok {
				line = l
			}
		}
		w.reject(n, field, line, "%s", redactURLsIn(cleanYAMLError(err)))
		w.bad[path] = true
	}
}

// upstreamErrorField maps upstream's validation messages, which name no
// field path, to the field they are about.
func upstreamErrorField(msg string) string {
	switch {
	case strings.Contains(msg, "url for remote_write is empty"):
		return "url"
	case strings.Contains(msg, "remote write queue"):
		return "queue_config"
	case strings.Contains(msg, "header"):
		return "headers"
	case strings.Contains(msg, "relabel"):
		return "write_relabel_configs"
	case strings.Contains(msg, "protobuf_message"):
		return "protobuf_message"
	}
	return ""
}

// walkUpstream checks field names against upstream's types (descending into
// structs even where they have their own UnmarshalYAML) and decodes every
// leaf alone, so a bad value is reported at its own path.
func (w *walker) walkUpstream(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				f, ok = inlineMapElem(t)
			}
			if !ok {
				w.add(p, k.Line, "field %s not found in type %s (known fields: %s)", k.Value, typeName(t), strings.Join(sortedKeys(fields), ", "))
				continue
			}
			w.lines[p] = k.Line
			w.walkUpstream(v, f, p)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = c.Line
			w.walkUpstream(c, t.Elem(), p)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			w.lines[p] = k.Line
			w.walkUpstream(v, t.Elem(), p)
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.add(path, n.Line, "%s", redactURLsIn(cleanYAMLError(err)))
		}
	}
}

// inlineMapElem is the value type of t's inline map field, which takes
// every key its other fields do not (common/config's http_headers).
func inlineMapElem(t reflect.Type) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if _, opts, _ := strings.Cut(f.Tag.Get("yaml"), ","); strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Map {
			return f.Type.Elem(), true
		}
	}
	return nil, false
}

// validateRemoteWrite checks what upstream checks across entries (see
// promconfig.Config.UnmarshalYAML) and what its WriteStorage would refuse
// only when applying: two identical entries.
func (v *validator) validateRemoteWrite(c *Config) {
	names := map[string]int{}
	for i, rw := range c.RemoteWrite {
		p := fmt.Sprintf("remote_write[%d]", i)
		if rw == nil {
			v.at(p, "empty remote_write entry")
			continue
		}
		if rw.Name != "" {
			if prev, dup := names[rw.Name]; dup {
				v.at(p+".name", "duplicate remote_write name %s (also remote_write[%d])", quote(rw.Name), prev)
			}
			names[rw.Name] = i
		}
		if u := rw.URL; u != nil && u.URL != nil {
			if u.Scheme != "http" && u.Scheme != "https" {
				v.at(p+".url", "%s: want an http or https URL", quote(RedactURI(u.String())))
			}
			// Upstream labels its prometheus_remote_storage_* series with
			// the URL, masking only the password: a token in the query
			// would be published by /metrics.
			for k := range u.Query() {
				if secretOption(k) {
					v.at(p+".url", "%s: query option %s looks like a credential, and the URL is a label of the remote-write metrics; use authorization, basic_auth or headers", quote(RedactURI(u.String())), quote(k))
				}
			}
		}
		for j := range i {
			if o := c.RemoteWrite[j]; o != nil && reflect.DeepEqual(o, rw) {
				v.at(p, "same endpoint and settings as remote_write[%d]", j)
			}
		}
	}
}

// resolveRemoteWritePaths makes relative TLS, password and credentials
// files relative to the configuration's directory, as Prometheus does.
func (c *Config) resolveRemoteWritePaths(dir string) {
	for _, rw := range c.RemoteWrite {
		if rw != nil {
			rw.SetDirectory(dir)
		}
	}
}

// redactedRemoteWrite copies the remote_write entries with every secret
// hidden. Upstream's Secret fields already encode as <secret>; what is left
// are plain strings: the URL's userinfo and secret query options, custom
// headers, OAuth2 endpoint parameters, and the proxy URL.
func redactedRemoteWrite(in []*RemoteWriteConfig) []*RemoteWriteConfig {
	if in == nil {
		return nil
	}
	out := make([]*RemoteWriteConfig, len(in))
	for i, rw := range in {
		if rw == nil {
			continue
		}
		c := *rw
		c.URL = redactedURL(rw.URL)
		c.Headers = redactedHeaders(rw.Headers)
		h := &c.HTTPClientConfig
		h.ProxyURL = *redactedURL(&rw.HTTPClientConfig.ProxyURL)
		if o := rw.HTTPClientConfig.OAuth2; o != nil {
			oc := *o
			oc.EndpointParams = redactedHeaders(o.EndpointParams)
			oc.ProxyURL = *redactedURL(&o.ProxyURL)
			h.OAuth2 = &oc
		}
		out[i] = &c
	}
	return out
}

// redactedURL drops the userinfo password (URL.Redacted would show xxxxx)
// and hides secret query options.
func redactedURL(u *commoncfg.URL) *commoncfg.URL {
	if u == nil || u.URL == nil {
		return u
	}
	r := *u.URL
	if r.User != nil {
		r.User = url.User(r.User.Username())
	}
	if r.RawQuery != "" {
		q := r.Query()
		for k, vs := range q {
			if secretOption(k) {
				for i := range vs {
					vs[i] = Redacted
				}
			}
		}
		r.RawQuery = q.Encode()
	}
	return &commoncfg.URL{URL: &r}
}

func redactedHeaders(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if HarmlessHeader(k) || v == "" {
			out[k] = v
		} else {
			out[k] = Redacted
		}
	}
	return out
}

// RemoteWriteSecrets lists the secret strings of the remote_write entries,
// for Scrub: passwords, credentials, tokens and custom header values.
func (c *Config) RemoteWriteSecrets() []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 {
			out = append(out, s)
		}
	}
	for _, rw := range c.RemoteWrite {
		if rw == nil {
			continue
		}
		if rw.URL != nil && rw.URL.URL != nil {
			add(urlPassword(rw.URL.String()))
			for _, s := range uriSecrets(rw.URL.String()) {
				add(s)
			}
		}
		for k, v := range rw.Headers {
			if !HarmlessHeader(k) {
				add(v)
			}
		}
		h := rw.HTTPClientConfig
		if h.BasicAuth != nil {
			add(string(h.BasicAuth.Password))
		}
		if h.Authorization != nil {
			add(string(h.Authorization.Credentials))
		}
		add(string(h.BearerToken))
		if h.OAuth2 != nil {
			add(string(h.OAuth2.ClientSecret))
			for _, v := range h.OAuth2.EndpointParams {
				add(v)
			}
		}
		if s := rw.SigV4Config; s != nil {
			add(string(s.SecretKey))
		}
		if a := rw.AzureADConfig; a != nil && a.OAuth != nil {
			add(string(a.OAuth.ClientSecret))
		}
	}
	return out
}
