package collectors

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func init() { register(config.KindTCP, newTCP) }

// netProbeTimeout bounds a probe whose target has no timeout and whose
// caller passed a context without a deadline: every network call has one.
const netProbeTimeout = 5 * time.Second

// tcpProber dials an address and, when configured, completes a TLS
// handshake and runs a query_response dialogue, as blackbox_exporter's tcp
// prober.
type tcpProber struct {
	name    string
	cfg     config.TCPTarget
	timeout time.Duration
	logger  *slog.Logger
}

func newTCP(t config.Target, logger *slog.Logger) (Prober, error) {
	if t.TCP == nil {
		return nil, fmt.Errorf("target %q: kind tcp without a tcp block", t.Name)
	}
	if _, _, err := net.SplitHostPort(t.TCP.Address); err != nil {
		return nil, fmt.Errorf("target %q: tcp address %q: %w", t.Name, t.TCP.Address, err)
	}
	if err := checkIPProtocol(t.TCP.IPProtocol); err != nil {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	return &tcpProber{name: t.Name, cfg: *t.TCP, timeout: probeTimeout(t), logger: logger}, nil
}

func (p *tcpProber) Close() error { return nil }

func (p *tcpProber) Probe(ctx context.Context) Result {
	return blackboxProbe(ctx, p.timeout, p.logger, p.probe)
}

func (p *tcpProber) probe(ctx context.Context, s *sink) (reason string, err error) {
	// Registered by blackbox before dialing, whatever the outcome: 1 only
	// when an expect step found no matching line (the only body_mismatch).
	defer func() {
		s.gauge("probe_failed_due_to_regex", "Indicates if probe failed due to regex", boolToFloat(reason == ReasonBodyMismatch))
	}()
	host, port, _ := net.SplitHostPort(p.cfg.Address)
	ip, _, err := resolveTarget(ctx, s, host, p.cfg.IPProtocol)
	if err != nil {
		return resolveReason(ctx, err), fmt.Errorf("resolving %s: %w", host, err)
	}
	// After resolution, as blackbox's dialTCP: a bad CA file still leaves
	// the address reported.
	useTLS := p.cfg.TLS || p.cfg.TLSConfig.Enabled
	var tlsCfg *tls.Config
	if useTLS {
		if tlsCfg, err = probeTLSConfig(p.cfg.TLSConfig); err != nil {
			return ReasonConfig, err
		}
	}
	conn, err := dialResolved(ctx, &net.Dialer{}, ip, port)
	if err != nil {
		return classify(err), fmt.Errorf("%s: %w", p.cfg.Address, err)
	}
	defer conn.Close()
	// The deadline covers the handshake and every read and write of the
	// dialogue, also with a peer that accepts and then never speaks.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if useTLS {
		if tlsCfg.ServerName == "" {
			tlsCfg.ServerName = host
		}
		tc, reason, err := p.handshake(ctx, conn, tlsCfg, s)
		if err != nil {
			return reason, err
		}
		conn = tc
	}
	return p.dialogue(ctx, conn, host, s)
}

// handshake upgrades conn to TLS and reports the peer's certificates.
func (p *tcpProber) handshake(ctx context.Context, conn net.Conn, cfg *tls.Config, s *sink) (*tls.Conn, string, error) {
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		// A peer that hangs up or answers in another protocol fails the
		// handshake as surely as a bad certificate does.
		reason := ReasonTLS
		if ctx.Err() != nil || classify(err) == ReasonTimeout {
			reason = ReasonTimeout
		}
		return nil, reason, fmt.Errorf("TLS handshake with %s: %w", p.cfg.Address, err)
	}
	cs := tc.ConnectionState()
	addTLSMetrics(s, &cs, false)
	return tc, "", nil
}

// dialogue runs the query_response steps as blackbox_exporter's tcp
// prober: read lines until one matches expect, send the (expanded) line,
// upgrade with starttls.
func (p *tcpProber) dialogue(ctx context.Context, conn net.Conn, host string, s *sink) (string, error) {
	scanner := bufio.NewScanner(conn)
	for i, qr := range p.cfg.QueryResponse {
		send := qr.Send
		if re := qr.Expect.Regexp; re != nil {
			var match []int
			for scanner.Scan() {
				if match = re.FindSubmatchIndex(scanner.Bytes()); match != nil {
					break
				}
			}
			if err := scanner.Err(); err != nil {
				return httpReason(ctx, err), fmt.Errorf("%s: query_response[%d]: reading: %w", p.cfg.Address, i, err)
			}
			if match == nil {
				return ReasonBodyMismatch, fmt.Errorf("%s: query_response[%d]: no line matched %q before the connection closed", p.cfg.Address, i, re.String())
			}
			line := scanner.Bytes()
			send = string(re.Expand(nil, []byte(send), line, match))
			if len(qr.Labels) > 0 {
				kv := make([]string, 0, 2*len(qr.Labels))
				for _, l := range qr.Labels {
					kv = append(kv, l.Name, string(re.Expand(nil, []byte(l.Value), line, match)))
				}
				s.gauge("probe_expect_info", "Explicit content matched", 1, kv...)
			}
		}
		if send != "" {
			if _, err := fmt.Fprintf(conn, "%s\n", send); err != nil {
				return httpReason(ctx, err), fmt.Errorf("%s: query_response[%d]: sending: %w", p.cfg.Address, i, err)
			}
		}
		if qr.StartTLS {
			cfg, err := probeTLSConfig(p.cfg.TLSConfig)
			if err != nil {
				return ReasonConfig, err
			}
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
			tc, reason, err := p.handshake(ctx, conn, cfg, s)
			if err != nil {
				return reason, fmt.Errorf("query_response[%d] starttls: %w", i, err)
			}
			conn = tc
			scanner = bufio.NewScanner(conn)
		}
	}
	return "", nil
}

