package collectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func init() { register(config.KindDNS, newDNS) }

// Errors of a DNS answer that arrived but did not pass its checks.
var (
	errDNSRcode      = errors.New("rcode not valid")
	errDNSValidation = errors.New("resource records failed validation")
)

// dnsProber sends one query to a DNS server and checks the response, as
// blackbox_exporter's dns prober.
type dnsProber struct {
	cfg       config.DNSTarget
	addr      string // host:port of the server, port 53 by default
	qtype     uint16
	qclass    uint16
	rcodes    []int
	transport string // udp or tcp
	sourceIP  net.IP
	timeout   time.Duration
	logger    *slog.Logger
}

func newDNS(t config.Target, logger *slog.Logger) (Prober, error) {
	d := t.DNS
	if d == nil {
		return nil, fmt.Errorf("target %q: kind dns without a dns block", t.Name)
	}
	p := &dnsProber{cfg: *d, addr: config.DNSServerAddress(d.Server), qtype: dns.TypeANY, qclass: dns.ClassINET,
		transport: "udp", timeout: probeTimeout(t), logger: logger}
	if _, _, err := net.SplitHostPort(p.addr); err != nil {
		return nil, fmt.Errorf("target %q: dns server %q: %w", t.Name, d.Server, err)
	}
	if d.QueryType != "" {
		qt, ok := dns.StringToType[d.QueryType]
		if !ok {
			return nil, fmt.Errorf("target %q: unknown query_type %q", t.Name, d.QueryType)
		}
		p.qtype = qt
	}
	if d.QueryClass != "" {
		qc, ok := dns.StringToClass[d.QueryClass]
		if !ok {
			return nil, fmt.Errorf("target %q: unknown query_class %q", t.Name, d.QueryClass)
		}
		p.qclass = qc
	}
	switch d.TransportProtocol {
	case "", "udp":
	case "tcp":
		p.transport = "tcp"
	default:
		return nil, fmt.Errorf("target %q: transport_protocol %q: want udp or tcp", t.Name, d.TransportProtocol)
	}
	p.rcodes = []int{dns.RcodeSuccess} // blackbox's default: NOERROR only
	if len(d.ValidRcodes) > 0 {
		p.rcodes = p.rcodes[:0]
		for _, name := range d.ValidRcodes {
			rc, ok := dns.StringToRcode[name]
			if !ok {
				return nil, fmt.Errorf("target %q: unknown rcode %q in valid_rcodes", t.Name, name)
			}
			p.rcodes = append(p.rcodes, rc)
		}
	}
	if d.SourceIPAddress != "" {
		if p.sourceIP = net.ParseIP(d.SourceIPAddress); p.sourceIP == nil {
			return nil, fmt.Errorf("target %q: source_ip_address %q is not an IP address", t.Name, d.SourceIPAddress)
		}
	}
	if err := checkIPProtocol(d.IPProtocol); err != nil {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	return p, nil
}

func (p *dnsProber) Close() error { return nil }

func (p *dnsProber) Probe(ctx context.Context) Result {
	return blackboxProbe(ctx, p.timeout, p.logger, p.probe)
}

// dnsPhases are probe_dns_duration_seconds's phases, reported whatever the
// outcome (0 for a phase not reached), as blackbox.
var dnsPhases = []string{"resolve", "connect", "request"}

func (p *dnsProber) probe(ctx context.Context, s *sink) (reason string, err error) {
	var (
		phase     = map[string]time.Duration{}
		resp      *dns.Msg
		succeeded bool
	)
	defer func() {
		for _, ph := range dnsPhases {
			s.gauge("probe_dns_duration_seconds", "Duration of DNS request by phase", phase[ph].Seconds(), "phase", ph)
		}
		var answer, authority, additional int
		if resp != nil {
			answer, authority, additional = len(resp.Answer), len(resp.Ns), len(resp.Extra)
		}
		s.gauge("probe_dns_answer_rrs", "Returns number of entries in the answer resource record list", float64(answer))
		s.gauge("probe_dns_authority_rrs", "Returns number of entries in the authority resource record list", float64(authority))
		s.gauge("probe_dns_additional_rrs", "Returns number of entries in the additional resource record list", float64(additional))
		s.gauge("probe_dns_query_succeeded", "Displays whether or not the query was executed successfully", boolToFloat(succeeded))
		if succeeded && p.qtype == dns.TypeSOA {
			var serial float64
			for _, rr := range resp.Answer {
				if soa, ok := rr.(*dns.SOA); ok {
					serial = float64(soa.Serial)
				}
			}
			s.gauge("probe_dns_serial", "Returns the serial number of the zone", serial)
		}
	}()

	host, port, _ := net.SplitHostPort(p.addr)
	ip, took, err := resolveTarget(ctx, s, host, p.cfg.IPProtocol)
	if err != nil {
		return resolveReason(ctx, err), fmt.Errorf("resolving %s: %w", host, err)
	}
	phase["resolve"] = took

	network := p.transport + "6"
	if ip.To4() != nil {
		network = p.transport + "4"
	}
	client := &dns.Client{Net: network}
	if p.sourceIP != nil {
		client.Dialer = &net.Dialer{}
		if p.transport == "tcp" {
			client.Dialer.LocalAddr = &net.TCPAddr{IP: p.sourceIP}
		} else {
			client.Dialer.LocalAddr = &net.UDPAddr{IP: p.sourceIP}
		}
	}
	// The probe's deadline bounds the dial, the write and the read; a
	// context without one still gets the target's timeout from Probe.
	if dl, ok := ctx.Deadline(); ok {
		client.Timeout = time.Until(dl)
	}
	msg := &dns.Msg{}
	msg.Id = dns.Id()
	msg.RecursionDesired = p.cfg.Recursion()
	msg.Question = []dns.Question{{Name: dns.Fqdn(p.cfg.QueryName), Qtype: p.qtype, Qclass: p.qclass}}

	server := net.JoinHostPort(ip.String(), port)
	requestStart := time.Now()
	resp, rtt, err := client.ExchangeContext(ctx, msg, server)
	// rtt covers the exchange after the connection exists; the rest of the
	// time is the dial, as blackbox splits it.
	phase["connect"] = time.Since(requestStart) - rtt
	phase["request"] = rtt
	if err != nil {
		resp = nil
		return dnsReason(ctx, err), fmt.Errorf("querying %s (%s) for %s %s: %w", p.cfg.Server, network, p.cfg.QueryName, dns.TypeToString[p.qtype], err)
	}
	succeeded = true

	if !p.validRcode(resp.Rcode) {
		return ReasonStatus, fmt.Errorf("%w: %s answered %s, want one of %s", errDNSRcode, p.cfg.Server, rcodeName(resp.Rcode), p.rcodeNames())
	}
	for _, sec := range []struct {
		name string
		rrs  []dns.RR
		v    *config.DNSRRValidator
	}{
		{"answer", resp.Answer, &p.cfg.ValidateAnswer},
		{"authority", resp.Ns, &p.cfg.ValidateAuthority},
		{"additional", resp.Extra, &p.cfg.ValidateAdditional},
	} {
		if err := validRRs(sec.rrs, sec.v); err != nil {
			return ReasonBodyMismatch, fmt.Errorf("%w: %s section: %w", errDNSValidation, sec.name, err)
		}
	}
	return "", nil
}

func (p *dnsProber) validRcode(rc int) bool {
	for _, want := range p.rcodes {
		if rc == want {
			return true
		}
	}
	return false
}

func (p *dnsProber) rcodeNames() string {
	names := make([]string, len(p.rcodes))
	for i, rc := range p.rcodes {
		names[i] = rcodeName(rc)
	}
	return strings.Join(names, ", ")
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rc)
}

