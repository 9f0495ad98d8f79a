package collectors

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func regexps(t *testing.T, exprs ...string) []config.Regexp {
	t.Helper()
	out := make([]config.Regexp, len(exprs))
	for i, e := range exprs {
		out[i] = config.MustNewRegexp(e)
	}
	return out
}

// TestDNSProbe queries a real DNS server (miekg/dns, in process, loopback)
// over UDP and TCP, as blackbox_exporter's dns module would.
func TestDNSProbe(t *testing.T) {
	server := testserver.DNS(t)
	no := false
	type counts struct{ answer, authority, additional float64 }
	tests := []struct {
		name       string
		cfg        config.DNSTarget
		wantOK     bool
		wantReason string
		wantErr    error // errors.Is, for failures past the exchange
		want       counts
		wantSerial float64 // probe_dns_serial, -1 for absent
	}{
		{name: "A", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "A"}, wantOK: true, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "default type ANY", cfg: config.DNSTarget{QueryName: "example.test"}, wantOK: true, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "SOA serial", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "SOA"}, wantOK: true, want: counts{1, 2, 0}, wantSerial: 2026120601},
		{name: "NODATA", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "MX"}, wantOK: true, want: counts{0, 1, 0}, wantSerial: -1},
		{name: "NXDOMAIN is not NOERROR", cfg: config.DNSTarget{QueryName: "nx.example.test", QueryType: "A"},
			wantReason: ReasonStatus, wantErr: errDNSRcode, want: counts{0, 1, 0}, wantSerial: -1},
		{name: "NXDOMAIN allowed", cfg: config.DNSTarget{QueryName: "nx.example.test", QueryType: "A", ValidRcodes: []string{"NOERROR", "NXDOMAIN"}},
			wantOK: true, want: counts{0, 1, 0}, wantSerial: -1},
		{name: "SERVFAIL", cfg: config.DNSTarget{QueryName: "fail.example.test", QueryType: "A"}, wantReason: ReasonStatus, wantErr: errDNSRcode, wantSerial: -1},
		{name: "class CH", cfg: config.DNSTarget{QueryName: "version.bind", QueryType: "TXT", QueryClass: "CH",
			ValidateAnswer: config.DNSRRValidator{FailIfNotMatches: regexps(t, `"vigil-test"$`)}}, wantOK: true, want: counts{1, 0, 0}, wantSerial: -1},
		{name: "recursion desired by default", cfg: config.DNSTarget{QueryName: "rd.example.test", QueryType: "TXT",
			ValidateAnswer: config.DNSRRValidator{FailIfNotMatches: regexps(t, `"rd=true"`)}}, wantOK: true, want: counts{1, 0, 0}, wantSerial: -1},
		{name: "recursion_desired false", cfg: config.DNSTarget{QueryName: "rd.example.test", QueryType: "TXT", RecursionDesired: &no,
			ValidateAnswer: config.DNSRRValidator{FailIfNotMatches: regexps(t, `"rd=false"`)}}, wantOK: true, want: counts{1, 0, 0}, wantSerial: -1},
		{name: "udp by default", cfg: config.DNSTarget{QueryName: "transport.example.test", QueryType: "TXT",
			ValidateAnswer: config.DNSRRValidator{FailIfNotMatches: regexps(t, `"udp"`)}}, wantOK: true, want: counts{1, 0, 0}, wantSerial: -1},
		{name: "tcp", cfg: config.DNSTarget{QueryName: "transport.example.test", QueryType: "TXT", TransportProtocol: "tcp",
			ValidateAnswer: config.DNSRRValidator{FailIfNotMatches: regexps(t, `"tcp"`)}}, wantOK: true, want: counts{1, 0, 0}, wantSerial: -1},
		{name: "tcp A", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "A", TransportProtocol: "tcp"}, wantOK: true, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "fail_if_matches", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "A",
			ValidateAnswer: config.DNSRRValidator{FailIfMatches: regexps(t, `192\.0\.2\.2$`)}},
			wantReason: ReasonBodyMismatch, wantErr: errDNSValidation, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "fail_if_not_matches", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "A",
			ValidateAnswer: config.DNSRRValidator{FailIfNotMatches: regexps(t, `192\.0\.2\.1$`)}},
			wantReason: ReasonBodyMismatch, wantErr: errDNSValidation, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "fail_if_not_matches on an empty section", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "SOA",
			ValidateAdditional: config.DNSRRValidator{FailIfNotMatches: regexps(t, `.`)}},
			wantReason: ReasonBodyMismatch, wantErr: errDNSValidation, want: counts{1, 2, 0}, wantSerial: 2026120601},
		{name: "fail_if_none_matches passes on one", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "A",
			ValidateAnswer: config.DNSRRValidator{FailIfNoneMatches: regexps(t, `192\.0\.2\.2$`)}}, wantOK: true, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "fail_if_none_matches", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "A",
			ValidateAuthority: config.DNSRRValidator{FailIfNoneMatches: regexps(t, `ns3\.`)}},
			wantReason: ReasonBodyMismatch, wantErr: errDNSValidation, want: counts{2, 2, 2}, wantSerial: -1},
		// blackbox's fail_if_all_match fails unless every record matches.
		{name: "fail_if_all_match, all match", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "A",
			ValidateAuthority: config.DNSRRValidator{FailIfAllMatch: regexps(t, `IN\s+NS\s+ns[12]\.example\.test\.$`)}}, wantOK: true, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "fail_if_all_match, one does not", cfg: config.DNSTarget{QueryName: "example.test", QueryType: "A",
			ValidateAdditional: config.DNSRRValidator{FailIfAllMatch: regexps(t, `IN\s+A\s`)}},
			wantReason: ReasonBodyMismatch, wantErr: errDNSValidation, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "server by name, ip4", cfg: config.DNSTarget{Server: strings.Replace(server, "127.0.0.1", "localhost", 1), IPProtocol: "ip4",
			QueryName: "example.test", QueryType: "A"}, wantOK: true, want: counts{2, 2, 2}, wantSerial: -1},
		{name: "refused tcp", cfg: config.DNSTarget{Server: testserver.Refused(t), QueryName: "example.test", TransportProtocol: "tcp"},
			wantReason: ReasonConnect, wantSerial: -1},
		{name: "unresolvable server", cfg: config.DNSTarget{Server: "vigil-dns.invalid", QueryName: "example.test"}, wantReason: ReasonDNS, wantSerial: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := netTarget(config.KindDNS, 3*time.Second)
			tg.DNS = &tc.cfg
			if tg.DNS.Server == "" {
				tg.DNS.Server = server
			}
			res := mustProber(t, tg).Probe(t.Context())
			if res.Success != tc.wantOK || res.Reason != tc.wantReason {
				t.Fatalf("success=%v reason=%q err=%v; want success=%v reason=%q", res.Success, res.Reason, res.Err, tc.wantOK, tc.wantReason)
			}
			if tc.wantErr != nil && !errors.Is(res.Err, tc.wantErr) {
				t.Errorf("err = %v, want %v", res.Err, tc.wantErr)
			}
			mfs := gatherProbe(t, res)
			if got := mustValue(t, mfs, "probe_success"); got != boolToFloat(tc.wantOK) {
				t.Errorf("probe_success = %v", got)
			}
			queried := tc.wantReason == "" || tc.wantErr != nil
			if got := mustValue(t, mfs, "probe_dns_query_succeeded"); got != boolToFloat(queried) {
				t.Errorf("probe_dns_query_succeeded = %v, want %v", got, boolToFloat(queried))
			}
			for name, want := range map[string]float64{"probe_dns_answer_rrs": tc.want.answer, "probe_dns_authority_rrs": tc.want.authority, "probe_dns_additional_rrs": tc.want.additional} {
				if got := mustValue(t, mfs, name); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			serial, hasSerial := sampleValue(mfs, "probe_dns_serial")
			if hasSerial != (tc.wantSerial >= 0) || hasSerial && serial != tc.wantSerial {
				t.Errorf("probe_dns_serial = %v (present %v), want %v", serial, hasSerial, tc.wantSerial)
			}
			for _, ph := range dnsPhases {
				v := mustValue(t, mfs, "probe_dns_duration_seconds", "phase", ph)
				if v < 0 || queried && ph == "request" && v == 0 {
					t.Errorf("probe_dns_duration_seconds{phase=%q} = %v", ph, v)
				}
			}
			wantProto := 4.0
			if tc.wantReason == ReasonDNS {
				wantProto = 0
			}
			if got := mustValue(t, mfs, "probe_ip_protocol"); got != wantProto {
				t.Errorf("probe_ip_protocol = %v, want %v", got, wantProto)
			}
			if got, want := mustValue(t, mfs, "probe_ip_addr_hash"), wantProto/4*fnv1a32([]byte{127, 0, 0, 1}); got != want {
				t.Errorf("probe_ip_addr_hash = %v, want %v", got, want)
			}
			want := []string{"probe_dns_additional_rrs", "probe_dns_answer_rrs", "probe_dns_authority_rrs", "probe_dns_duration_seconds",
				"probe_dns_lookup_time_seconds", "probe_dns_query_succeeded", "probe_duration_seconds", "probe_ip_addr_hash", "probe_ip_protocol", "probe_success"}
			if hasSerial {
				want = append(want, "probe_dns_serial")
				slices.Sort(want)
			}
			if got := familyNames(mfs); !slices.Equal(got, want) {
				t.Errorf("families %v, want %v", got, want)
			}
		})
	}
}

