package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// EffectiveYAML is the configuration as /api/v1/status/config shows it:
// secrets redacted (Redacted) and, where an empty field means a default the
// probers apply, that default — node_exporter's filesystem exclusions, and
// a comment for the 2xx status codes an empty list accepts — so the page
// answers "what does the agent do" rather than showing null or [].
func (c *Config) EffectiveYAML() ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c.Redacted()); err != nil {
		return nil, fmt.Errorf("encoding the configuration: %w", err)
	}
	targets := mapValue(&doc, "targets")
	if targets != nil && targets.Kind == yaml.SequenceNode {
		for i, tn := range targets.Content {
			if i >= len(c.Targets) {
				break
			}
			t := c.Targets[i]
			if h := t.Host; h != nil && t.Kind == KindHost {
				hn := mapValue(tn, "host")
				if h.MountPointsExclude == nil {
					setScalar(hn, "mount_points_exclude", DefaultMountPointsExclude)
				}
				if h.FSTypesExclude == nil {
					setScalar(hn, "fs_types_exclude", DefaultFSTypesExclude)
				}
			}
			if h := t.HTTP; h != nil && t.Kind == KindHTTP && len(h.ValidStatusCodes) == 0 {
				if v := mapValue(mapValue(tn, "http"), "valid_status_codes"); v != nil {
					v.LineComment = "default: any 2xx (200-299)"
				}
			}
		}
	}
	return yaml.Marshal(&doc)
}

// mapValue is the value node of key in a mapping (or a document holding one).
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// setScalar sets key of a mapping to a string, adding the key if missing.
func setScalar(m *yaml.Node, key, value string) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	if v := mapValue(m, key); v != nil {
		*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}
