package config

import (
	"errors"
	"testing"
)

// FuzzParse: any input either parses into a configuration that satisfies
// the invariants the scheduler relies on, or fails with located problems —
// never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("targets:\n- name: a\n  kind: http\n  http: {url: 'http://x'}\n"))
	f.Add([]byte("global: {interval: 10s, timeout: 20s}\n"))
	f.Add([]byte("targets:\n- &a {name: a, kind: host}\n- *a\n"))
	f.Add([]byte("targets:\n- name: r\n  kind: redis\n  redis: {address: 'h:1', db: -1}\n  <<: {interval: 1m}\n"))
	f.Add([]byte("targets:\n- name: h\n  kind: http\n  http: {url: 'http://x', fail_if_body_matches_regexp: ['(']}\n"))
	f.Add([]byte("scrape_configs:\n- &j {job_name: a, static_configs: [{targets: ['h:1'], labels: {x: y}}], relabel_configs: [{target_label: t, replacement: v}]}\n- {<<: *j, job_name: b, scrape_interval: 1s, scrape_timeout: 2s}\n"))
	f.Add([]byte("scrape_configs:\n- job_name: a\n  targets: ['http://u:p@h:1/m?token=x']\n"))
	f.Add([]byte("scrape_configs:\n- job_name: a\n  file_sd_configs: [{files: ['*.json'], refresh_interval: x}]\n  basic_auth: {username: u, password: p}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			var errs Errors
			if errors.As(err, &errs) && len(errs) == 0 {
				t.Fatal("empty Errors returned as an error")
			}
			return
		}
		if cfg.Global.Timeout >= cfg.Global.Interval {
			t.Fatalf("accepted global timeout %v >= interval %v", cfg.Global.Timeout, cfg.Global.Interval)
		}
		seen := map[string]bool{}
		for _, tg := range cfg.Targets {
			if tg.Interval <= 0 || tg.Timeout <= 0 || tg.Timeout >= tg.Interval {
				t.Fatalf("accepted target %q with interval %v timeout %v", tg.Name, tg.Interval, tg.Timeout)
			}
			if seen[tg.Name] || !nameRE.MatchString(tg.Name) {
				t.Fatalf("accepted duplicate or bad name %q", tg.Name)
			}
			seen[tg.Name] = true
		}
		jobs := map[string]bool{}
		for _, sc := range cfg.ScrapeConfigs {
			if sc.JobName == "" || jobs[sc.JobName] || sc.ScrapeInterval <= 0 || sc.ScrapeTimeout <= 0 || sc.ScrapeTimeout > sc.ScrapeInterval {
				t.Fatalf("accepted scrape config %q with interval %v timeout %v", sc.JobName, sc.ScrapeInterval, sc.ScrapeTimeout)
			}
			jobs[sc.JobName] = true
		}
	})
}

// FuzzRedactURL: the password of a URL never survives redaction.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"mongodb://u:p@h/db", "redis://:pw@h:1", "http://h/x", "a://b:c@d@e", "://:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := RedactURL(s)
		if pw := urlPassword(s); pw != "" && urlPassword(r) != Redacted {
			t.Fatalf("RedactURL(%q) = %q keeps the password", s, r)
		}
		if again := RedactURL(r); again != r {
			t.Fatalf("RedactURL not idempotent: %q -> %q -> %q", s, r, again)
		}
	})
}
