package collectors

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/vigil-sh/vigil/internal/agent/config"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// timingSlack is how late a probe may return after its deadline on a
// loaded CI machine (2 cores shared by many test processes).
const timingSlack = time.Second

// netTarget builds a validated-looking target of kind k.
func netTarget(k config.Kind, timeout time.Duration) config.Target {
	return config.Target{Name: "t-" + string(k), Kind: k, Timeout: model.Duration(timeout), Interval: model.Duration(10 * time.Second)}
}

func mustProber(t *testing.T, tg config.Target) Prober {
	t.Helper()
	p, err := New(tg, nil)
	if err != nil {
		t.Fatalf("New(%+v): %v", tg, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// tlsListener serves TLS handshakes with cfg and then closes the connection.
func tlsListener(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				var b [1]byte
				_, _ = c.Read(b[:]) // until the prober hangs up
			})
		}
	})
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return l.Addr().String()
}

func TestTCPProbe(t *testing.T) {
	caExpiry := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	leafExpiry := time.Date(2032, 1, 2, 3, 4, 5, 0, time.UTC)
	pki := newTestPKI(t, caExpiry, leafExpiry)
	tlsAddr := tlsListener(t, &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12})
	tls12Addr := tlsListener(t, &tls.Config{Certificates: []tls.Certificate{pki.server}, MaxVersion: tls.VersionTLS12})
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, plainPort, _ := net.SplitHostPort(plain.Addr().String())

	tests := []struct {
		name       string
		cfg        config.TCPTarget
		wantOK     bool
		wantReason string
		wantTLS    string // probe_tls_version_info version, "" for none
		wantChain  bool   // probe_ssl_last_chain_expiry_timestamp_seconds present
	}{
		{name: "plain", cfg: config.TCPTarget{Address: plain.Addr().String()}, wantOK: true},
		{name: "plain by name ip4", cfg: config.TCPTarget{Address: "localhost:" + plainPort, IPProtocol: "ip4"}, wantOK: true},
		{name: "ip6 preference, IPv4 literal", cfg: config.TCPTarget{Address: plain.Addr().String(), IPProtocol: "ip6"}, wantOK: true},
		{name: "refused", cfg: config.TCPTarget{Address: testserver.Refused(t)}, wantReason: ReasonConnect},
		{name: "unresolvable", cfg: config.TCPTarget{Address: "vigil-probe.invalid:443"}, wantReason: ReasonDNS},
		{name: "unresolvable ip4", cfg: config.TCPTarget{Address: "vigil-probe.invalid:443", IPProtocol: "ip4"}, wantReason: ReasonDNS},
		{name: "tls with ca_file", cfg: config.TCPTarget{Address: tlsAddr, TLS: true, TLSConfig: config.TLSConfig{CAFile: pki.caFile, ServerName: "localhost"}},
			wantOK: true, wantTLS: "TLS 1.3", wantChain: true},
		{name: "tls 1.2 via tls_config.enabled", cfg: config.TCPTarget{Address: tls12Addr, TLSConfig: config.TLSConfig{Enabled: true, CAFile: pki.caFile}},
			wantOK: true, wantTLS: "TLS 1.2", wantChain: true},
		{name: "tls untrusted", cfg: config.TCPTarget{Address: tlsAddr, TLS: true}, wantReason: ReasonTLS},
		{name: "tls insecure", cfg: config.TCPTarget{Address: tlsAddr, TLS: true, TLSConfig: config.TLSConfig{InsecureSkipVerify: true}},
			wantOK: true, wantTLS: "TLS 1.3"},
		{name: "tls to a port that hangs up", cfg: config.TCPTarget{Address: plain.Addr().String(), TLS: true}, wantReason: ReasonTLS},
		{name: "missing ca_file", cfg: config.TCPTarget{Address: tlsAddr, TLS: true, TLSConfig: config.TLSConfig{CAFile: "/nonexistent/ca.pem"}}, wantReason: ReasonConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := netTarget(config.KindTCP, 3*time.Second)
			tg.TCP = &tc.cfg
			res := mustProber(t, tg).Probe(t.Context())
			if res.Success != tc.wantOK || res.Reason != tc.wantReason {
				t.Fatalf("success=%v reason=%q err=%v; want success=%v reason=%q", res.Success, res.Reason, res.Err, tc.wantOK, tc.wantReason)
			}
			if !tc.wantOK && res.Err == nil {
				t.Errorf("failed probe without an error")
			}
			mfs := gatherProbe(t, res)
			if got := mustValue(t, mfs, "probe_success"); got != boolToFloat(tc.wantOK) {
				t.Errorf("probe_success = %v", got)
			}
			if got := mustValue(t, mfs, "probe_duration_seconds"); got <= 0 || got != res.Duration.Seconds() {
				t.Errorf("probe_duration_seconds = %v, Duration %v", got, res.Duration)
			}
			_, hasVersion := sampleValue(mfs, "probe_tls_version_info", "version", tc.wantTLS)
			_, hasAnyVersion := sampleValue(mfs, "probe_tls_version_info")
			if tc.wantTLS != "" && !hasVersion || tc.wantTLS == "" && hasAnyVersion {
				t.Errorf("probe_tls_version_info: want version %q, have families %v", tc.wantTLS, mfs["probe_tls_version_info"])
			}
			if tc.wantTLS != "" {
				// The CA is in the chain the server sends and expires first.
				if got := mustValue(t, mfs, "probe_ssl_earliest_cert_expiry"); got != float64(caExpiry.Unix()) {
					t.Errorf("probe_ssl_earliest_cert_expiry = %v, want %v", got, caExpiry.Unix())
				}
			}
			// blackbox's tcp prober reports the leaf but not the cipher.
			_, hasInfo := sampleValue(mfs, "probe_ssl_last_chain_info", "subject", "CN=localhost", "issuer", "CN=vigil test CA", "serialnumber", "02")
			_, hasCipher := mfs["probe_tls_cipher_info"]
			if hasInfo != (tc.wantTLS != "") || hasCipher {
				t.Errorf("probe_ssl_last_chain_info present %v, probe_tls_cipher_info present %v; want %v, false", hasInfo, hasCipher, tc.wantTLS != "")
			}
			if got := mustValue(t, mfs, "probe_failed_due_to_regex"); got != 0 {
				t.Errorf("probe_failed_due_to_regex = %v", got)
			}
			// Every probe reports its resolution, a failed one with protocol 0.
			wantProto := 0.0
			if tc.wantReason != ReasonDNS {
				wantProto = 4
			}
			if got := mustValue(t, mfs, "probe_ip_protocol"); got != wantProto {
				t.Errorf("probe_ip_protocol = %v, want %v", got, wantProto)
			}
			if got, want := mustValue(t, mfs, "probe_ip_addr_hash"), wantProto/4*fnv1a32([]byte{127, 0, 0, 1}); got != want {
				t.Errorf("probe_ip_addr_hash = %v, want %v", got, want)
			}
			if _, ok := sampleValue(mfs, "probe_dns_lookup_time_seconds"); !ok {
				t.Errorf("no probe_dns_lookup_time_seconds")
			}
			last, hasChain := sampleValue(mfs, "probe_ssl_last_chain_expiry_timestamp_seconds")
			if hasChain != tc.wantChain || hasChain && last != float64(caExpiry.Unix()) {
				t.Errorf("probe_ssl_last_chain_expiry_timestamp_seconds = %v (present %v), want present %v", last, hasChain, tc.wantChain)
			}
		})
	}
}

