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
	if t.MongoDB != nil {
		add(urlPassword(t.MongoDB.URI))
	}
	if t.Redis != nil {
		add(t.Redis.Password)
		add(urlPassword(t.Redis.Address))
	}
	if t.HTTP != nil {
		add(urlPassword(t.HTTP.URL))
		for k, v := range t.HTTP.Headers {
			switch strings.ToLower(k) {
			case "authorization", "proxy-authorization", "cookie", "x-api-key":
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
