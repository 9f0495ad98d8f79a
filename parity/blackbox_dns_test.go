package parity

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func init() {
	// Every family of the dns module is stable against a fixed zone except
	// the timings.
	dnsStable := []string{"probe_success", "probe_dns_answer_rrs", "probe_dns_authority_rrs", "probe_dns_additional_rrs",
		"probe_dns_query_succeeded", "probe_ip_protocol", "probe_ip_addr_hash"}
	stable["dns"] = dnsStable
	stable["dns_soa"] = append([]string{"probe_dns_serial"}, dnsStable...)
}

// TestParityDNS runs blackbox_exporter's dns module and the agent's dns
// kind against the same DNS server (miekg/dns in process, loopback): an A
// query over UDP with record checks, and an SOA query over TCP without
// recursion, whose serial both report.
func TestParityDNS(t *testing.T) {
	// Two servers of the same zone: by the identity contract one instance
	// is one target in /probe?target=.
	server, soaServer := testserver.DNS(t), testserver.DNS(t)
	blackbox := testserver.BlackboxExporter(t, `modules:
  dns_a:
    prober: dns
    timeout: 5s
    dns:
      preferred_ip_protocol: ip4
      query_name: example.test
      query_type: A
      validate_answer_rrs:
        fail_if_not_matches_regexp: ['\sA\s+192\.0\.2\.[12]$']
      validate_authority_rrs:
        fail_if_none_matches_regexp: ['ns1\.example\.test\.$']
  dns_soa:
    prober: dns
    timeout: 5s
    dns:
      preferred_ip_protocol: ip4
      transport_protocol: tcp
      query_name: example.test
      query_type: SOA
      recursion_desired: false
      valid_rcodes: [NOERROR]
`)
	agent := startAgent(t, fmt.Sprintf(`global: {interval: 2s, timeout: 1s}
disable_default_rules: true
targets:
  - name: resolver
    kind: dns
    dns:
      server: %[1]q
      ip_protocol: ip4
      query_name: example.test
      query_type: A
      validate_answer_rrs:
        fail_if_not_matches_regexp: ['\sA\s+192\.0\.2\.[12]$']
      validate_authority_rrs:
        fail_if_none_matches_regexp: ['ns1\.example\.test\.$']
  - name: zone
    kind: dns
    dns:
      server: %[2]q
      ip_protocol: ip4
      transport_protocol: tcp
      query_name: example.test
      query_type: SOA
      recursion_desired: false
      valid_rcodes: [NOERROR]
`, server, soaServer))
	probe := func(module, target string) string {
		return blackbox.URL + "/probe?" + url.Values{"module": {module}, "target": {target}}.Encode()
	}
	for _, c := range []comparison{
		{name: "dns", agentName: "resolver", exporterURL: probe("dns_a", server), job: "blackbox", instance: server, healthy: "probe_success"},
		{name: "dns_soa", agentName: "zone", exporterURL: probe("dns_soa", soaServer), job: "blackbox", instance: soaServer, healthy: "probe_success"},
	} {
		t.Run(c.name, func(t *testing.T) { compareTarget(t, agent.URL, c, nil) })
	}
}
