package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	commoncfg "github.com/prometheus/common/config"

	"github.com/vigil-sh/vigil/internal/app/health"
)

const docsPath = "../../../docs/agent.md"

// TestDocsCoverEveryField keeps docs/agent.md in step with the types: every
// YAML field must appear in it, in backquotes.
func TestDocsCoverEveryField(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty] || ty == reflect.TypeOf(Regexp{}) || ty == reflect.TypeOf(commoncfg.URL{}) {
			return
		}
		seen[ty] = true
		for name, ft := range yamlFields(ty) {
			if !strings.Contains(string(doc), "`"+name+"`") && !strings.Contains(string(doc), "`alertmanagers[]."+name+"`") &&
				!strings.Contains(string(doc), "`"+name+"`, `") && !strings.Contains(string(doc), ", `"+name+"`") {
				t.Errorf("docs/agent.md does not document %s", joinPath(path, name))
			}
			walk(ft, joinPath(path, name))
		}
	}
	walk(reflect.TypeOf(Config{}), "")
}

// TestDocsExamplesAreValid loads every YAML example of the agent's docs as
// a configuration, and checks that an example's health-body regexp matches
// what the app's /api/health really answers: a copied example must not page
// forever.
func TestDocsExamplesAreValid(t *testing.T) {
	// The examples' secrets are mounted at run time; stand them in.
	dir := t.TempDir()
	for f, content := range map[string]string{"mongodb-uri": "mongodb://u:p@mongo:27017/", "redis-password": "x"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bodies := map[string]string{}
	for _, status := range []string{health.StatusHealthy, health.StatusDegraded, health.StatusUnhealthy} {
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(health.Report{Status: status}); err != nil {
			t.Fatal(err)
		}
		bodies[status] = b.String()
	}
	found := 0
	for _, doc := range []string{docsPath, "../../../docs/alerting.md", "../../../docs/ha.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(text, -1) {
			found++
			example := strings.ReplaceAll(string(m[1]), "/run/secrets/", dir+"/")
			cfg, err := Parse([]byte(example))
			if err != nil {
				t.Errorf("%s, yaml example %d: %v", doc, i+1, err)
				continue
			}
			for _, tg := range cfg.Targets {
				if tg.HTTP == nil || !strings.Contains(tg.HTTP.URL, "/api/health") {
					continue
				}
				for _, re := range tg.HTTP.FailIfBodyNotMatches {
					for status, body := range bodies {
						if got, want := re.MatchString(body), status != health.StatusUnhealthy; got != want {
							t.Errorf("%s, yaml example %d, target %s: fail_if_body_not_matches_regexp %q matches the app's %s body %v, want %v (%s)",
								doc, i+1, tg.Name, re.String(), status, got, want, strings.TrimSpace(body))
						}
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no yaml example found in the docs")
	}
}
