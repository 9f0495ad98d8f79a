package agent

import (
	"strings"
	"testing"
)

// TestWebConfigCopyKeepsRelativePaths: the private copy lives elsewhere, so
// the TLS file paths are made absolute against the user's file's directory,
// as the toolkit would resolve them; the rest is kept as written.
func TestWebConfigCopyKeepsRelativePaths(t *testing.T) {
	in := "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: /abs/server.key\n  client_ca_file: ca.pem\nbasic_auth_users:\n  admin: $2y$10$hash\n"
	out, err := absolutePaths([]byte(in), "/etc/vigil")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cert_file: /etc/vigil/tls/server.crt", "key_file: /abs/server.key", "client_ca_file: /etc/vigil/ca.pem", "admin: $2y$10$hash"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("copy lacks %q:\n%s", want, out)
		}
	}
	same, err := absolutePaths([]byte("basic_auth_users: {a: b}\n"), "/etc/vigil")
	if err != nil || string(same) != "basic_auth_users: {a: b}\n" {
		t.Errorf("a file without TLS paths changed: %q, %v", same, err)
	}
}
