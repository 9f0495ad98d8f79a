package config

import (
	"os"

	"gopkg.in/yaml.v3"
)

// TargetLines returns the line of each entry of `targets:` in the file at
// path, in order; nil if the file cannot be read or parsed (its problems are
// Load's to report). Errors found after Load, such as a prober the driver
// refuses, use it to point at the target.
func TargetLines(path string) []int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "targets" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		items := root.Content[i+1].Content
		lines := make([]int, len(items))
		for j, n := range items {
			lines[j] = n.Line
		}
		return lines
	}
	return nil
}
