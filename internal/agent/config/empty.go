package config

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// ErrEmpty marks a configuration file with no content: empty, only
// comments, `---`, `null` or `{}`. A truncated file reads like that, and
// running it would silently drop every target and Alertmanager.
var ErrEmpty = fmt.Errorf("the file has no configuration in it (empty, only comments, null or {})")

// CheckNotEmpty returns an error wrapping ErrEmpty if the file at path
// parses to nothing. A file that cannot be read or parsed is left to Load.
func CheckNotEmpty(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if IsEmptyDocument(data) {
		return fmt.Errorf("config %s: %w", path, ErrEmpty)
	}
	return nil
}

// IsEmptyDocument reports whether data is YAML with no configuration in it.
func IsEmptyDocument(data []byte) bool {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return false
	}
	if len(doc.Content) == 0 {
		return true
	}
	root := doc.Content[0]
	switch root.Kind {
	case yaml.ScalarNode:
		return root.Tag == "!!null"
	case yaml.MappingNode:
		return len(root.Content) == 0
	}
	return false
}
