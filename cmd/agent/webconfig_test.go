package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestWebConfigLastGoodKept: --web.config.file is loaded at start and on
// reload; an emptied or broken file neither turns basic auth off at run time
// nor on reload, and a good new one takes effect on reload only.
func TestWebConfigLastGoodKept(t *testing.T) {
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	dir := t.TempDir()
	webCfg := writeFile(t, dir, "web.yml", "basic_auth_users: {admin: "+hash("first-pw")+"}\n")
	cfg := writeFile(t, dir, "agent.yml", "targets: [{name: box, kind: host}]\n")

	client := &http.Client{Timeout: 5 * time.Second}
	do := func(method, url, pw string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if pw != "" {
			req.SetBasicAuth("admin", pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	base, logs := startAgentAuth(t, "first-pw", "--config.file", cfg, "--web.config.file", webCfg)
	expect := func(step string, want map[string]int) {
		t.Helper()
		for pw, code := range want {
			if got := do(http.MethodGet, base+"/metrics", pw); got != code {
				t.Errorf("%s: GET /metrics with password %q = %d, want %d", step, pw, got, code)
			}
		}
	}
	expect("start", map[string]int{"": 401, "first-pw": 200})

	writeFile(t, dir, "web.yml", "")
	expect("file emptied at run time", map[string]int{"": 401, "first-pw": 200})
	if code := do(http.MethodPost, base+"/-/reload", "first-pw"); code != http.StatusInternalServerError {
		t.Errorf("reload with an empty web config = %d, want 500", code)
	}
	expect("after refusing the empty file", map[string]int{"": 401, "first-pw": 200})

	writeFile(t, dir, "web.yml", "basic_auth_users: [broken\n")
	if code := do(http.MethodPost, base+"/-/reload", "first-pw"); code != http.StatusInternalServerError {
		t.Errorf("reload with a broken web config = %d, want 500", code)
	}
	expect("after refusing the broken file", map[string]int{"": 401, "first-pw": 200})
	if !strings.Contains(logs.String(), "reloading the web configuration failed") {
		t.Errorf("refused web config not logged:\n%s", logs)
	}

	writeFile(t, dir, "web.yml", "basic_auth_users: {admin: "+hash("second-pw")+"}\n")
	expect("good file written, not reloaded yet", map[string]int{"first-pw": 200, "second-pw": 401})
	if code := do(http.MethodPost, base+"/-/reload", "first-pw"); code != http.StatusOK {
		t.Errorf("reload with a good web config = %d, want 200", code)
	}
	expect("after the reload", map[string]int{"": 401, "first-pw": 401, "second-pw": 200})
}
