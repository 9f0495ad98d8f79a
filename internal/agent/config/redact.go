package config

import "strings"

// Redacted replaces secrets wherever the agent shows a configuration value.
const Redacted = "<secret>"

// RedactURL hides the password of a URL's userinfo (mongodb://u:p@h →
// mongodb://u:<secret>@h). It works on strings url.Parse rejects, since those
// are the ones that end up in error messages; it errs towards hiding too much.
func RedactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return s
	}
	return s[:i+3] + user + ":" + Redacted + rest[at:]
}

// Secrets lists the secret strings in a target's configuration — passwords,
// URI passwords and authorization headers — so that anything the agent
// shows (errors, logs, the status page) can be scrubbed of them even when a
// prober echoes one.
func (t Target) Secrets() []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 { // scrubbing "a" would mangle every message
			out = append(out, s)
		}
	}
	addAll := func(ss []string) {
		for _, s := range ss {
			add(s)
		}
	}
	if t.MongoDB != nil {
		add(urlPassword(t.MongoDB.URI))
		addAll(uriSecrets(t.MongoDB.URI))
	}
	if t.Redis != nil {
		add(t.Redis.Password)
		add(urlPassword(t.Redis.Address))
		addAll(uriSecrets(t.Redis.Address))
	}
	if t.HTTP != nil {
		add(urlPassword(t.HTTP.URL))
		addAll(uriSecrets(t.HTTP.URL))
		add(t.HTTP.BearerToken)
		if t.HTTP.BasicAuth != nil {
			add(t.HTTP.BasicAuth.Password)
		}
		add(urlPassword(t.HTTP.ProxyURL))
		for k, v := range t.HTTP.Headers {
			if !HarmlessHeader(k) {
				add(v)
				if _, cred, ok := strings.Cut(v, " "); ok {
					add(cred)
				}
			}
		}
	}
	return out
}

func urlPassword(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return ""
	}
	rest := s[i+3:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pass, _ := strings.Cut(rest[:at], ":")
	return pass
}

// Scrub replaces every secret in s, and the password of any URL in it.
func Scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return redactURLsIn(s)
}

// redactURLsIn redacts the userinfo password of every URL-looking word in s.
func redactURLsIn(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '"' || r == '\'' || r == '\n' })
	for _, f := range fields {
		if r := RedactURL(f); r != f {
			s = strings.ReplaceAll(s, f, r)
		}
	}
	return s
}

// Redacted is a deep enough copy of c with every secret replaced, for
// showing the configuration in force (/api/v1/status/config).
func (c *Config) Redacted() *Config {
	out := *c
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return Redacted
	}
	out.Targets = make([]Target, len(c.Targets))
	for i, t := range c.Targets {
		t.Instance = Scrub(t.Instance, t.Secrets()) // a hand-set instance may quote the URL
		if t.MongoDB != nil {
			m := *t.MongoDB
			m.URI = RedactURI(m.URI)
			t.MongoDB = &m
		}
		if t.Redis != nil {
			r := *t.Redis
			r.Password = hide(r.Password)
			r.Address = RedactURI(r.Address)
			t.Redis = &r
		}
		if t.HTTP != nil {
			h := *t.HTTP
			h.URL = RedactURI(h.URL)
			// Only an allow-list of harmless headers shows its value; a
			// request body may carry credentials (a login form) and is hidden.
			if h.Headers != nil {
				h.Headers = make(map[string]string, len(t.HTTP.Headers))
				for k, v := range t.HTTP.Headers {
					if HarmlessHeader(k) {
						h.Headers[k] = v
					} else {
						h.Headers[k] = hide(v)
					}
				}
			}
			h.Body = hide(h.Body)
			h.BearerToken = hide(h.BearerToken)
			if h.BasicAuth != nil {
				b := *h.BasicAuth
				b.Password = hide(b.Password)
				h.BasicAuth = &b
			}
			h.ProxyURL = RedactURI(h.ProxyURL)
			t.HTTP = &h
		}
		out.Targets[i] = t
	}
	out.ScrapeConfigs = make([]ScrapeConfig, len(c.ScrapeConfigs))
	for i, s := range c.ScrapeConfigs {
		out.ScrapeConfigs[i] = redactedScrape(s)
	}
	out.Alerting.Alertmanagers = make([]AlertmanagerConfig, len(c.Alerting.Alertmanagers))
	for i, am := range c.Alerting.Alertmanagers {
		am.Password = hide(am.Password)
		am.URL = RedactURI(am.URL)
		out.Alerting.Alertmanagers[i] = am
	}
	out.RemoteWrite = redactedRemoteWrite(c.RemoteWrite)
	return &out
}
