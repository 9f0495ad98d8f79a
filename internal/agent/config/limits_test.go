package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("targets:\n")
		for i := range n {
			fmt.Fprintf(&b, "- {name: t%d, kind: tcp, instance: i%d, tcp: {address: 'localhost:1'}}\n", i, i)
		}
		return b.String()
	}
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"targets at the limit", many(MaxTargets), ""},
		{"targets over the limit", many(MaxTargets + 1), fmt.Sprintf("targets (line 1): %d targets, more than the limit of %d", MaxTargets+1, MaxTargets)},
		{"body over the limit", "targets:\n- name: w\n  kind: http\n  http:\n    url: http://h/\n    method: POST\n    body: " + strings.Repeat("x", MaxHTTPBodyBytes+1) + "\n",
			fmt.Sprintf("targets[0].http.body (line 7): %d bytes, more than the limit of %d", MaxHTTPBodyBytes+1, MaxHTTPBodyBytes)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}

	t.Run("file over the limit", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "big.yml")
		if err := os.WriteFile(p, []byte("# "+strings.Repeat("x", MaxConfigBytes)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "big.yml") {
			t.Fatalf("Load of a %d-byte file: %v, want ErrTooLarge naming the file", MaxConfigBytes+3, err)
		}
	})
}
