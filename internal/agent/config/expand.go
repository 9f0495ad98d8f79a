package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// envRef is ${NAME} or ${NAME:default}, as Mimir's and Loki's
// -config.expand-env write it; $$ is a literal $.
var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}`)

// ExpandEnv replaces ${NAME} and ${NAME:default} in a configuration file
// with the environment's values, so one file serves every replica of a
// sidecar (instance: ${POD_NAME}). A reference to an unset variable
// without a default is an error naming it and its line. Values are
// inserted as they are: a value with a newline or YAML syntax in it is the
// environment's responsibility.
func ExpandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var problems Errors
	lines := strings.SplitAfter(string(data), "\n")
	for i, line := range lines {
		lines[i] = envRef.ReplaceAllStringFunc(line, func(ref string) string {
			if ref == "$$" {
				return "$"
			}
			m := envRef.FindStringSubmatch(ref)
			if v, ok := lookup(m[1]); ok {
				return v
			}
			if strings.Contains(ref, ":") {
				return m[2]
			}
			problems = append(problems, Problem{Line: i + 1, Msg: fmt.Sprintf("environment variable %s is not set and ${%s} has no default (write ${%s:default})", m[1], m[1], m[1])})
			return ref
		})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return []byte(strings.Join(lines, "")), nil
}

// LoadExpandEnv is Load with ${NAME} references expanded from the process
// environment first (--config.expand-env).
func LoadExpandEnv(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	data, err = ExpandEnv(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg, err := parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}
