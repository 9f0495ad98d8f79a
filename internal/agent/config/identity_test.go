package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdentityDefaults(t *testing.T) {
	node, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	uriFile := filepath.Join(t.TempDir(), "uri")
	if err := os.WriteFile(uriFile, []byte("mongodb://u:s3cr3t@db1.example:27018,db2.example/?replicaSet=rs0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := `
global:
  jobs: {tcp: ports}
targets:
- {name: r1, kind: redis, redis: {address: "cache:6380"}}
- {name: r2, kind: redis, redis: {address: "redis://:pw@cache2/0"}}
- {name: r3, kind: redis, redis: {address: "unix:///run/redis.sock"}}
- {name: m1, kind: mongodb, mongodb: {uri: "mongodb://u:pw@mongo1,mongo2:27019/?replicaSet=rs0"}}
- {name: m2, kind: mongodb, mongodb: {uri: "mongodb+srv://u:pw@cluster0.example.net/"}}
- {name: m3, kind: mongodb, mongodb: {uri_file: "` + uriFile + `"}}
- {name: h, kind: host}
- {name: w, kind: http, http: {url: "https://u:pw@app.example/health?x=1"}}
- {name: p, kind: tcp, tcp: {address: "app.example:443"}}
- {name: custom, kind: redis, job: redis-prod, instance: primary, labels: {env: prod}, redis: {address: "cache:6380"}}
`
	cfg, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"r1":     {"redis", "cache:6380"},
		"r2":     {"redis", "cache2:6379"},
		"r3":     {"redis", "unix:///run/redis.sock"},
		"m1":     {"mongodb", "mongo1:27017"},
		"m2":     {"mongodb", "cluster0.example.net"},
		"m3":     {"mongodb", "db1.example:27018"},
		"h":      {"node", node},
		"w":      {"blackbox", "https://app.example/health?x=1"},
		"p":      {"ports", "app.example:443"},
		"custom": {"redis-prod", "primary"},
	}
	for _, tg := range cfg.Targets {
		if got := [2]string{tg.Job, tg.Instance}; got != want[tg.Name] {
			t.Errorf("target %s: job, instance = %q, want %q", tg.Name, got, want[tg.Name])
		}
	}
	got := cfg.Targets[len(cfg.Targets)-1].IdentityLabels()
	if len(got) != 3 || got["env"] != "prod" || got["job"] != "redis-prod" || got["instance"] != "primary" {
		t.Errorf("IdentityLabels = %v", got)
	}
}

func TestIdentityProblems(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string // each must appear in the error, with its path and line
	}{
		{
			name: "collision names both targets",
			yml: `targets:
- {name: a, kind: redis, redis: {address: "cache:6379"}}
- {name: b, kind: redis, redis: {address: "redis://cache"}}`,
			want: []string{`targets[1].instance (line 3): target "b" has the same job "redis" and instance "cache:6379" as target "a" (targets[0])`},
		},
		{
			name: "reserved and invalid extra labels",
			yml: `targets:
- name: a
  kind: tcp
  tcp: {address: "h:1"}
  labels: {job: x, instance: y, __meta: z, 1bad: v, ok: ""}`,
			want: []string{
				`targets[0].labels.job (line 5): label "job" is reserved`,
				`targets[0].labels.instance (line 5): label "instance" is reserved`,
				`targets[0].labels.__meta (line 5): label "__meta" is reserved`,
				`targets[0].labels.1bad (line 5): invalid label name "1bad"`,
				`targets[0].labels.ok (line 5): empty label value`,
			},
		},
		{
			name: "job and instance values",
			yml:  "targets:\n- {name: a, kind: tcp, job: \"x\\ny\", instance: \"a\\tb\", tcp: {address: \"h:1\"}}",
			want: []string{
				`targets[0].job (line 2): job "x\ny" contains a control character`,
				`targets[0].instance (line 2): instance "a\tb" contains a control character`,
			},
		},
		{
			name: "global jobs of an unknown kind",
			yml:  "global:\n  jobs: {redis: \"\", ftp: x}\ntargets: []",
			want: []string{
				`global.jobs.ftp (line 2): unknown kind "ftp"`,
			},
		},
		{
			name: "no instance from an unreadable endpoint",
			yml:  "targets:\n- {name: m, kind: mongodb, mongodb: {uri: \"mongodb://\"}}",
			want: []string{`targets[0] (line 2): no instance can be derived`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error = %v, want Errors", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"POD_NAME": "app-7f9c", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want, err string
	}{
		{in: "instance: ${POD_NAME}\n", want: "instance: app-7f9c\n"},
		{in: "instance: ${MISSING:local}\n", want: "instance: local\n"},
		{in: "instance: ${EMPTY:x}\n", want: "instance: \n"},
		{in: "password: a$$b ${POD_NAME}$$\n", want: "password: a$b app-7f9c$\n"},
		{in: "plain: $HOME and ${lower_ok:1}\n", want: "plain: $HOME and 1\n"},
		{in: "a: 1\nb: ${NOPE}\nc: ${ALSO_NOPE}\n", err: "line 2: environment variable NOPE is not set and ${NOPE} has no default (write ${NOPE:default})\nline 3: environment variable ALSO_NOPE"},
	}
	for _, tt := range tests {
		got, err := ExpandEnv([]byte(tt.in), lookup)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ExpandEnv(%q) error = %v, want %q", tt.in, err, tt.err)
			}
		case err != nil || string(got) != tt.want:
			t.Errorf("ExpandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
