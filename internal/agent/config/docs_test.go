package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
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
		if ty.Kind() != reflect.Struct || seen[ty] || ty == reflect.TypeOf(Regexp{}) {
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

// TestDocsExampleIsValid parses the example configuration of docs/agent.md.
func TestDocsExampleIsValid(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/agent.md has no yaml example")
	}
	// The example's secrets are mounted at run time; stand them in.
	dir := t.TempDir()
	for f, content := range map[string]string{"mongodb-uri": "mongodb://u:p@mongo:27017/", "redis-password": "x"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	example := strings.ReplaceAll(string(m[1]), "/run/secrets/", dir+"/")
	cfg, err := Parse([]byte(example))
	if err != nil {
		t.Fatalf("docs/agent.md example: %v", err)
	}
	if len(cfg.Targets) == 0 || len(cfg.ScrapeConfigs) == 0 {
		t.Errorf("example parsed to %+v", cfg)
	}
}
