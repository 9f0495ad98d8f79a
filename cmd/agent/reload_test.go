package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReloadRefusesToDropEverything: an emptied or truncated file, or one
// that keeps no target and no Alertmanager, is refused on reload; the
// running configuration keeps probing and the failure shows in
// vigil_config_last_reload_successful. --config.allow-empty accepts it.
func TestReloadRefusesToDropEverything(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(web.Close)
	am := testserver.Alertmanager(t, "route: {receiver: \"null\"}\nreceivers: [{name: \"null\"}]\n")
	good := fmt.Sprintf(`
targets:
  - {name: web, kind: http, interval: 200ms, timeout: 100ms, http: {url: %q}}
alerting:
  alertmanagers: [{url: %q}]
`, web.URL, am.URL)

	for _, tt := range []struct{ name, next, wantErr string }{
		{"empty file", "", "has no configuration in it"},
		{"only comments", "# truncated\n", "has no configuration in it"},
		{"null document", "---\n", "has no configuration in it"},
		{"nothing left", "targets: []\nglobal: {interval: 15s}\n", "no targets and no Alertmanagers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeFile(t, dir, "agent.yml", good)
			base, logs := startAgent(t, "--config.file", cfg)
			writeFile(t, dir, "agent.yml", tt.next)
			code, body := post(t, base+"/-/reload")
			if code != http.StatusInternalServerError || !strings.Contains(body, tt.wantErr) {
				t.Errorf("reload = %d %q, want 500 with %q", code, body, tt.wantErr)
			}
			if names := targetNames(t, base); strings.Join(names, ",") != "web" {
				t.Errorf("targets after the refused reload = %v, want [web]", names)
			}
			if m := fetch(t, base+"/metrics"); !strings.Contains(m, "vigil_config_last_reload_successful 0") {
				t.Error("vigil_config_last_reload_successful is not 0 after a refused reload")
			}
			if tt.wantErr == "no targets and no Alertmanagers" {
				l := logs.String()
				if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "would_drop_targets=[web]") || !strings.Contains(l, "would_drop_alertmanagers=["+am.URL+"]") {
					t.Errorf("no WARN naming what would be dropped:\n%s", l)
				}
			}
		})
	}

	t.Run("allowed by flag", func(t *testing.T) {
		dir := t.TempDir()
		cfg := writeFile(t, dir, "agent.yml", good)
		base, _ := startAgent(t, "--config.file", cfg, "--config.allow-empty")
		writeFile(t, dir, "agent.yml", "")
		if code, body := post(t, base+"/-/reload"); code != http.StatusOK {
			t.Fatalf("reload with --config.allow-empty = %d %q", code, body)
		}
		if names := targetNames(t, base); len(names) != 0 {
			t.Errorf("targets = %v, want none", names)
		}
	})

	t.Run("empty at start and in check-config", func(t *testing.T) {
		empty := writeFile(t, t.TempDir(), "agent.yml", "# nothing\n")
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"--check-config", empty}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "has no configuration in it") {
			t.Errorf("--check-config of an empty file: exit %d, stderr %q", code, &stderr)
		}
		stderr.Reset()
		code := run(t.Context(), []string{"--config.file", empty, "--web.listen-address", "127.0.0.1:0", "--storage.path", filepath.Join(t.TempDir(), "d")}, io.Discard, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), "config.allow-empty") {
			t.Errorf("start with an empty file: exit %d, stderr %q", code, &stderr)
		}
	})
}
