package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultJobs are the job names the upstream mixins and dashboards select
// on for the exporter each kind replaces: redis-mixin (job="redis"), the
// mongodb-mixin, node-mixin (job="node") and the blackbox-exporter mixin.
var DefaultJobs = map[Kind]string{
	KindRedis:   "redis",
	KindMongoDB: "mongodb",
	KindHost:    "node",
	KindHTTP:    "blackbox",
	KindTCP:     "blackbox",
	KindDNS:     "blackbox",
	KindICMP:    "blackbox",
}

// Default ports added to an instance written without one, as the drivers do.
const (
	defaultRedisPort   = "6379"
	defaultMongoDBPort = "27017"
)

// hostname is the host kind's default instance: node_exporter's
// node_uname_info nodename, which the node-mixin's instance variable lists.
var hostname = os.Hostname

// DefaultInstance is the instance a target's series carry when the target
// sets none: the monitored endpoint without credentials, as blackbox's and
// redis_exporter's multi-target relabelling sets it (the URL or host:port
// that is probed, secret query options redacted), or the node name for the
// host. It is "" when the
// endpoint cannot be read (validation reports why).
func DefaultInstance(t Target) string {
	switch {
	case t.Kind == KindRedis && t.Redis != nil:
		return redisInstance(t.Redis.Address)
	case t.Kind == KindMongoDB && t.MongoDB != nil:
		uri := t.MongoDB.URI
		if uri == "" && t.MongoDB.URIFile != "" {
			b, err := os.ReadFile(t.MongoDB.URIFile)
			if err != nil {
				return ""
			}
			uri = strings.TrimSpace(string(b))
		}
		return mongoInstance(uri)
	case t.Kind == KindHTTP && t.HTTP != nil:
		u, err := url.Parse(t.HTTP.URL)
		if err != nil {
			return ""
		}
		u.User = nil
		// A label is shown everywhere: secret query options (tokens) go.
		return RedactURI(u.String())
	case t.Kind == KindTCP && t.TCP != nil:
		return t.TCP.Address
	case t.Kind == KindDNS && t.DNS != nil:
		return t.DNS.Server // as written: blackbox's target parameter
	case t.Kind == KindICMP && t.ICMP != nil:
		return t.ICMP.Host
	case t.Kind == KindHost:
		name, err := hostname()
		if err != nil {
			return "localhost"
		}
		return name
	}
	return ""
}

func redisInstance(addr string) string {
	if !strings.Contains(addr, "://") {
		return addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return ""
	}
	if u.Scheme == "unix" {
		return "unix://" + u.Path
	}
	return withPort(u.Host, defaultRedisPort)
}

// mongoInstance is the first host of the seed list: a replica set's
// members each have their own exporter upstream, and the first seed is the
// one the URI names first.
func mongoInstance(uri string) string {
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	srv := false
	if !ok {
		if rest, ok = strings.CutPrefix(uri, "mongodb+srv://"); !ok {
			return ""
		}
		srv = true
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	first, _, _ := strings.Cut(rest, ",")
	if first == "" {
		return ""
	}
	if srv { // the SRV record name carries no port
		return first
	}
	return withPort(first, defaultMongoDBPort)
}

func withPort(host, port string) string {
	if host == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// applyIdentity fills each target's job and instance.
func (c *Config) applyIdentity() {
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Job == "" {
			t.Job = c.Global.Jobs[t.Kind]
		}
		if t.Job == "" {
			t.Job = DefaultJobs[t.Kind]
		}
		if t.Instance == "" {
			t.Instance = DefaultInstance(*t)
		}
	}
}

// reservedLabel reports label names a target may not set: its identity
// and Prometheus's internal ones.
func reservedLabel(name string) bool {
	return name == "job" || name == "instance" || strings.HasPrefix(name, "__")
}

// labelValue checks a job, instance or extra label value.
func (v *validator) labelValue(path, field, val string) {
	switch {
	case val == "":
		v.at(path, "empty %s", field)
	case !utf8.ValidString(val):
		v.at(path, "%s %s is not valid UTF-8", field, quote(val))
	case strings.IndexFunc(val, unicode.IsControl) >= 0:
		v.at(path, "%s %s contains a control character", field, quote(val))
	}
}

// identity checks the targets' job, instance and labels, and that no two
// targets share a job and instance: their series would be one.
func (v *validator) identity(c *Config) {
	for _, k := range sortedKeys(kindKeys(c.Global.Jobs)) {
		p := joinPath("global.jobs", k)
		if !knownKind(Kind(k)) {
			v.at(p, "unknown kind %s (one of %s)", quote(k), kindList())
			continue
		}
		v.labelValue(p, "job", c.Global.Jobs[Kind(k)])
	}
	seen := map[[2]string]int{}
	for i := range c.Targets {
		t := &c.Targets[i]
		p := fmt.Sprintf("targets[%d]", i)
		if !knownKind(t.Kind) {
			continue // the kind is reported already
		}
		v.labelValue(p+".job", "job", t.Job)
		if t.Instance == "" {
			if _, set := v.lines[p+".instance"]; !set {
				v.at(p, "no instance can be derived from the %s target's address: set instance", t.Kind)
				continue
			}
		}
		v.labelValue(p+".instance", "instance", t.Instance)
		for _, name := range sortedKeys(t.Labels) {
			lp := joinPath(p+".labels", name)
			switch {
			case reservedLabel(name):
				v.at(lp, "label %s is reserved (job and instance have their own fields)", quote(name))
			case !labelNameRE.MatchString(name):
				v.at(lp, "invalid label name %s", quote(name))
			default:
				v.labelValue(lp, "label value", t.Labels[name])
			}
		}
		if t.Job == "" || t.Instance == "" {
			continue
		}
		key := [2]string{t.Job, t.Instance}
		if prev, dup := seen[key]; dup {
			v.at(p+".instance", "target %s has the same job %s and instance %s as target %s (targets[%d]): set instance or job on one of them",
				quote(t.Name), quote(t.Job), quote(t.Instance), quote(c.Targets[prev].Name), prev)
			continue
		}
		seen[key] = i
	}
}

func kindKeys(m map[Kind]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

func knownKind(k Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// IdentityLabels are the labels every series of the target carries: its
// extra labels, job and instance.
func (t Target) IdentityLabels() map[string]string {
	out := make(map[string]string, len(t.Labels)+2)
	for k, v := range t.Labels {
		out[k] = v
	}
	out["job"] = t.Job
	out["instance"] = t.Instance
	return out
}