// A TLS port that accepts and never answers must cost the target's timeout
// and no more, whichever deadline is shorter.
func TestTCPProbeSilentPeer(t *testing.T) {
	addr := testserver.Silent(t)
	tests := []struct {
		name          string
		targetTimeout time.Duration
		ctxTimeout    time.Duration
		want          time.Duration
	}{
		{"target timeout", 300 * time.Millisecond, 10 * time.Second, 300 * time.Millisecond},
		{"caller deadline", 10 * time.Second, 200 * time.Millisecond, 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := netTarget(config.KindTCP, tc.targetTimeout)
			tg.TCP = &config.TCPTarget{Address: addr, TLS: true}
			p := mustProber(t, tg)
			ctx, cancel := context.WithTimeout(t.Context(), tc.ctxTimeout)
			defer cancel()
			start := time.Now()
			res := p.Probe(ctx)
			took := time.Since(start)
			if res.Success || res.Reason != ReasonTimeout {
				t.Fatalf("success=%v reason=%q err=%v; want timeout", res.Success, res.Reason, res.Err)
			}
			if took < tc.want || took > tc.want+timingSlack {
				t.Errorf("probe took %v, want about %v", took, tc.want)
			}
		})
	}
}

func TestChooseIP(t *testing.T) {
	v4, v6 := net.IPAddr{IP: net.ParseIP("192.0.2.1")}, net.IPAddr{IP: net.ParseIP("2001:db8::1")}
	tests := []struct {
		name   string
		ips    []net.IPAddr
		proto  string
		want   string
		wantOK bool
	}{
		{"ip4 preferred", []net.IPAddr{v6, v4}, "ip4", "192.0.2.1", true},
		{"ip6 preferred", []net.IPAddr{v4, v6}, "ip6", "2001:db8::1", true},
		{"ip6 falls back to ip4", []net.IPAddr{v4}, "ip6", "192.0.2.1", true},
		{"ip4 falls back to ip6", []net.IPAddr{v6}, "ip4", "2001:db8::1", true},
		{"none", nil, "ip4", "", false},
		{"default prefers ip6, as blackbox", []net.IPAddr{v4, v6}, "", "2001:db8::1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip, ok := chooseIP(tc.ips, tc.proto)
			if ok != tc.wantOK || ok && ip.String() != tc.want {
				t.Errorf("chooseIP = %v, %v; want %v, %v", ip, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// probe_ip_addr_hash hashes an IPv4 address in its 4-byte form, however
// net.IP holds it, and an IPv6 address in its 16 bytes.
func TestIPHash(t *testing.T) {
	v6 := net.ParseIP("2001:db8::1")
	for _, tc := range []struct {
		ip   net.IP
		want float64
	}{
		{net.ParseIP("127.0.0.1"), fnv1a32([]byte{127, 0, 0, 1})}, // ParseIP's 16-byte form
		{net.IPv4(192, 0, 2, 1).To4(), fnv1a32([]byte{192, 0, 2, 1})},
		{v6, fnv1a32(v6.To16())},
	} {
		if got := ipHash(tc.ip); got != tc.want {
			t.Errorf("ipHash(%v) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

func TestNewTCPRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  *config.TCPTarget
	}{
		{"no block", nil},
		{"no port", &config.TCPTarget{Address: "localhost"}},
		{"bad ip_protocol", &config.TCPTarget{Address: "localhost:1", IPProtocol: "ipx"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := netTarget(config.KindTCP, time.Second)
			tg.TCP = tc.cfg
			if _, err := New(tg, nil); err == nil {
				t.Errorf("New accepted %+v", tc.cfg)
			}
		})
	}
}

// silentResolver points probeResolver at a UDP DNS server that reads
// queries and never answers, for the rest of the test.
func silentResolver(t *testing.T) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	old := probeResolver
	probeResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
	t.Cleanup(func() { probeResolver = old })
}

// A name whose DNS server never answers costs the target's timeout and is
// classified as a timeout, for every kind that resolves names and for both
// resolution paths (Go's dialer, and ours for ip_protocol).
func TestProbeDNSNeverAnswers(t *testing.T) {
	silentResolver(t)
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name string
		tg   func() config.Target
	}{
		{"tcp", func() config.Target {
			tg := netTarget(config.KindTCP, timeout)
			tg.TCP = &config.TCPTarget{Address: "hangs.example:443"}
			return tg
		}},
		{"tcp ip6", func() config.Target {
			tg := netTarget(config.KindTCP, timeout)
			tg.TCP = &config.TCPTarget{Address: "hangs.example:443", IPProtocol: "ip6"}
			return tg
		}},
		{"http", func() config.Target {
			tg := netTarget(config.KindHTTP, timeout)
			tg.HTTP = &config.HTTPTarget{URL: "http://hangs.example/health"}
			return tg
		}},
		{"https ip4", func() config.Target {
			tg := netTarget(config.KindHTTP, timeout)
			tg.HTTP = &config.HTTPTarget{URL: "https://hangs.example/health", IPProtocol: "ip4"}
			return tg
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustProber(t, tc.tg())
			start := time.Now()
			res := p.Probe(t.Context())
			took := time.Since(start)
			if res.Success || res.Reason != ReasonTimeout {
				t.Fatalf("success=%v reason=%q err=%v; want timeout", res.Success, res.Reason, res.Err)
			}
			if took < timeout || took > timeout+timingSlack {
				t.Errorf("probe took %v, want about %v", took, timeout)
			}
			gatherProbe(t, res)
		})
	}
}

// smtpLike serves a line protocol shaped like SMTP with STARTTLS: a banner,
// EHLO echoing its argument, STARTTLS, NOOP telling whether the session is
// encrypted, QUIT closing. Lines end in CRLF, as SMTP's.
func smtpLike(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	serve := func(c net.Conn) {
		defer func() { c.Close() }()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		say := func(lines ...string) {
			for _, l := range lines {
				fmt.Fprintf(c, "%s\r\n", l)
			}
		}
		say("220 mail.vigil.test ESMTP v1.2.3")
		sc := bufio.NewScanner(c)
		secure := false
		for sc.Scan() {
			cmd, arg, _ := strings.Cut(sc.Text(), " ")
			switch cmd {
			case "EHLO":
				say("250-hello "+arg, "250 STARTTLS")
			case "STARTTLS":
				say("220 ready")
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				if tc.Handshake() != nil {
					return
				}
				c, sc, secure = tc, bufio.NewScanner(tc), true
			case "NOOP":
				say(fmt.Sprintf("250 ok secure=%v", secure))
			case "QUIT":
				say("221 bye")
				return
			default:
				say("500 what")
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serve(c) })
		}
	})
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return l.Addr().String()
}

func TestTCPProbeQueryResponse(t *testing.T) {
	pki := newTestPKI(t, time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC))
	addr := smtpLike(t, pki.server)
	re := func(s string) config.Regexp { return mustRegexps(t, s)[0] }
	banner := config.QueryResponse{Expect: re(`^220 (\S+) ESMTP v(\S+)$`), Send: "EHLO ${1}",
		Labels: []config.ExpectLabel{{Name: "host", Value: "${1}"}, {Name: "version", Value: "v${2}"}}}
	tests := []struct {
		name       string
		steps      []config.QueryResponse
		tlsCfg     config.TLSConfig
		timeout    time.Duration
		wantReason string
		wantRegex  float64
		wantTLS    bool
		wantInfo   bool // probe_expect_info{host="mail.vigil.test",version="v1.2.3"}
	}{
		{name: "banner, EHLO expanded, STARTTLS, encrypted NOOP", steps: []config.QueryResponse{
			banner,
			{Expect: re(`^250-hello mail\.vigil\.test$`)},
			{Expect: re(`^250 STARTTLS$`), Send: "STARTTLS"},
			{Expect: re(`^220 ready$`), StartTLS: true},
			{Send: "NOOP"},
			{Expect: re(`^250 ok secure=true$`), Send: "QUIT"},
		}, tlsCfg: config.TLSConfig{CAFile: pki.caFile, ServerName: "localhost"}, wantTLS: true, wantInfo: true},
		{name: "plain dialogue", steps: []config.QueryResponse{banner, {Send: "NOOP"}, {Expect: re(`^250 ok secure=false$`), Send: "QUIT"}}, wantInfo: true},
		{name: "no line matches before close", steps: []config.QueryResponse{{Send: "QUIT"}, {Expect: re(`^250`)}},
			wantReason: ReasonBodyMismatch, wantRegex: 1},
		{name: "peer silent: timeout, not a regex failure", steps: []config.QueryResponse{{Expect: re(`^999`)}}, timeout: 300 * time.Millisecond,
			wantReason: ReasonTimeout},
		{name: "starttls untrusted", steps: []config.QueryResponse{{Expect: re(`^220 `), Send: "STARTTLS"}, {Expect: re(`^220 ready$`), StartTLS: true}},
			wantReason: ReasonTLS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 3 * time.Second
			}
			tg := netTarget(config.KindTCP, timeout)
			tg.TCP = &config.TCPTarget{Address: addr, TLSConfig: tc.tlsCfg, QueryResponse: tc.steps}
			start := time.Now()
			res := mustProber(t, tg).Probe(t.Context())
			if res.Success != (tc.wantReason == "") || res.Reason != tc.wantReason {
				t.Fatalf("success=%v reason=%q err=%v; want reason %q", res.Success, res.Reason, res.Err, tc.wantReason)
			}
			if took := time.Since(start); took > timeout+timingSlack {
				t.Errorf("probe took %v, timeout %v", took, timeout)
			}
			mfs := gatherProbe(t, res)
			if got := mustValue(t, mfs, "probe_failed_due_to_regex"); got != tc.wantRegex {
				t.Errorf("probe_failed_due_to_regex = %v, want %v", got, tc.wantRegex)
			}
			_, hasTLS := sampleValue(mfs, "probe_tls_version_info", "version", "TLS 1.3")
			_, hasLeaf := sampleValue(mfs, "probe_ssl_last_chain_info", "subject", "CN=localhost")
			if hasTLS != tc.wantTLS || hasLeaf != tc.wantTLS {
				t.Errorf("TLS families present %v/%v, want %v", hasTLS, hasLeaf, tc.wantTLS)
			}
			_, hasInfo := sampleValue(mfs, "probe_expect_info", "host", "mail.vigil.test", "version", "v1.2.3")
			if hasInfo != tc.wantInfo {
				t.Errorf("probe_expect_info present %v, want %v: %v", hasInfo, tc.wantInfo, mfs["probe_expect_info"])
			}
		})
	}
}
