package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRemoteWriteParsesPrometheusFormat(t *testing.T) {
	dir := t.TempDir()
	yml := `
remote_write:
- url: https://mimir.example/api/v1/push
  name: mimir
  remote_timeout: 10s
  headers: {X-Scope-OrgID: team-a}
  basic_auth: {username: u, password_file: pw}
  tls_config: {ca_file: ca.pem}
  queue_config: {max_shards: 4, batch_send_deadline: 1s, retry_on_http_429: true}
  write_relabel_configs:
  - source_labels: [__name__]
    regex: go_.*
    action: drop
- url: http://vm:8428/api/v1/write
`
	cfg, err := parse([]byte(yml), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RemoteWrite) != 2 {
		t.Fatalf("got %d remote_write entries, want 2", len(cfg.RemoteWrite))
	}
	rw := cfg.RemoteWrite[0]
	if got := time.Duration(rw.RemoteTimeout); got != 10*time.Second {
		t.Errorf("remote_timeout = %s, want 10s", got)
	}
	q := rw.QueueConfig
	if q.MaxShards != 4 || q.MinShards != 1 || q.Capacity != 10000 || !q.RetryOnRateLimit || time.Duration(q.BatchSendDeadline) != time.Second {
		t.Errorf("queue_config = %+v: want max_shards 4 and upstream's defaults for the rest", q)
	}
	if got, want := rw.HTTPClientConfig.BasicAuth.PasswordFile, filepath.Join(dir, "pw"); got != want {
		t.Errorf("password_file = %s, want %s (relative to the config)", got, want)
	}
	if got, want := rw.HTTPClientConfig.TLSConfig.CAFile, filepath.Join(dir, "ca.pem"); got != want {
		t.Errorf("ca_file = %s, want %s", got, want)
	}
	if len(rw.WriteRelabelConfigs) != 1 || rw.WriteRelabelConfigs[0].Action != "drop" {
		t.Errorf("write_relabel_configs = %+v", rw.WriteRelabelConfigs)
	}
	if d := cfg.RemoteWrite[1]; time.Duration(d.RemoteTimeout) != 30*time.Second || d.QueueConfig.MaxShards != 50 {
		t.Errorf("second entry: remote_timeout %s, max_shards %d: want upstream's defaults 30s, 50", d.RemoteTimeout, d.QueueConfig.MaxShards)
	}
}

func TestRemoteWriteErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"missing url", "remote_write:\n- name: a\n  remote_timeout: 5s\n", "remote_write[0].url (line 2): url for remote_write is empty"},
		{"unknown field", "remote_write:\n- url: http://a/\n  queue_config:\n    max_shard: 3\n", "remote_write[0].queue_config.max_shard (line 4): field max_shard not found in type config.QueueConfig"},
		{"bad duration", "remote_write:\n- url: http://a/\n  remote_timeout: soon\n", `remote_write[0].remote_timeout (line 3): not a valid duration string: "soon"`},
		{"bad queue", "remote_write:\n- url: http://a/\n  queue_config: {min_shards: 5, max_shards: 2}\n", "remote_write[0].queue_config (line 3): remote write queue min_shards must not be greater than max_shards"},
		{"two auths", "remote_write:\n- url: http://a/\n  basic_auth: {username: u, password: p}\n  authorization: {credentials: c}\n", "remote_write[0] (line 2): at most one of basic_auth, oauth2 & authorization must be configured"},
		{"authorization header", "remote_write:\n- url: http://a/\n  headers: {Authorization: Bearer x}\n", "remote_write[0].headers (line 3): authorization header must be changed"},
		{"duplicate name", "remote_write:\n- {url: http://a/, name: x}\n- {url: http://b/, name: x}\n", `remote_write[1].name (line 3): duplicate remote_write name "x" (also remote_write[0])`},
		{"same entry twice", "remote_write:\n- url: http://a/\n- url: http://a/\n", "remote_write[1] (line 3): same endpoint and settings as remote_write[0]"},
		{"not http", "remote_write:\n- url: ftp://a/\n", `remote_write[0].url (line 2): "ftp://a/": want an http or https URL`},
		{"bad relabel", "remote_write:\n- url: http://a/\n  write_relabel_configs:\n  - {action: replace, regex: '(', target_label: x}\n", "remote_write[0].write_relabel_configs[0].regex (line 4):"},
		{"null entry", "remote_write:\n-\n", "remote_write[0] (line 2): empty remote_write entry"},
		{"not a mapping", "remote_write:\n- http://a/\n", "remote_write[0] (line 2): expected a mapping of remote_write fields"},
		{"credential in the query", "remote_write:\n- url: 'https://a/push?api_key=hunter22'\n", `remote_write[0].url (line 2): "https://a/push?api_key=<secret>": query option "api_key" looks like a credential`},
		{"bad url keeps its password secret", "remote_write:\n- url: 'http://u:hunter22@a/%zz'\n", "remote_write[0].url (line 2): parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse: %v, want config.Errors", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestRemoteWriteSecretsRedacted(t *testing.T) {
	secrets := []string{"urlpass11", "basicpass22", "credtoken33", "oauthsecret44", "headerval55", "endpointparam77"}
	yml := `
remote_write:
- url: https://user:urlpass11@a.example/push?tenant=t1
  basic_auth: {username: u, password: basicpass22}
  headers: {X-Api-Key: headerval55}
- url: https://b.example/push
  authorization: {credentials: credtoken33}
- url: https://c.example/push
  oauth2:
    client_id: id
    client_secret: oauthsecret44
    token_url: https://auth.example/token
    endpoint_params: {audience: endpointparam77}
`
	cfg, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.EffectiveYAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(out), s) {
			t.Errorf("effective config shows secret %s:\n%s", s, out)
		}
	}
	for _, want := range []string{"https://user@a.example/push?tenant=t1", "X-Api-Key: <secret>", "credentials: <secret>", "client_secret: <secret>"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("effective config lacks %q:\n%s", want, out)
		}
	}
	// The original is untouched: the engine still needs the secrets.
	if string(cfg.RemoteWrite[0].HTTPClientConfig.BasicAuth.Password) != "basicpass22" || cfg.RemoteWrite[0].Headers["X-Api-Key"] != "headerval55" {
		t.Error("Redacted changed the configuration in force")
	}
	scrubbed := Scrub("sending with "+strings.Join(secrets, " "), cfg.RemoteWriteSecrets())
	for _, s := range secrets {
		if strings.Contains(scrubbed, s) {
			t.Errorf("Scrub with RemoteWriteSecrets left %s: %s", s, scrubbed)
		}
	}
}
