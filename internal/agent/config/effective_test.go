package config

import (
	"strings"
	"testing"
)

// TestEffectiveYAMLShowsDefaults: where an empty field means a default the
// probers apply, /api/v1/status/config shows it; the output still loads.
func TestEffectiveYAMLShowsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`
targets:
- {name: box, kind: host}
- {name: box2, kind: host, instance: vm2, host: {fs_types_exclude: '^tmpfs$'}}
- {name: web, kind: http, http: {url: "http://h/"}}
- {name: web2, kind: http, http: {url: "http://h/2", valid_status_codes: [204]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.EffectiveYAML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"mount_points_exclude: " + DefaultMountPointsExclude,
		"fs_types_exclude: " + DefaultFSTypesExclude,
		"fs_types_exclude: ^tmpfs$",
		"valid_status_codes: [] # default: any 2xx (200-299)",
		"- 204",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("effective config lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "null") {
		t.Errorf("effective config shows null:\n%s", s)
	}
	if strings.Count(s, "default: any 2xx") != 1 {
		t.Errorf("the 2xx default is shown %d times, want once (web2 sets its codes):\n%s", strings.Count(s, "default: any 2xx"), s)
	}
	if _, err := Parse(out); err != nil {
		t.Errorf("the effective config does not load: %v\n%s", err, s)
	}
}