// A DNS server that never answers costs the probe its timeout, whichever
// deadline is shorter, over UDP (no answer) and TCP (no accept reply).
func TestDNSProbeSilentServer(t *testing.T) {
	tests := []struct {
		name          string
		server        string
		transport     string
		targetTimeout time.Duration
		ctxTimeout    time.Duration
		want          time.Duration
	}{
		{"udp target timeout", testserver.SilentUDP(t), "udp", 300 * time.Millisecond, 10 * time.Second, 300 * time.Millisecond},
		{"udp caller deadline", testserver.SilentUDP(t), "udp", 10 * time.Second, 200 * time.Millisecond, 200 * time.Millisecond},
		{"tcp target timeout", testserver.Silent(t), "tcp", 300 * time.Millisecond, 10 * time.Second, 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := netTarget(config.KindDNS, tc.targetTimeout)
			tg.DNS = &config.DNSTarget{Server: tc.server, QueryName: "example.test", TransportProtocol: tc.transport}
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
			mfs := gatherProbe(t, res)
			if got := mustValue(t, mfs, "probe_dns_query_succeeded"); got != 0 {
				t.Errorf("probe_dns_query_succeeded = %v", got)
			}
			if got := mustValue(t, mfs, "probe_dns_duration_seconds", "phase", "request"); got < (tc.want - 50*time.Millisecond).Seconds() {
				t.Errorf("probe_dns_duration_seconds{phase=request} = %v, want about %v", got, tc.want)
			}
		})
	}
}

func TestDNSRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]config.DNSTarget{
		"query type":  {Server: "127.0.0.1", QueryName: "x", QueryType: "AX"},
		"query class": {Server: "127.0.0.1", QueryName: "x", QueryClass: "INN"},
		"rcode":       {Server: "127.0.0.1", QueryName: "x", ValidRcodes: []string{"NOPE"}},
		"transport":   {Server: "127.0.0.1", QueryName: "x", TransportProtocol: "quic"},
		"source ip":   {Server: "127.0.0.1", QueryName: "x", SourceIPAddress: "here"},
	} {
		tg := netTarget(config.KindDNS, time.Second)
		tg.DNS = &cfg
		if _, err := New(tg, nil); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
