package parity

import (
	"net"
	"net/url"
	"testing"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func init() {
	icmpStable := []string{"probe_success", "probe_icmp_reply_hop_limit", "probe_ip_protocol", "probe_ip_addr_hash"}
	stable["icmp"] = icmpStable
	stable["icmp6"] = icmpStable
}

// TestParityICMP pings the loopback addresses with blackbox_exporter's icmp
// module and the agent's icmp kind. Both need CAP_NET_RAW or a
// ping_group_range admitting their group: the test runs them as its own
// user, so it fails (with the agent's error naming the privilege) where
// that user has neither.
func TestParityICMP(t *testing.T) {
	blackbox := testserver.BlackboxExporter(t, `modules:
  icmp4:
    prober: icmp
    timeout: 5s
    icmp:
      preferred_ip_protocol: ip4
  icmp6:
    prober: icmp
    timeout: 5s
    icmp:
      preferred_ip_protocol: ip6
`)
	cfg := `global: {interval: 2s, timeout: 1s}
disable_default_rules: true
targets:
  - {name: ping4, kind: icmp, icmp: {host: 127.0.0.1, ip_protocol: ip4}}
`
	probe := func(module, target string) string {
		return blackbox.URL + "/probe?" + url.Values{"module": {module}, "target": {target}}.Encode()
	}
	comparisons := []comparison{
		{name: "icmp", agentName: "ping4", exporterURL: probe("icmp4", "127.0.0.1"), job: "blackbox", instance: "127.0.0.1", healthy: "probe_success"},
	}
	if l, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		l.Close()
		cfg += "  - {name: ping6, kind: icmp, icmp: {host: '::1', ip_protocol: ip6}}\n"
		comparisons = append(comparisons, comparison{name: "icmp6", agentName: "ping6", exporterURL: probe("icmp6", "::1"), job: "blackbox", instance: "::1", healthy: "probe_success"})
	} else {
		t.Logf("no ::1 on this host (%v): only IPv4 is compared", err)
	}
	agent := startAgent(t, cfg)
	for _, c := range comparisons {
		t.Run(c.name, func(t *testing.T) { compareTarget(t, agent.URL, c, nil) })
	}
}
