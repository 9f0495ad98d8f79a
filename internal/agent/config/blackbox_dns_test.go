package config

import (
	"strings"
	"testing"
)

// TestDNSTargetErrors checks that each bad dns field is reported with its
// path and line, all at once.
func TestDNSTargetErrors(t *testing.T) {
	yml := `targets:
- name: d
  kind: dns
  dns:
    server: 'ns1:99999'
    query_type: AX
    query_class: INN
    transport_protocol: quic
    valid_rcodes: [NOERROR, NOPE]
    ip_protocol: ip5
    source_ip_address: here
    validate_answer_rrs:
      fail_if_matches_regexp: ['(']
- name: e
  kind: dns
  dns: {server: 'udp://ns1'}
- {name: f, kind: dns, dns: {server: ns1, query_name: 'a..b'}}
`
	_, err := Parse([]byte(yml))
	if err == nil {
		t.Fatal("Parse accepted a bad dns target")
	}
	msg := err.Error()
	for _, want := range []string{
		`targets[0].dns.server (line 5): invalid port "99999"`,
		`targets[0].dns.query_type (line 6): unknown query type "AX"`,
		`targets[0].dns.query_class (line 7): unknown query class "INN"`,
		`targets[0].dns.transport_protocol (line 8): "quic": want udp or tcp`,
		`targets[0].dns.valid_rcodes[1] (line 9): unknown rcode "NOPE"`,
		`targets[0].dns.ip_protocol (line 10): "ip5"`,
		`targets[0].dns.source_ip_address (line 11): "here" is not an IP address`,
		`targets[0].dns.validate_answer_rrs.fail_if_matches_regexp[0] (line 13): invalid regexp`,
		`targets[1].dns.server (line 16): "udp://ns1": want host or host:port`,
		`targets[1].dns.query_name (line 16): missing query_name`,
		`targets[2].dns.query_name (line 17): "a..b" is not a domain name`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestDNSTargetDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`targets:
- {name: a, kind: dns, dns: {server: 192.0.2.53, query_name: example.org}}
- {name: b, kind: dns, dns: {server: 'ns1.example.org:5353', query_name: example.org, recursion_desired: false}}
- {name: c, kind: dns, dns: {server: '2001:db8::53', query_name: example.org}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		job, instance, addr string
		rd                  bool
	}{
		{"blackbox", "192.0.2.53", "192.0.2.53:53", true},
		{"blackbox", "ns1.example.org:5353", "ns1.example.org:5353", false},
		{"blackbox", "2001:db8::53", "[2001:db8::53]:53", true},
	}
	for i, tg := range cfg.Targets {
		w := want[i]
		if tg.Job != w.job || tg.Instance != w.instance || DNSServerAddress(tg.DNS.Server) != w.addr || tg.DNS.Recursion() != w.rd {
			t.Errorf("target %s: job %q instance %q address %q recursion %v; want %+v",
				tg.Name, tg.Job, tg.Instance, DNSServerAddress(tg.DNS.Server), tg.DNS.Recursion(), w)
		}
	}
}
