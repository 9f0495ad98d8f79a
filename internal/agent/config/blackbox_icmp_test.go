package config

import (
	"strings"
	"testing"
)

func TestICMPTarget(t *testing.T) {
	_, err := Parse([]byte(`targets:
- name: a
  kind: icmp
  icmp:
    host: 'db1:22'
    ip_protocol: ipv4
    source_ip_address: 'lo'
    payload_size: 70000
    ttl: 256
- {name: b, kind: icmp, icmp: {}}
`))
	if err == nil {
		t.Fatal("Parse accepted bad icmp targets")
	}
	for _, want := range []string{
		`targets[0].icmp.host (line 5): "db1:22": want a host name or IP address`,
		`targets[0].icmp.ip_protocol (line 6): "ipv4"`,
		`targets[0].icmp.source_ip_address (line 7): "lo" is not an IP address`,
		`targets[0].icmp.payload_size (line 8): 70000: want 0 to 65507 bytes`,
		`targets[0].icmp.ttl (line 9): 256: want 1 to 255`,
		`targets[1].icmp.host (line 10): missing host`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	cfg, err := Parse([]byte(`global: {jobs: {icmp: ping}}
targets:
- {name: a, kind: icmp, icmp: {host: db1.example}}
- {name: b, kind: icmp, icmp: {host: '2001:db8::1', dont_fragment: true, payload_size: 1472, ttl: 8}}
- {name: c, kind: icmp, job: blackbox, icmp: {host: 192.0.2.9}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][2]string{{"ping", "db1.example"}, {"ping", "2001:db8::1"}, {"blackbox", "192.0.2.9"}} {
		if tg := cfg.Targets[i]; tg.Job != want[0] || tg.Instance != want[1] {
			t.Errorf("target %s: job %q instance %q, want %q", tg.Name, tg.Job, tg.Instance, want)
		}
	}
}
