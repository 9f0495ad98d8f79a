package collectors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func init() { register(config.KindICMP, newICMP) }

// defaultICMPTTL is blackbox_exporter's default ttl.
const defaultICMPTTL = 64

// icmpPayload is the echo data; payload_size pads or cuts it.
var icmpPayload = []byte("Vigil agent ICMP echo probe")

var (
	// icmpID is the echo identifier of raw sockets, as blackbox: the pid,
	// random in a container where the pid is 1 and would clash between
	// agents sharing a network namespace.
	icmpID = func() int {
		if pid := os.Getpid(); pid != 1 {
			return pid & 0xffff
		}
		return rand.IntN(1 << 16)
	}()
	icmpSeqMu sync.Mutex
	// icmpSeq starts at a random offset so agents restarted together do not
	// send in step.
	icmpSeq = uint16(rand.IntN(1 << 16))
)

func nextICMPSeq() int {
	icmpSeqMu.Lock()
	defer icmpSeqMu.Unlock()
	icmpSeq++
	return int(icmpSeq)
}

// errICMPPrivilege is the failure to open any ICMP socket for lack of
// privilege; the error wrapping it says which privilege and how to grant it.
var errICMPPrivilege = errors.New("no permission to send ICMP")

// icmpProber sends one echo request and waits for its reply, as
// blackbox_exporter's icmp prober.
type icmpProber struct {
	cfg      config.ICMPTarget
	sourceIP net.IP
	timeout  time.Duration
	logger   *slog.Logger
}

