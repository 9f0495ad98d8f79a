package config

import (
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"
)

// NewRegexp compiles s as written. Every regexp in the configuration
// searches, as the exporters it follows do: blackbox_exporter's body regexps
// match anywhere in the body, and node_exporter's exclusions carry their own
// anchors (`^/(dev|proc)($|/)`).
func NewRegexp(s string) (Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return Regexp{}, fmt.Errorf("invalid regexp %q: %w", s, err)
	}
	return Regexp{Regexp: re}, nil
}

// MustNewRegexp is NewRegexp for constants; it panics on a bad expression.
func MustNewRegexp(s string) Regexp {
	re, err := NewRegexp(s)
	if err != nil {
		panic(err)
	}
	return re
}

// UnmarshalYAML compiles the expression so a bad one is reported with its
// field path and line at load time rather than at the first probe.
func (re *Regexp) UnmarshalYAML(value *yaml.Node) error {
	var s string
	if err := value.Decode(&s); err != nil {
		return err
	}
	r, err := NewRegexp(s)
	if err != nil {
		return err
	}
	*re = r
	return nil
}

// MarshalYAML writes the expression as it was written.
func (re Regexp) MarshalYAML() (any, error) {
	if re.Regexp == nil {
		return nil, nil
	}
	return re.String(), nil
}
