package config

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits a configuration must stay within. A sidecar holds every target's
// prober, probe loop and history in memory: a runaway file (a generator bug,
// a paste gone wrong) must be refused with a clear error, not drive the
// agent out of memory with its web server unresponsive.
const (
	// MaxConfigBytes bounds the configuration file; 5000 targets take
	// about 0.5 MiB.
	MaxConfigBytes = 4 << 20
	// MaxTargets bounds targets (probe loops).
	MaxTargets = 5000
	// MaxScrapeURLs bounds the static targets of all scrape_configs together.
	MaxScrapeURLs = 1000
	// MaxRuleFiles bounds the rule files the rule_files globs match.
	MaxRuleFiles = 1000
	// MaxRuleFileBytes bounds one rule file.
	MaxRuleFileBytes = 8 << 20
	// MaxHTTPBodyBytes bounds an http target's request body.
	MaxHTTPBodyBytes = 64 << 10
)

// ErrTooLarge marks a file over its size limit.
var ErrTooLarge = errors.New("file too large")

// ReadLimited reads a file of at most limit bytes; a larger one is an error
// wrapping ErrTooLarge, found without reading it all.
func ReadLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes (the limit)", ErrTooLarge, limit)
	}
	return data, nil
}

// limits reports the counts over their limits.
func (v *validator) limits(c *Config) {
	if n := len(c.Targets); n > MaxTargets {
		v.at("targets", "%d targets, more than the limit of %d; split them across agents", n, MaxTargets)
	}
	urls := 0
	for _, s := range c.ScrapeConfigs {
		urls += staticTargets(s)
	}
	if urls > MaxScrapeURLs {
		v.at("scrape_configs", "%d static targets, more than the limit of %d", urls, MaxScrapeURLs)
	}
	if n := len(c.RuleFiles); n > MaxRuleFiles {
		v.at("rule_files", "%d patterns, more than the limit of %d", n, MaxRuleFiles)
	}
	for i, t := range c.Targets {
		if t.HTTP != nil && len(t.HTTP.Body) > MaxHTTPBodyBytes {
			v.at(fmt.Sprintf("targets[%d].http.body", i), "%d bytes, more than the limit of %d", len(t.HTTP.Body), MaxHTTPBodyBytes)
		}
	}
}
