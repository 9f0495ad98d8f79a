package config

import "strings"

// harmlessHeaders are the request headers whose values are shown in
// /api/v1/status/config; every other header's value is hidden, since
// services name their tokens freely (X-Auth-Token, Private-Token, ...).
var harmlessHeaders = map[string]bool{
	"accept":           true,
	"accept-encoding":  true,
	"accept-language":  true,
	"cache-control":    true,
	"connection":       true,
	"content-type":     true,
	"host":             true,
	"pragma":           true,
	"user-agent":       true,
	"x-requested-with": true,
}

// HarmlessHeader reports whether a header's value may be shown.
func HarmlessHeader(name string) bool { return harmlessHeaders[strings.ToLower(name)] }

// secretOption reports whether a URI query option carries a secret:
// passwords and tokens by any name, and MongoDB's authMechanismProperties
// (AWS_SESSION_TOKEN:...). It errs towards hiding too much.
func secretOption(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authmechanismproperties", "key", "sig", "auth", "code":
		return true
	}
	for _, s := range []string{"pass", "pwd", "secret", "token", "credential", "signature", "apikey", "api_key", "access_key", "private"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// RedactURI hides a URI's userinfo password and the value of every
// secret-bearing query option (RedactURL plus the query). It works on
// strings url.Parse rejects, such as multi-host mongodb:// URIs.
func RedactURI(s string) string {
	s = RedactURL(s)
	base, query, ok := strings.Cut(s, "?")
	if !ok || !strings.Contains(base, "://") {
		return s
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	parts := strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' })
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, "="); ok && v != "" && secretOption(k) {
			parts[i] = k + "=" + Redacted
		}
	}
	out := base + "?" + strings.Join(parts, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// uriSecrets lists the values of a URI's secret-bearing query options, for
// Scrub.
func uriSecrets(s string) []string {
	_, query, ok := strings.Cut(s, "?")
	if !ok {
		return nil
	}
	query, _, _ = strings.Cut(query, "#")
	var out []string
	for _, p := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
		if k, v, ok := strings.Cut(p, "="); ok && secretOption(k) && len(v) >= 3 {
			out = append(out, v)
			// authMechanismProperties=AWS_SESSION_TOKEN:tok,... : each value too.
			for _, kv := range strings.Split(v, ",") {
				if _, pv, ok := strings.Cut(kv, ":"); ok && len(pv) >= 3 {
					out = append(out, pv)
				}
			}
		}
	}
	return out
}