func newICMP(t config.Target, logger *slog.Logger) (Prober, error) {
	c := t.ICMP
	if c == nil {
		return nil, fmt.Errorf("target %q: kind icmp without an icmp block", t.Name)
	}
	if c.Host == "" {
		return nil, fmt.Errorf("target %q: icmp without a host", t.Name)
	}
	if err := checkIPProtocol(c.IPProtocol); err != nil {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	p := &icmpProber{cfg: *c, timeout: probeTimeout(t), logger: logger}
	if c.SourceIPAddress != "" {
		if p.sourceIP = net.ParseIP(c.SourceIPAddress); p.sourceIP == nil {
			return nil, fmt.Errorf("target %q: source_ip_address %q is not an IP address", t.Name, c.SourceIPAddress)
		}
	}
	// An agent that may not open an ICMP socket is refused at start-up and
	// by --check-config, naming the privilege, rather than failing every
	// probe. The family is the one the host most likely resolves to; other
	// errors (no IPv6, say) are left to the probe, which reports them.
	v6 := c.IPProtocol == "ip6"
	if ip := net.ParseIP(c.Host); ip != nil {
		v6 = ip.To4() == nil
	}
	if v6 && c.DontFragment {
		v6 = false // dont_fragment only matters, and needs raw, for IPv4
	}
	s, err := openICMP(v6, c.DontFragment, p.sourceIP)
	if errors.Is(err, errICMPPrivilege) {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	if err == nil {
		s.close()
	}
	return p, nil
}

func (p *icmpProber) Close() error { return nil }

func (p *icmpProber) Probe(ctx context.Context) Result {
	return blackboxProbe(ctx, p.timeout, p.logger, p.probe)
}

// icmpPhases are probe_icmp_duration_seconds's phases, reported whatever
// the outcome (0 for a phase not reached), as blackbox.
var icmpPhases = []string{"resolve", "setup", "rtt"}

func (p *icmpProber) probe(ctx context.Context, s *sink) (reason string, err error) {
	phase := map[string]time.Duration{}
	hopLimit := -1
	defer func() {
		for _, ph := range icmpPhases {
			s.gauge("probe_icmp_duration_seconds", "Duration of icmp request by phase", phase[ph].Seconds(), "phase", ph)
		}
		if err == nil && hopLimit >= 0 {
			s.gauge("probe_icmp_reply_hop_limit", "Replied packet hop limit (TTL for ipv4)", float64(hopLimit))
		}
	}()

	ip, took, err := resolveTarget(ctx, s, p.cfg.Host, p.cfg.IPProtocol)
	if err != nil {
		return resolveReason(ctx, err), fmt.Errorf("resolving %s: %w", p.cfg.Host, err)
	}
	phase["resolve"] = took

	setupStart := time.Now()
	v6 := ip.To4() == nil
	sock, err := openICMP(v6, p.cfg.DontFragment && !v6, p.sourceIP)
	if err != nil {
		if errors.Is(err, errICMPPrivilege) {
			return ReasonConfig, err
		}
		return classify(err), err
	}
	defer sock.close()
	seq := nextICMPSeq()
	req, want, err := p.messages(v6, sock.privileged, seq)
	if err != nil {
		return ReasonOther, err
	}
	phase["setup"] = time.Since(setupStart)

	rttStart := time.Now()
	if err := sock.send(req, ip, p.ttl(), p.sourceIP); err != nil {
		return classify(err), fmt.Errorf("sending echo request to %s: %w", ip, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := sock.setReadDeadline(dl); err != nil {
			return ReasonOther, fmt.Errorf("setting the socket deadline: %w", err)
		}
	}
	rb := make([]byte, 65536)
	readErrors := 0
	for {
		n, peer, hl, err := sock.read(rb)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return ReasonTimeout, fmt.Errorf("no echo reply from %s (seq %d) within the timeout: %w", ip, seq, err)
			}
			if ctx.Err() != nil {
				return ReasonTimeout, fmt.Errorf("no echo reply from %s: %w", ip, ctx.Err())
			}
			// An ICMP error queued on the socket (say, an unreachable) is
			// not our reply: keep waiting, as blackbox does, but not
			// spinning on a socket that only fails.
			if readErrors++; readErrors > 100 {
				return classify(err), fmt.Errorf("reading the ICMP socket: %w", err)
			}
			p.logger.Debug("reading ICMP socket", "err", err)
			continue
		}
		if !peer.Equal(ip) {
			continue
		}
		got := rb[:n]
		if !sock.privileged && runtime.GOOS == "linux" && n >= 6 {
			// The kernel chose the identifier (and so the checksum) of an
			// unprivileged socket, and delivers only its own replies.
			got[4], got[5] = 0, 0
		}
		if (!sock.privileged && runtime.GOOS == "linux" || v6) && n >= 4 {
			// ICMPv6 checksums cover a pseudo-header the kernel fills in.
			got[2], got[3] = 0, 0
		}
		if bytes.Equal(got, want) {
			phase["rtt"] = time.Since(rttStart)
			hopLimit = hl
			return "", nil
		}
	}
}

// ttl is the configured TTL (hop limit), blackbox's 64 by default.
func (p *icmpProber) ttl() int {
	if p.cfg.TTL > 0 {
		return p.cfg.TTL
	}
	return defaultICMPTTL
}

// messages builds the echo request and the reply it expects, in the form
// read from the socket: on Linux an unprivileged socket's identifier is the
// kernel's, so it is zeroed with the checksum on both sides.
func (p *icmpProber) messages(v6, privileged bool, seq int) (req, want []byte, err error) {
	data := icmpPayload
	if p.cfg.PayloadSize > 0 {
		data = make([]byte, p.cfg.PayloadSize)
		copy(data, icmpPayload)
	}
	reqType, replyType := icmp.Type(ipv4.ICMPTypeEcho), icmp.Type(ipv4.ICMPTypeEchoReply)
	if v6 {
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	body := &icmp.Echo{ID: icmpID, Seq: seq, Data: data}
	req, err = (&icmp.Message{Type: reqType, Body: body}).Marshal(nil)
	if err != nil {
		return nil, nil, fmt.Errorf("building the echo request: %w", err)
	}
	idUnknown := !privileged && runtime.GOOS == "linux"
	if idUnknown {
		body.ID = 0
	}
	want, err = (&icmp.Message{Type: replyType, Body: body}).Marshal(nil)
	if err != nil {
		return nil, nil, fmt.Errorf("building the expected reply: %w", err)
	}
	if idUnknown || v6 {
		want[2], want[3] = 0, 0
	}
	return req, want, nil
}

// icmpSocket is one probe's socket: an ICMP datagram ("ping") socket, a
// raw ICMP socket, or for dont_fragment a raw IPv4 socket that writes its
// own header.
type icmpSocket struct {
	conn       *icmp.PacketConn // datagram or raw ICMP
	raw        *ipv4.RawConn    // dont_fragment only
	privileged bool
	v6         bool
	hopLimitOK bool // the kernel reports the reply's TTL / hop limit
}

// openICMP opens the socket blackbox would: an unprivileged ICMP datagram
// socket where net.ipv4.ping_group_range allows the process's group, else a
// raw socket (CAP_NET_RAW); dont_fragment needs a raw IPv4 socket. When
// neither is allowed the error wraps errICMPPrivilege and names what is
// missing.
func openICMP(v6, dontFragment bool, src net.IP) (*icmpSocket, error) {
	addr := "0.0.0.0"
	if v6 {
		addr = "::"
	}
	if src != nil {
		addr = src.String()
	}
	s := &icmpSocket{v6: v6, hopLimitOK: true}
	if dontFragment {
		pc, err := net.ListenPacket("ip4:icmp", addr)
		if err != nil {
			return nil, icmpOpenError(err, nil, true)
		}
		raw, err := ipv4.NewRawConn(pc)
		if err != nil {
			pc.Close()
			return nil, fmt.Errorf("opening a raw IPv4 socket: %w", err)
		}
		s.raw, s.privileged = raw, true
		if err := raw.SetControlMessage(ipv4.FlagTTL, true); err != nil {
			s.hopLimitOK = false
		}
		return s, nil
	}
	dgram, rawNet := "udp4", "ip4:icmp"
	if v6 {
		dgram, rawNet = "udp6", "ip6:ipv6-icmp"
	}
	var dgramErr error
	// Unprivileged ICMP sockets exist on Linux and Darwin only.
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		s.conn, dgramErr = icmp.ListenPacket(dgram, addr)
	}
	if s.conn == nil {
		conn, err := icmp.ListenPacket(rawNet, addr)
		if err != nil {
			return nil, icmpOpenError(err, dgramErr, false)
		}
		s.conn, s.privileged = conn, true
	}
	if v6 {
		if err := s.conn.IPv6PacketConn().SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
			s.hopLimitOK = false
		}
	} else if err := s.conn.IPv4PacketConn().SetControlMessage(ipv4.FlagTTL, true); err != nil {
		s.hopLimitOK = false
	}
	return s, nil
}

