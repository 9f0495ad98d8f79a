package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestNoAlertmanagerIsVisible: without an Alertmanager the agent warns at
// start and the status page says alerts notify no one; with one it does not.
func TestNoAlertmanagerIsVisible(t *testing.T) {
	for _, tt := range []struct {
		name, cfg string
		want      bool
	}{
		{"none", "targets: [{name: box, kind: host}]\n", true},
		{"one", fmt.Sprintf("targets: [{name: box, kind: host}]\nalerting: {alertmanagers: [{url: %q}]}\n", "http://127.0.0.1:1"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, logs := startAgent(t, "--config.file", writeFile(t, t.TempDir(), "agent.yml", tt.cfg))
			warned := strings.Contains(logs.String(), `level=WARN msg="no Alertmanager configured`)
			banner := strings.Contains(fetch(t, base+"/"), `id="no-alertmanager-banner"`)
			if warned != tt.want || banner != tt.want {
				t.Errorf("WARN logged %v, banner shown %v; want both %v\n%s", warned, banner, tt.want, logs)
			}
		})
	}
}
