package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// validator checks a decoded, defaulted configuration and collects every
// problem rather than stopping at the first.
type validator struct {
	*report
}

var (
	// Target and job names become label values and appear in URLs and logs:
	// keep them short and plain.
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$`)
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	methodRE    = regexp.MustCompile(`^[A-Z]+$`)
)

func (v *validator) validate(c *Config) {
	v.limits(c)
	g := c.Global
	v.positive("global.interval", g.Interval)
	v.positive("global.timeout", g.Timeout)
	v.positive("global.evaluation_interval", g.EvaluationInterval)
	if g.Timeout >= g.Interval && g.Interval > 0 {
		v.at("global.timeout", "%s must be less than interval %s", durationString(g.Timeout), durationString(g.Interval))
	}
	v.externalLabels("global.external_labels", g.ExternalLabels)
	if g.ExternalURL != "" {
		v.httpURL("global.external_url", g.ExternalURL)
	}

	names := map[string]int{}
	for i := range c.Targets {
		v.target(fmt.Sprintf("targets[%d]", i), &c.Targets[i], names, i)
	}

	v.identity(c)

	jobs := map[string]int{}
	for i, s := range c.ScrapeConfigs {
		p := fmt.Sprintf("scrape_configs[%d]", i)
		switch {
		case s.JobName == SelfJobName:
			v.at(p+".job_name", "%s is reserved for the agent's scrape of itself", quote(s.JobName))
		case s.JobName != "":
			if prev, dup := jobs[s.JobName]; dup {
				v.at(p+".job_name", "duplicate job_name %s (also scrape_configs[%d])", quote(s.JobName), prev)
			}
			jobs[s.JobName] = i
		}
		v.scrape(p, &c.ScrapeConfigs[i], c.Global)
	}

	for i, f := range c.RuleFiles {
		p := fmt.Sprintf("rule_files[%d]", i)
		if f == "" {
			v.at(p, "empty path")
		} else if _, err := filepath.Match(f, ""); err != nil {
			v.at(p, "bad glob %s: %v", quote(f), err)
		}
	}

	for i, am := range c.Alerting.Alertmanagers {
		p := fmt.Sprintf("alerting.alertmanagers[%d]", i)
		v.httpURL(p+".url", am.URL)
		v.positive(p+".timeout", am.Timeout)
		if am.Password != "" && am.Username == "" {
			v.at(p+".password", "password set without username")
		}
	}
	v.positive("alerting.resend_delay", c.Alerting.ResendDelay)
	v.alertRelabel(c)
	v.positive("storage.retention", c.Storage.Retention)
	v.validateRemoteWrite(c)
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.at(path, "must be positive, got %s", durationString(d))
	}
}

var kinds = []Kind{KindMongoDB, KindRedis, KindHTTP, KindTCP, KindHost, KindDNS, KindICMP}

func (v *validator) target(p string, t *Target, names map[string]int, i int) {
	switch {
	case t.Name == "":
		v.at(p+".name", "missing name")
	case !nameRE.MatchString(t.Name):
		v.at(p+".name", "%s: must match %s (it becomes the target label)", quote(t.Name), nameRE)
	default:
		if prev, dup := names[t.Name]; dup {
			v.at(p+".name", "duplicate target name %s (also targets[%d])", quote(t.Name), prev)
		}
		names[t.Name] = i
	}
	v.positive(p+".interval", t.Interval)
	v.positive(p+".timeout", t.Timeout)
	if t.Timeout >= t.Interval && t.Interval > 0 {
		_, timeoutSet := v.lines[p+".timeout"]
		_, intervalSet := v.lines[p+".interval"]
		switch {
		case timeoutSet:
			v.at(p+".timeout", "%s must be less than interval %s", durationString(t.Timeout), durationString(t.Interval))
		case intervalSet:
			v.at(p+".interval", "%s must be greater than timeout %s (set %s.timeout)", durationString(t.Interval), durationString(t.Timeout), p)
		} // neither: global.timeout is reported once
	}

	blocks := map[Kind]bool{
		KindMongoDB: t.MongoDB != nil, KindRedis: t.Redis != nil, KindHTTP: t.HTTP != nil,
		KindTCP: t.TCP != nil, KindHost: t.Host != nil,
		KindDNS: t.DNS != nil, KindICMP: t.ICMP != nil,
	}
	known := false
	for _, k := range kinds {
		if k == t.Kind {
			known = true
		}
	}
	switch {
	case t.Kind == "":
		v.at(p+".kind", "missing kind (one of %s)", kindList())
	case !known:
		v.at(p+".kind", "unknown kind %s (one of %s)", quote(string(t.Kind)), kindList())
	case !blocks[t.Kind]:
		v.at(p, "kind is %s but the %s block is missing", t.Kind, t.Kind)
	}
	for _, k := range kinds {
		if blocks[k] && k != t.Kind {
			v.at(p+"."+string(k), "%s block set but kind is %s", k, quote(string(t.Kind)))
		}
	}

	switch {
	case t.MongoDB != nil && t.Kind == KindMongoDB:
		v.mongodb(p+".mongodb", t.MongoDB)
	case t.Redis != nil && t.Kind == KindRedis:
		v.redis(p+".redis", t.Redis)
	case t.HTTP != nil && t.Kind == KindHTTP:
		v.http(p+".http", t.HTTP)
	case t.TCP != nil && t.Kind == KindTCP:
		v.tcp(p+".tcp", t.TCP)
	case t.Host != nil && t.Kind == KindHost:
		v.host(p+".host", t.Host)
	case t.DNS != nil && t.Kind == KindDNS:
		v.dns(p+".dns", t.DNS)
	case t.ICMP != nil && t.Kind == KindICMP:
		v.icmp(p+".icmp", t.ICMP)
	}
}

func kindList() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func (v *validator) mongodb(p string, m *MongoDBTarget) {
	v.mongodbStats(p+".stats", m.Stats)
	switch {
	case m.URI == "" && m.URIFile == "":
		v.at(p, "one of uri or uri_file is required")
	case m.URI != "" && m.URIFile != "":
		v.at(p+".uri_file", "uri and uri_file are mutually exclusive")
	case m.URI != "":
		u, err := parseURL(m.URI)
		if err != nil {
			v.at(p+".uri", "%v", err)
			return
		}
		if u.Scheme != "mongodb" && u.Scheme != "mongodb+srv" {
			v.at(p+".uri", "scheme %s: want mongodb:// or mongodb+srv://", quote(u.Scheme))
		}
		if u.Host == "" {
			v.at(p+".uri", "%s: missing host", RedactURL(m.URI))
		}
	default:
		v.file(p+".uri_file", m.URIFile)
	}
}

func (v *validator) redis(p string, r *RedisTarget) {
	switch {
	case r.Address == "":
		v.at(p+".address", "missing address (host:port or redis:// URL)")
	case strings.Contains(r.Address, "://"):
		u, err := parseURL(r.Address)
		if err != nil {
			v.at(p+".address", "%v", err)
			break
		}
		switch u.Scheme {
		case "redis", "rediss":
			if u.Host == "" {
				v.at(p+".address", "%s: missing host", RedactURL(r.Address))
			}
		case "unix":
		default:
			v.at(p+".address", "scheme %s: want redis://, rediss:// or unix://", quote(u.Scheme))
		}
	default:
		v.hostPort(p+".address", r.Address)
	}
	if r.Password != "" && r.PasswordFile != "" {
		v.at(p+".password_file", "password and password_file are mutually exclusive")
	}
	if r.PasswordFile != "" {
		v.file(p+".password_file", r.PasswordFile)
	}
	if r.DB < 0 {
		v.at(p+".db", "must not be negative, got %d", r.DB)
	}
	if strings.ContainsFunc(r.ConfigCommand, unicode.IsSpace) {
		v.at(p+".config_command", "must be one command name, got %q", r.ConfigCommand)
	}
	v.tls(p+".tls", &r.TLS)
}

func (v *validator) http(p string, h *HTTPTarget) {
	v.httpURL(p+".url", h.URL)
	if !methodRE.MatchString(h.Method) {
		v.at(p+".method", "invalid method %s", quote(h.Method))
	}
	for i, c := range h.ValidStatusCodes {
		if c < 100 || c > 599 {
			v.at(fmt.Sprintf("%s.valid_status_codes[%d]", p, i), "%d is not an HTTP status code", c)
		}
	}
	for k := range h.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			v.at(joinPath(p+".headers", k), "invalid header name %s", quote(k))
		}
	}
	v.ipProtocol(p+".ip_protocol", h.IPProtocol)
	if h.BearerTokenFile != "" {
		v.file(p+".bearer_token_file", h.BearerTokenFile)
	}
	v.tls(p+".tls", &h.TLS)
	v.httpAuth(p, h)
	if h.ProxyURL != "" {
		if u, err := parseURL(h.ProxyURL); err != nil {
			v.at(p+".proxy_url", "%v", err)
		} else if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" || u.Host == "" {
			v.at(p+".proxy_url", "%s: want http://, https:// or socks5:// with a host", RedactURL(h.ProxyURL))
		}
	}
	if h.FailIfSSL && h.FailIfNotSSL {
		v.at(p+".fail_if_not_ssl", "fail_if_ssl and fail_if_not_ssl together fail every probe")
	}
	for name, ms := range map[string][]HeaderMatch{"fail_if_header_matches": h.FailIfHeaderMatches, "fail_if_header_not_matches": h.FailIfHeaderNotMatches} {
		for i, m := range ms {
			mp := fmt.Sprintf("%s.%s[%d]", p, name, i)
			if m.Header == "" || strings.ContainsAny(m.Header, " :\r\n") {
				v.at(mp+".header", "invalid header name %s", quote(m.Header))
			}
			if m.Regexp.Regexp == nil || m.Regexp.String() == "" {
				v.at(mp+".regexp", "missing regexp")
			}
		}
	}
	for i, ver := range h.ValidHTTPVersions {
		if !slices.Contains([]string{"HTTP/1.0", "HTTP/1.1", "HTTP/2.0"}, ver) {
			v.at(fmt.Sprintf("%s.valid_http_versions[%d]", p, i), "%s: want HTTP/1.0, HTTP/1.1 or HTTP/2.0", quote(ver))
		}
	}
	switch strings.ToLower(h.Compression) {
	case "", "identity", "gzip", "deflate", "br":
		for k, val := range h.Headers {
			if strings.EqualFold(k, "Accept-Encoding") && !acceptsEncoding(val, h.Compression) {
				v.at(joinPath(p+".headers", k), "%s does not accept compression %s", quote(val), quote(h.Compression))
			}
		}
	default:
		v.at(p+".compression", "%s: want identity, gzip, deflate or br", quote(h.Compression))
	}
}

// httpAuth allows at most one way to authenticate, as Prometheus's HTTP
// client configuration does.
func (v *validator) httpAuth(p string, h *HTTPTarget) {
	var ways []string
	if h.BasicAuth != nil {
		ways = append(ways, "basic_auth")
	}
	if h.BearerToken != "" {
		ways = append(ways, "bearer_token")
	}
	if h.BearerTokenFile != "" {
		ways = append(ways, "bearer_token_file")
	}
	for k := range h.Headers {
		if strings.EqualFold(k, "Authorization") {
			ways = append(ways, "headers.Authorization")
		}
	}
	if len(ways) > 1 {
		v.at(p, "at most one of basic_auth, bearer_token, bearer_token_file and an Authorization header, got %s", strings.Join(ways, " and "))
	}
	if b := h.BasicAuth; b != nil {
		if b.Username == "" {
			v.at(p+".basic_auth.username", "missing username")
		}
		if b.Password != "" && b.PasswordFile != "" {
			v.at(p+".basic_auth", "password and password_file are mutually exclusive")
		}
		if b.PasswordFile != "" {
			v.file(p+".basic_auth.password_file", b.PasswordFile)
		}
	}
}

// acceptsEncoding is blackbox_exporter's isCompressionAcceptEncodingValid:
// a compression is only checkable if the request's Accept-Encoding lists it
// (or *) with a non-zero quality.
func acceptsEncoding(acceptEncoding, encoding string) bool {
	if encoding == "" || acceptEncoding == "" {
		return true
	}
	for part := range strings.SplitSeq(acceptEncoding, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 32)
			if err != nil {
				f = 0
			}
			q = f
		}
		if q > 0 && (name == "*" || strings.EqualFold(name, encoding)) {
			return true
		}
	}
	return false
}

func (v *validator) tcp(p string, t *TCPTarget) {
	if t.Address == "" {
		v.at(p+".address", "missing address (host:port)")
	} else {
		v.hostPort(p+".address", t.Address)
	}
	v.ipProtocol(p+".ip_protocol", t.IPProtocol)
	v.tls(p+".tls_config", &t.TLSConfig)
	labelled := -1
	for i, qr := range t.QueryResponse {
		qp := fmt.Sprintf("%s.query_response[%d]", p, i)
		if qr.Expect.Regexp == nil && qr.Send == "" && !qr.StartTLS {
			v.at(qp, "empty step: set expect, send or starttls")
		}
		if qr.StartTLS && (t.TLS || t.TLSConfig.Enabled) {
			v.at(qp+".starttls", "the connection is already TLS (tls: true)")
		}
		if len(qr.Labels) == 0 {
			continue
		}
		if qr.Expect.Regexp == nil {
			v.at(qp+".labels", "labels need expect: their values come from the matched line")
		}
		if labelled >= 0 {
			// One probe_expect_info family, one label set, as blackbox.
			v.at(qp+".labels", "labels are already set on query_response[%d]; probe_expect_info has one label set", labelled)
		}
		labelled = i
		seen := map[string]bool{}
		for j, l := range qr.Labels {
			if !labelNameRE.MatchString(l.Name) || strings.HasPrefix(l.Name, "__") || seen[l.Name] || l.Name == "job" || l.Name == "instance" {
				v.at(fmt.Sprintf("%s.labels[%d].name", qp, j), "invalid, reserved or repeated label name %s", quote(l.Name))
			}
			seen[l.Name] = true
		}
	}
}

func (v *validator) host(p string, h *HostTarget) {
	for _, f := range []struct{ name, path string }{
		{"proc_path", h.ProcPath}, {"sys_path", h.SysPath}, {"rootfs_path", h.RootFSPath}, {"cgroup_path", h.CgroupPath},
		{"udev_data_path", h.UdevDataPath},
	} {
		if f.path != "" && !filepath.IsAbs(f.path) {
			v.at(p+"."+f.name, "%s must be an absolute path", quote(f.path))
		}
	}
	v.positive(p+".filesystem_timeout", h.FilesystemTimeout)
	for i, name := range h.DisableCollectors {
		if !slices.Contains(HostCollectors, name) {
			v.at(fmt.Sprintf("%s.disable_collectors[%d]", p, i), "unknown collector %s: want one of %s", quote(name), strings.Join(HostCollectors, ", "))
		}
	}
}

func (v *validator) tls(p string, t *TLSConfig) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.at(p, "cert_file and key_file must be set together")
	}
	for _, f := range []struct{ name, path string }{
		{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile},
	} {
		if f.path != "" {
			v.file(p+"."+f.name, f.path)
		}
	}
}

func (v *validator) ipProtocol(p, s string) {
	switch s {
	case "", "ip4", "ip6":
	default:
		v.at(p, "%s: want ip4 or ip6", quote(s))
	}
}

func (v *validator) hostPort(p, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.at(p, "%v", err)
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		v.at(p, "invalid port %s in %s", quote(port), quote(addr))
	}
	_ = host // empty host means localhost, as net.Dial does
}

func (v *validator) httpURL(p, s string) {
	if s == "" {
		v.at(p, "missing URL")
		return
	}
	u, err := parseURL(s)
	if err != nil {
		v.at(p, "%v", err)
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		v.at(p, "%s: scheme must be http or https", RedactURL(s))
	} else if u.Host == "" {
		v.at(p, "%s: missing host", RedactURL(s))
	}
}

// file reports a file the agent will need to read but cannot.
func (v *validator) file(p, path string) {
	f, err := os.Open(path)
	if err != nil {
		v.at(p, "%v", err)
		return
	}
	f.Close()
}

// parseURL is url.Parse with an error that never echoes the URL's
// credentials: url.Error quotes the whole input.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("parse %s: %w", quote(RedactURL(s)), ue.Err)
		}
		return nil, fmt.Errorf("parse %s: invalid URL", quote(RedactURL(s)))
	}
	return u, nil
}
