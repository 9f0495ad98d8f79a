package testserver

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DNSZone is the zone DNS serves, in zone-file form, so tests can name the
// records they expect.
const DNSZone = "example.test."

// DNS answers for DNSZone on one loopback port, over UDP and TCP, with
// github.com/miekg/dns's server (the library blackbox_exporter's own tests
// use): a real DNS server on the wire, with fixed records:
//
//	example.test.            A     192.0.2.1, 192.0.2.2; authority NS ns1, ns2; additional ns1 A, ns1 AAAA
//	example.test.            SOA   serial 2026120601
//	nx.example.test.         NXDOMAIN
//	fail.example.test.       SERVFAIL
//	rd.example.test.         TXT "rd=true" or "rd=false": the query's RD bit
//	transport.example.test.  TXT "udp" or "tcp": how the query came
//	version.bind.  (class CH) TXT "vigil-test"
//
// It returns host:port; the servers stop when the test ends.
func DNS(t testing.TB) string {
	t.Helper()
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen udp: %v", err)
		}
		// The same port over TCP, as a DNS server listens; another test may
		// hold it already, so try a few ports.
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		udp := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(serveTestZone)}
		tcp := &dns.Server{Listener: l, Handler: dns.HandlerFunc(serveTestZone)}
		startDNS(t, udp)
		startDNS(t, tcp)
		return pc.LocalAddr().String()
	}
	t.Fatalf("no loopback port free over both UDP and TCP: %v", lastErr)
	return ""
}

func startDNS(t testing.TB, s *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() { errc <- s.ActivateAndServe() })
	select {
	case <-started:
	case err := <-errc:
		t.Fatalf("DNS server: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("DNS server did not start within 10s")
	}
	t.Cleanup(func() {
		_ = s.Shutdown()
		wg.Wait()
	})
}

func serveTestZone(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	add := func(section *[]dns.RR, rrs ...string) {
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				panic(fmt.Sprintf("test zone record %q: %v", s, err))
			}
			*section = append(*section, rr)
		}
	}
	name := strings.ToLower(q.Name)
	switch {
	case q.Qclass == dns.ClassCHAOS && name == "version.bind." && q.Qtype == dns.TypeTXT:
		add(&m.Answer, `version.bind. 0 CH TXT "vigil-test"`)
	case q.Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
	case name == "nx."+DNSZone:
		m.Rcode = dns.RcodeNameError
		add(&m.Ns, "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026120601 7200 3600 1209600 300")
	case name == "fail."+DNSZone:
		m.Rcode = dns.RcodeServerFailure
		m.Authoritative = false
	case name == "rd."+DNSZone:
		add(&m.Answer, fmt.Sprintf(`rd.example.test. 0 IN TXT "rd=%v"`, r.RecursionDesired))
	case name == "transport."+DNSZone:
		add(&m.Answer, fmt.Sprintf(`transport.example.test. 0 IN TXT %q`, w.RemoteAddr().Network()))
	case name == DNSZone && q.Qtype == dns.TypeSOA:
		add(&m.Answer, "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026120601 7200 3600 1209600 300")
		add(&m.Ns, "example.test. 300 IN NS ns1.example.test.", "example.test. 300 IN NS ns2.example.test.")
	case name == DNSZone && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
		add(&m.Answer, "example.test. 300 IN A 192.0.2.1", "example.test. 300 IN A 192.0.2.2")
		add(&m.Ns, "example.test. 300 IN NS ns1.example.test.", "example.test. 300 IN NS ns2.example.test.")
		add(&m.Extra, "ns1.example.test. 300 IN A 192.0.2.53", "ns1.example.test. 300 IN AAAA 2001:db8::53")
	case name == DNSZone:
		// NODATA: the name exists, not this type.
		add(&m.Ns, "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026120601 7200 3600 1209600 300")
	default:
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// SilentUDP is a loopback UDP port that reads every datagram and never
// answers: the DNS server that must cost a probe only its timeout.
func SilentUDP(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return pc.LocalAddr().String()
}