// icmpOpenError explains a failure to open the raw socket (rawErr), after
// the datagram socket failed with dgramErr (nil if not tried).
func icmpOpenError(rawErr, dgramErr error, dontFragment bool) error {
	if !errors.Is(rawErr, os.ErrPermission) || dgramErr != nil && !errors.Is(dgramErr, os.ErrPermission) {
		if dgramErr != nil {
			return fmt.Errorf("opening an ICMP socket: unprivileged: %v; raw: %w", dgramErr, rawErr)
		}
		return fmt.Errorf("opening a raw ICMP socket: %w", rawErr)
	}
	return readICMPPrivilege().missing(dontFragment)
}

func (s *icmpSocket) close() {
	if s.raw != nil {
		s.raw.Close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
}

func (s *icmpSocket) send(msg []byte, ip net.IP, ttl int, src net.IP) error {
	if s.raw != nil {
		h := &ipv4.Header{Version: ipv4.Version, Len: ipv4.HeaderLen, Protocol: 1, TotalLen: ipv4.HeaderLen + len(msg),
			TTL: ttl, Flags: ipv4.DontFragment, Dst: ip, Src: src}
		return s.raw.WriteTo(h, msg, nil)
	}
	if s.v6 {
		_ = s.conn.IPv6PacketConn().SetHopLimit(ttl)
	} else {
		_ = s.conn.IPv4PacketConn().SetTTL(ttl)
	}
	var dst net.Addr = &net.IPAddr{IP: ip}
	if !s.privileged {
		dst = &net.UDPAddr{IP: ip}
	}
	_, err := s.conn.WriteTo(msg, dst)
	return err
}

func (s *icmpSocket) setReadDeadline(t time.Time) error {
	if s.raw != nil {
		return s.raw.SetReadDeadline(t)
	}
	return s.conn.SetReadDeadline(t)
}

// read reads one ICMP message into b: its length, sender and TTL or hop
// limit (-1 when the kernel does not report it).
func (s *icmpSocket) read(b []byte) (n int, peer net.IP, hopLimit int, err error) {
	hopLimit = -1
	switch {
	case s.raw != nil:
		h, p, cm, err := s.raw.ReadFrom(b)
		if err != nil {
			return 0, nil, -1, err
		}
		n = copy(b, p)
		peer = h.Src
		if cm != nil && s.hopLimitOK {
			hopLimit = cm.TTL
		}
	case s.v6:
		var cm *ipv6.ControlMessage
		var addr net.Addr
		n, cm, addr, err = s.conn.IPv6PacketConn().ReadFrom(b)
		if err != nil {
			return 0, nil, -1, err
		}
		peer = addrIP(addr)
		if cm != nil && s.hopLimitOK {
			hopLimit = cm.HopLimit
		}
	default:
		var cm *ipv4.ControlMessage
		var addr net.Addr
		n, cm, addr, err = s.conn.IPv4PacketConn().ReadFrom(b)
		if err != nil {
			return 0, nil, -1, err
		}
		peer = addrIP(addr)
		if cm != nil && s.hopLimitOK {
			hopLimit = cm.TTL
		}
	}
	return n, peer, hopLimit, nil
}

func addrIP(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.IPAddr:
		return a.IP
	case *net.UDPAddr:
		return a.IP
	}
	return nil
}

