package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// DNSTarget queries a DNS server, as blackbox_exporter's dns module
// (v0.27.0): the probe succeeds when the server answers with a valid rcode
// and the answer, authority and additional sections pass their checks.
type DNSTarget struct {
	// Server is the DNS server queried: host or host:port, port 53 by
	// default (blackbox's target parameter).
	Server    string `yaml:"server"`
	QueryName string `yaml:"query_name"`
	// QueryType defaults to ANY and QueryClass to IN, as blackbox.
	QueryType         string `yaml:"query_type"`
	QueryClass        string `yaml:"query_class"`
	TransportProtocol string `yaml:"transport_protocol"` // udp (default) or tcp
	// RecursionDesired sets the RD bit; unset means true, as blackbox.
	RecursionDesired *bool `yaml:"recursion_desired,omitempty"`
	// ValidRcodes are rcode names (NOERROR, NXDOMAIN, ...); empty means NOERROR.
	ValidRcodes        []string       `yaml:"valid_rcodes"`
	ValidateAnswer     DNSRRValidator `yaml:"validate_answer_rrs"`
	ValidateAuthority  DNSRRValidator `yaml:"validate_authority_rrs"`
	ValidateAdditional DNSRRValidator `yaml:"validate_additional_rrs"`
	IPProtocol         string         `yaml:"ip_protocol"` // "", ip4, ip6: the server's address family
	SourceIPAddress    string         `yaml:"source_ip_address"`
}

// Recursion is the RD bit the query carries.
func (d *DNSTarget) Recursion() bool { return d.RecursionDesired == nil || *d.RecursionDesired }

// DNSRRValidator checks one section of a DNS response, each record in its
// zone-file form (`example.org. 300 IN A 192.0.2.1`), as blackbox's.
type DNSRRValidator struct {
	FailIfMatches     []Regexp `yaml:"fail_if_matches_regexp"`      // any record matching any fails
	FailIfAllMatch    []Regexp `yaml:"fail_if_all_match_regexp"`    // fails if every record matches one
	FailIfNotMatches  []Regexp `yaml:"fail_if_not_matches_regexp"`  // any record not matching one fails
	FailIfNoneMatches []Regexp `yaml:"fail_if_none_matches_regexp"` // fails if no record matches one
}

// DNSServerAddress is the server's host:port, with blackbox's default port 53.
func DNSServerAddress(server string) string {
	if _, _, err := net.SplitHostPort(server); err == nil {
		return server
	}
	return net.JoinHostPort(strings.Trim(server, "[]"), "53")
}

func (v *validator) dns(p string, d *DNSTarget) {
	switch {
	case d.Server == "":
		v.at(p+".server", "missing server (the DNS server queried: host or host:port)")
	case strings.Contains(d.Server, "://"):
		v.at(p+".server", "%s: want host or host:port, not a URL", quote(d.Server))
	default:
		if _, port, err := net.SplitHostPort(d.Server); err == nil {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				v.at(p+".server", "invalid port %s in %s", quote(port), quote(d.Server))
			}
		} else if strings.Count(d.Server, ":") == 1 {
			v.at(p+".server", "%v", err)
		}
	}
	if d.QueryName == "" {
		v.at(p+".query_name", "missing query_name")
	} else if _, ok := dns.IsDomainName(d.QueryName); !ok {
		v.at(p+".query_name", "%s is not a domain name", quote(d.QueryName))
	}
	if _, ok := dns.StringToType[d.QueryType]; d.QueryType != "" && !ok {
		v.at(p+".query_type", "unknown query type %s (e.g. A, AAAA, MX, SOA, ANY)", quote(d.QueryType))
	}
	if _, ok := dns.StringToClass[d.QueryClass]; d.QueryClass != "" && !ok {
		v.at(p+".query_class", "unknown query class %s (e.g. IN, CH)", quote(d.QueryClass))
	}
	if !slices.Contains([]string{"", "udp", "tcp"}, d.TransportProtocol) {
		v.at(p+".transport_protocol", "%s: want udp or tcp", quote(d.TransportProtocol))
	}
	for i, rc := range d.ValidRcodes {
		if _, ok := dns.StringToRcode[rc]; !ok {
			v.at(fmt.Sprintf("%s.valid_rcodes[%d]", p, i), "unknown rcode %s (e.g. NOERROR, NXDOMAIN, SERVFAIL)", quote(rc))
		}
	}
	v.ipProtocol(p+".ip_protocol", d.IPProtocol)
	v.sourceIP(p+".source_ip_address", d.SourceIPAddress)
}

// sourceIP checks a probe's source address, an IP literal.
func (v *validator) sourceIP(p, s string) {
	if s != "" && net.ParseIP(s) == nil {
		v.at(p, "%s is not an IP address", quote(s))
	}
}
