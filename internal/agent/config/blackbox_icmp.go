package config

import (
	"net"
	"strings"
)

// ICMPTarget pings a host, as blackbox_exporter's icmp module (v0.27.0):
// one echo request, success on the matching echo reply.
type ICMPTarget struct {
	Host            string `yaml:"host"`        // name or IP address
	IPProtocol      string `yaml:"ip_protocol"` // "", ip4, ip6
	SourceIPAddress string `yaml:"source_ip_address"`
	// PayloadSize is the echo data's length; 0 sends blackbox's 28-byte text.
	PayloadSize int `yaml:"payload_size"`
	// DontFragment sets IPv4's DF bit; it needs a raw socket (CAP_NET_RAW)
	// and is ignored for an IPv6 address, as blackbox.
	DontFragment bool `yaml:"dont_fragment"`
	TTL          int  `yaml:"ttl"` // default 64, as blackbox
}

// maxICMPPayload keeps an echo request within one IPv4 packet.
const maxICMPPayload = 65535 - 20 - 8

func (v *validator) icmp(p string, c *ICMPTarget) {
	switch {
	case c.Host == "":
		v.at(p+".host", "missing host (a name or an IP address)")
	case net.ParseIP(c.Host) == nil && strings.ContainsAny(c.Host, "/:[] \t"):
		v.at(p+".host", "%s: want a host name or IP address, without port or scheme", quote(c.Host))
	}
	v.ipProtocol(p+".ip_protocol", c.IPProtocol)
	v.sourceIP(p+".source_ip_address", c.SourceIPAddress)
	if c.PayloadSize < 0 || c.PayloadSize > maxICMPPayload {
		v.at(p+".payload_size", "%d: want 0 to %d bytes", c.PayloadSize, maxICMPPayload)
	}
	if c.TTL < 0 || c.TTL > 255 {
		v.at(p+".ttl", "%d: want 1 to 255 (0 for the default)", c.TTL)
	}
}