// dnsReason classifies a failed exchange; miekg/dns reports a truncated or
// malformed answer with its own errors, which are the server's protocol
// faults rather than the network's.
func dnsReason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return ReasonTimeout
	}
	switch r := classify(err); r {
	case ReasonOther:
		var dnsErr *dns.Error
		if errors.As(err, &dnsErr) {
			return ReasonProtocol
		}
		return r
	default:
		return r
	}
}

// validRRs checks a section's records as blackbox's validRRs does: a
// record matching any fail_if_matches fails; a record missing any
// fail_if_not_matches fails; fail_if_all_match fails unless every record
// matches every one of its expressions (blackbox's semantics, whatever the
// name suggests: #552 added it to pass "if all records match"); and
// fail_if_none_matches fails unless some record matches one. An empty
// section fails whenever fail_if_not_matches or fail_if_none_matches is set:
// they require a match.
func validRRs(rrs []dns.RR, v *config.DNSRRValidator) error {
	if len(rrs) == 0 && len(v.FailIfNotMatches) > 0 {
		return errors.New("fail_if_not_matches_regexp is set but there are no records")
	}
	if len(rrs) == 0 && len(v.FailIfNoneMatches) > 0 {
		return errors.New("fail_if_none_matches_regexp is set but there are no records")
	}
	allMatch, anyMatch := true, false
	for _, rr := range rrs {
		text := rr.String()
		for _, re := range v.FailIfMatches {
			if re.MatchString(text) {
				return fmt.Errorf("record %q matches fail_if_matches_regexp %q", text, re.String())
			}
		}
		for _, re := range v.FailIfAllMatch {
			if !re.MatchString(text) {
				allMatch = false
			}
		}
		for _, re := range v.FailIfNotMatches {
			if !re.MatchString(text) {
				return fmt.Errorf("record %q does not match fail_if_not_matches_regexp %q", text, re.String())
			}
		}
		for _, re := range v.FailIfNoneMatches {
			if re.MatchString(text) {
				anyMatch = true
			}
		}
	}
	if len(v.FailIfAllMatch) > 0 && !allMatch {
		return errors.New("not every record matches fail_if_all_match_regexp")
	}
	if len(v.FailIfNoneMatches) > 0 && !anyMatch {
		return errors.New("no record matches fail_if_none_matches_regexp")
	}
	return nil
}