// icmpPrivilege is what decides which ICMP sockets a Linux process may
// open: the net.ipv4.ping_group_range sysctl (which also governs IPv6)
// against the process's groups for datagram sockets, CAP_NET_RAW for raw
// ones.
type icmpPrivilege struct {
	pingGroupRange string // the sysctl's text, "1 0" when disabled; "" if unreadable
	groups         []int  // effective and supplementary group IDs
	netRaw         bool   // CAP_NET_RAW is in the effective set
}

// readICMPPrivilege reads the process's privilege from /proc.
func readICMPPrivilege() icmpPrivilege {
	var p icmpPrivilege
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); err == nil {
		p.pingGroupRange = strings.Join(strings.Fields(string(b)), " ")
	}
	p.groups = append(p.groups, os.Getegid())
	if gs, err := os.Getgroups(); err == nil {
		p.groups = append(p.groups, gs...)
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		p.netRaw = hasNetRaw(string(b))
	}
	return p
}

// capNetRaw is CAP_NET_RAW's bit in the capability sets.
const capNetRaw = 13

// hasNetRaw reads the CapEff line of /proc/self/status.
func hasNetRaw(status string) bool {
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<capNetRaw) != 0
		}
	}
	return false
}

// datagramAllowed reports whether the sysctl's range includes one of the
// process's groups.
func (p icmpPrivilege) datagramAllowed() bool {
	f := strings.Fields(p.pingGroupRange)
	if len(f) != 2 {
		return false
	}
	lo, err1 := strconv.ParseUint(f[0], 10, 32)
	hi, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return false
	}
	for _, g := range p.groups {
		if g >= 0 && uint64(g) >= lo && uint64(g) <= hi {
			return true
		}
	}
	return false
}

// missing is the error of a process that may open neither socket.
func (p icmpPrivilege) missing(dontFragment bool) error {
	groups := make([]string, len(p.groups))
	for i, g := range p.groups {
		groups[i] = strconv.Itoa(g)
	}
	rangeText := strconv.Quote(p.pingGroupRange)
	if p.pingGroupRange == "" {
		rangeText = "unreadable"
	}
	if dontFragment {
		return fmt.Errorf("%w: dont_fragment needs a raw socket, which needs the CAP_NET_RAW capability (e.g. docker run --cap-add NET_RAW, or setcap cap_net_raw+ep on the agent's binary)", errICMPPrivilege)
	}
	return fmt.Errorf("%w: the agent has neither the CAP_NET_RAW capability (raw ICMP sockets) nor a group in sysctl net.ipv4.ping_group_range (unprivileged ICMP sockets; it is %s, the agent's groups are %s): grant CAP_NET_RAW (e.g. docker run --cap-add NET_RAW, or setcap cap_net_raw+ep on the agent's binary) or set net.ipv4.ping_group_range to include group %s",
		errICMPPrivilege, rangeText, strings.Join(groups, ","), groups[0])
}
