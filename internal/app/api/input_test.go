package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestNamesPasswordsEmails: passwords are counted in characters, names
// refuse control characters, and emails are NFKC-normalised so look-alike
// spellings are one account.
func TestNamesPasswordsEmails(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))
	reg := func(org, name, email, password string) map[string]string {
		return map[string]string{"organization": org, "name": name, "email": email, "password": password}
	}
	cases := []struct {
		name, method, path string
		body               any
		want               int
		field              string
	}{
		{"8 emoji are 8 characters", "POST", "/api/auth/register", reg("O", "N", "emoji@acme.test", "🔑🔑🔑🔑🔑🔑🔑🔑"), 201, ""},
		{"7 characters of 2 bytes are too short", "POST", "/api/auth/register", reg("O", "N", "short@acme.test", "ééééééé"), 400, "password"},
		{"NUL in a name", "POST", "/api/auth/register", reg("O", "N\x00x", "nul@acme.test", "long enough"), 400, "name"},
		{"escape in an organization", "POST", "/api/auth/register", reg("O\x1b[31m", "N", "esc@acme.test", "long enough"), 400, "organization"},
		{"line break in a user name", "POST", "/api/users", map[string]string{"name": "a\nb", "email": "lb@acme.test", "password": "long enough"}, 400, "name"},
		{"control character in a project name", "POST", "/api/projects", map[string]any{"name": "p\u0007"}, 400, "name"},
		{"control character in a task title", "POST", "/api/projects/" + p + "/tasks", map[string]any{"title": "t\u0085x"}, 400, "title"},
		{"NUL in a description", "POST", "/api/projects", map[string]any{"name": "p", "description": "a\x00b"}, 400, "description"},
		{"line breaks in a description are fine", "POST", "/api/projects", map[string]any{"name": "p", "description": "a\nb\tc"}, 201, ""},
		{"fullwidth look-alike of an existing email", "POST", "/api/auth/register", reg("O", "N", "ａｄａ@acme.test", "long enough"), 409, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := ""
			if !strings.HasPrefix(tc.path, "/api/auth/") {
				token = a.token
			}
			r := e.must(tc.want, tc.method, tc.path, token, tc.body)
			if tc.field != "" {
				if fields, _ := r.json(t)["fields"].(map[string]any); fields[tc.field] == nil {
					t.Errorf("fields = %s, want %s named", r.raw, tc.field)
				}
			}
		})
	}
	// The look-alike logs into the same account.
	if _, r := e.login("ＡＤＡ@acme.test", "correct horse"); r.status != http.StatusOK {
		t.Errorf("login with a fullwidth spelling = %d, want 200", r.status)
	}
}