// probeTimeout is the target's timeout, or netProbeTimeout when unset.
func probeTimeout(t config.Target) time.Duration {
	if d := time.Duration(t.Timeout); d > 0 {
		return d
	}
	return netProbeTimeout
}

// probeResolver resolves target names; tests point it at a DNS server that
// never answers.
var probeResolver = net.DefaultResolver

func checkIPProtocol(p string) error {
	switch p {
	case "", "ip4", "ip6":
		return nil
	}
	return fmt.Errorf("ip_protocol %q: want ip4, ip6 or empty", p)
}

// dialIPProtocol dials a TCP host:port. With ip_protocol ip4 or ip6 it
// resolves the name itself and dials an address of that family, falling back
// to the other family when the name has none (blackbox_exporter's default
// ip_protocol_fallback). The lookup goes through net.Resolver, so httptrace
// sees DNSStart/DNSDone either way.
func dialIPProtocol(ctx context.Context, d *net.Dialer, addr, ipProtocol string) (net.Conn, error) {
	if ipProtocol == "" {
		return d.DialContext(ctx, "tcp", addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) != nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	ips, err := probeResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	ip, ok := chooseIP(ips, ipProtocol)
	if !ok {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
}

// chooseIP picks the first address of the preferred family, else the first
// address at all.
func chooseIP(ips []net.IPAddr, ipProtocol string) (net.IP, bool) {
	if len(ips) == 0 {
		return nil, false
	}
	for _, a := range ips {
		is4 := a.IP.To4() != nil
		if (ipProtocol == "ip4") == is4 {
			return a.IP, true
		}
	}
	return ips[0].IP, true
}

// probeTLSConfig builds a client TLS configuration. Files are read on every
// probe so a rotated certificate or CA is picked up without a reload.
func probeTLSConfig(c config.TLSConfig) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // opt-in per target
		MinVersion:         tls.VersionTLS12,
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading ca_file %s: %w", c.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading client certificate %s / key %s: %w", c.CertFile, c.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// addTLSMetrics reports the peer's certificates and protocol version with
// blackbox_exporter's names.
// The http prober also reports the cipher; blackbox's tcp prober does not.
func addTLSMetrics(s *sink, cs *tls.ConnectionState, withCipher bool) {
	if len(cs.PeerCertificates) > 0 {
		earliest := cs.PeerCertificates[0].NotAfter
		for _, c := range cs.PeerCertificates[1:] {
			if c.NotAfter.Before(earliest) {
				earliest = c.NotAfter
			}
		}
		s.gauge("probe_ssl_earliest_cert_expiry", "Returns the earliest expiry of the peer's certificates in unixtime.", float64(earliest.Unix()))
	}
	// The chain that expires last is the one a client can keep using
	// longest; only verified chains count, so none with insecure_skip_verify.
	var last time.Time
	for _, chain := range cs.VerifiedChains {
		var chainExpiry time.Time
		for i, c := range chain {
			if i == 0 || c.NotAfter.Before(chainExpiry) {
				chainExpiry = c.NotAfter
			}
		}
		if chainExpiry.After(last) {
			last = chainExpiry
		}
	}
	if !last.IsZero() {
		s.gauge("probe_ssl_last_chain_expiry_timestamp_seconds", "Returns the last SSL chain expiry in timestamp.", float64(last.Unix()))
	}
	s.gauge("probe_tls_version_info", "Returns the TLS version used.", 1, "version", tls.VersionName(cs.Version))
	if withCipher {
		s.gauge("probe_tls_cipher_info", "Returns the TLS cipher negotiated during handshake", 1, "cipher", tls.CipherSuiteName(cs.CipherSuite))
	}
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		sum := sha256.Sum256(leaf.Raw)
		s.gauge("probe_ssl_last_chain_info", "Contains SSL leaf certificate information", 1,
			"fingerprint_sha256", hex.EncodeToString(sum[:]),
			"subject", leaf.Subject.String(),
			"issuer", leaf.Issuer.String(),
			"subjectalternative", strings.Join(leaf.DNSNames, ","),
			// %x of the bytes keeps leading zeros, which big.Int.Text(16) drops.
			"serialnumber", fmt.Sprintf("%x", leaf.SerialNumber.Bytes()))
	}
}
