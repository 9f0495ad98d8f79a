package collectors

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// hasIPv6Loopback reports whether ::1 is configured (containers may lack it).
func hasIPv6Loopback(t *testing.T) bool {
	t.Helper()
	l, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// TestICMPProbe pings the loopback addresses for real, with whichever
// socket this process may open (raw as root, a datagram socket where
// ping_group_range allows).
func TestICMPProbe(t *testing.T) {
	tests := []struct {
		name      string
		cfg       config.ICMPTarget
		wantProto float64
		wantHash  float64
	}{
		{name: "127.0.0.1", cfg: config.ICMPTarget{Host: "127.0.0.1"}, wantProto: 4, wantHash: fnv1a32(net.IPv4(127, 0, 0, 1).To4())},
		{name: "localhost ip4", cfg: config.ICMPTarget{Host: "localhost", IPProtocol: "ip4"}, wantProto: 4, wantHash: fnv1a32(net.IPv4(127, 0, 0, 1).To4())},
		{name: "payload_size and ttl", cfg: config.ICMPTarget{Host: "127.0.0.1", PayloadSize: 1400, TTL: 3}, wantProto: 4, wantHash: fnv1a32(net.IPv4(127, 0, 0, 1).To4())},
		{name: "dont_fragment", cfg: config.ICMPTarget{Host: "127.0.0.1", DontFragment: true, PayloadSize: 100}, wantProto: 4, wantHash: fnv1a32(net.IPv4(127, 0, 0, 1).To4())},
		{name: "source_ip_address", cfg: config.ICMPTarget{Host: "127.0.0.1", SourceIPAddress: "127.0.0.1"}, wantProto: 4, wantHash: fnv1a32(net.IPv4(127, 0, 0, 1).To4())},
	}
	if hasIPv6Loopback(t) {
		tests = append(tests, struct {
			name      string
			cfg       config.ICMPTarget
			wantProto float64
			wantHash  float64
		}{name: "::1", cfg: config.ICMPTarget{Host: "::1"}, wantProto: 6, wantHash: fnv1a32(net.IPv6loopback)})
	} else {
		t.Log("no ::1 on this host: IPv6 is not pinged")
	}
	if !icmpAllowed() {
		t.Fatalf("this process may open no ICMP socket: %v", readICMPPrivilege().missing(false))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.DontFragment && !readICMPPrivilege().netRaw {
				t.Fatalf("dont_fragment needs CAP_NET_RAW, which this process lacks")
			}
			tg := netTarget(config.KindICMP, 3*time.Second)
			tg.ICMP = &tc.cfg
			res := mustProber(t, tg).Probe(t.Context())
			if !res.Success {
				t.Fatalf("ping %s failed: reason %q: %v", tc.cfg.Host, res.Reason, res.Err)
			}
			mfs := gatherProbe(t, res)
			want := []string{"probe_dns_lookup_time_seconds", "probe_duration_seconds", "probe_icmp_duration_seconds", "probe_icmp_reply_hop_limit",
				"probe_ip_addr_hash", "probe_ip_protocol", "probe_success"}
			if got := familyNames(mfs); !slices.Equal(got, want) {
				t.Errorf("families %v, want %v", got, want)
			}
			// The loopback's replies leave with Linux's default TTL.
			if got := mustValue(t, mfs, "probe_icmp_reply_hop_limit"); got != 64 {
				t.Errorf("probe_icmp_reply_hop_limit = %v, want 64", got)
			}
			for _, ph := range icmpPhases {
				if v := mustValue(t, mfs, "probe_icmp_duration_seconds", "phase", ph); v < 0 || ph == "rtt" && v == 0 || v > 3 {
					t.Errorf("probe_icmp_duration_seconds{phase=%q} = %v", ph, v)
				}
			}
			if got := mustValue(t, mfs, "probe_ip_protocol"); got != tc.wantProto {
				t.Errorf("probe_ip_protocol = %v, want %v", got, tc.wantProto)
			}
			if got := mustValue(t, mfs, "probe_ip_addr_hash"); got != tc.wantHash {
				t.Errorf("probe_ip_addr_hash = %v, want %v", got, tc.wantHash)
			}
		})
	}
}

// icmpAllowed reports whether the test process can open some ICMP socket.
func icmpAllowed() bool {
	s, err := openICMP(false, false, nil)
	if err != nil {
		return false
	}
	s.close()
	return true
}

// An echo request to an address nothing answers (TEST-NET-3, RFC 5737)
// fails by the probe's timeout; where the network says at once that it is
// unreachable, sooner.
func TestICMPProbeNoReply(t *testing.T) {
	if !icmpAllowed() {
		t.Fatalf("this process may open no ICMP socket: %v", readICMPPrivilege().missing(false))
	}
	const timeout = 500 * time.Millisecond
	tg := netTarget(config.KindICMP, timeout)
	tg.ICMP = &config.ICMPTarget{Host: "203.0.113.7"}
	start := time.Now()
	res := mustProber(t, tg).Probe(t.Context())
	took := time.Since(start)
	if res.Success {
		t.Fatalf("203.0.113.7 answered a ping")
	}
	if res.Reason != ReasonTimeout && res.Reason != ReasonConnect {
		t.Errorf("reason %q (%v), want timeout or connect", res.Reason, res.Err)
	}
	if took > timeout+timingSlack {
		t.Errorf("probe took %v, timeout %v", took, timeout)
	}
	t.Logf("after %v: reason %s: %v", took, res.Reason, res.Err)
	mfs := gatherProbe(t, res)
	if _, ok := mfs["probe_icmp_reply_hop_limit"]; ok {
		t.Errorf("probe_icmp_reply_hop_limit reported without a reply")
	}
	if got := mustValue(t, mfs, "probe_icmp_duration_seconds", "phase", "rtt"); got != 0 {
		t.Errorf("probe_icmp_duration_seconds{phase=rtt} = %v without a reply", got)
	}
	if got := mustValue(t, mfs, "probe_success"); got != 0 {
		t.Errorf("probe_success = %v", got)
	}
}

// The privilege decision, from the sysctl's text, the process's groups and
// its capability set, and the error naming what is missing.
func TestICMPPrivilege(t *testing.T) {
	const (
		rootCaps  = "CapEff:\t000001ffffffffff\n"
		noNetRaw  = "CapEff:\t000001ffffffdfff\n" // bit 13 cleared
		onlyRaw   = "CapEff:\t0000000000002000\n"
		noCaps    = "CapEff:\t0000000000000000\n"
		statusFmt = "Name:\tagent\nUmask:\t0022\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n%sCapBnd:\t000001ffffffffff\n"
	)
	tests := []struct {
		name       string
		rangeText  string
		groups     []int
		status     string
		wantDgram  bool
		wantNetRaw bool
	}{
		{"disabled range, root", "1 0", []int{0}, rootCaps, false, true},
		{"disabled range, no caps", "1 0", []int{1000}, noCaps, false, false},
		{"only CAP_NET_RAW", "1 0", []int{1000}, onlyRaw, false, true},
		{"every capability but NET_RAW", "1 0", []int{0}, noNetRaw, false, false},
		{"range covers every group", "0 2147483647", []int{1000}, noCaps, true, false},
		{"range covers a supplementary group", "100 200", []int{1000, 150}, noCaps, true, false},
		{"range misses", "100 200", []int{1000, 99, 201}, noCaps, false, false},
		{"unreadable sysctl", "", []int{0}, noCaps, false, false},
		{"no CapEff line", "0 0", []int{0}, "Name:\tagent\n", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status := tc.status
			if strings.HasPrefix(status, "CapEff") {
				status = fmt.Sprintf(statusFmt, status)
			}
			p := icmpPrivilege{pingGroupRange: tc.rangeText, groups: tc.groups, netRaw: hasNetRaw(status)}
			if p.netRaw != tc.wantNetRaw || p.datagramAllowed() != tc.wantDgram {
				t.Fatalf("netRaw %v, datagram %v; want %v, %v", p.netRaw, p.datagramAllowed(), tc.wantNetRaw, tc.wantDgram)
			}
			err := p.missing(false)
			if !errors.Is(err, errICMPPrivilege) {
				t.Errorf("missing() = %v, want errICMPPrivilege", err)
			}
			msg := err.Error()
			wantRange := fmt.Sprintf("%q", tc.rangeText)
			if tc.rangeText == "" {
				wantRange = "unreadable"
			}
			for _, want := range []string{"CAP_NET_RAW", "net.ipv4.ping_group_range", "it is " + wantRange, fmt.Sprintf("group %d", tc.groups[0])} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %s", want, msg)
				}
			}
			if df := p.missing(true).Error(); !strings.Contains(df, "dont_fragment") || !strings.Contains(df, "CAP_NET_RAW") || strings.Contains(df, "ping_group_range") {
				t.Errorf("dont_fragment error: %s", df)
			}
		})
	}
}

// TestICMPWithoutPrivilege runs the prober in a process that really lacks
// both privileges: as root, the test binary re-runs itself as nobody
// (setuid drops every capability), so unless ping_group_range admits
// nobody's group, the constructor — which the agent's --check-config and
// start-up run — must refuse the target naming the privilege.
func TestICMPWithoutPrivilege(t *testing.T) {
	if os.Geteuid() != 0 {
		// Not root: this process is the unprivileged one.
		_, err := New(icmpTestTarget(), nil)
		if p := readICMPPrivilege(); !p.netRaw && !p.datagramAllowed() {
			if !errors.Is(err, errICMPPrivilege) {
				t.Fatalf("New without privilege: %v, want the privilege error", err)
			}
		} else if err != nil {
			t.Fatalf("New with privilege (%+v): %v", p, err)
		}
		return
	}
	const nobody = 65534
	nobodyAllowed := icmpPrivilege{pingGroupRange: readICMPPrivilege().pingGroupRange, groups: []int{nobody}}.datagramAllowed()
	bin := worldExecutableCopy(t)
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^TestICMPHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "VIGIL_ICMP_HELPER=1")
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, out)
	}
	got := string(out)
	t.Logf("as nobody: %s", got)
	if nobodyAllowed {
		if !strings.Contains(got, "NEW OK") {
			t.Fatalf("ping_group_range admits nobody, yet: %s", got)
		}
		return
	}
	for _, want := range []string{"NEW ERROR", errICMPPrivilege.Error(), "CAP_NET_RAW", "net.ipv4.ping_group_range", "agent's groups are 65534", `target "ping"`} {
		if !strings.Contains(got, want) {
			t.Errorf("helper output lacks %q:\n%s", want, got)
		}
	}
}

func icmpTestTarget() config.Target {
	tg := netTarget(config.KindICMP, time.Second)
	tg.Name = "ping"
	tg.ICMP = &config.ICMPTarget{Host: "127.0.0.1"}
	return tg
}

// TestICMPHelperProcess is the unprivileged side of
// TestICMPWithoutPrivilege; it does nothing in a normal run.
func TestICMPHelperProcess(t *testing.T) {
	switch os.Getenv("VIGIL_ICMP_HELPER") {
	case "1":
		if _, err := New(icmpTestTarget(), nil); err != nil {
			fmt.Printf("NEW ERROR: %v\n", err)
			return
		}
		fmt.Println("NEW OK")
	case "netns-setup":
		icmpNetnsSetup(t)
	case "netns-probe":
		icmpNetnsProbe(t)
	}
}

// TestICMPUnprivilegedSocket pings through an unprivileged ICMP datagram
// socket, whose identifier and checksum the kernel owns, without touching
// the host's sysctl: as root, the test binary re-runs itself in a new
// network namespace, brings its loopback up, opens ping_group_range there
// to every group, and re-runs itself once more as nobody (no
// capabilities), which then pings 127.0.0.1 and ::1.
func TestICMPUnprivilegedSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		p := readICMPPrivilege()
		if !p.datagramAllowed() {
			t.Fatalf("not root, and ping_group_range %q excludes groups %v: no way to open a datagram ICMP socket here", p.pingGroupRange, p.groups)
		}
		s, err := openICMP(false, false, nil)
		if err != nil || s.privileged {
			t.Fatalf("ping_group_range admits this process, yet openICMP: %v (privileged %v)", err, s != nil && s.privileged)
		}
		s.close()
		return // TestICMPProbe pinged through this socket
	}
	hostRange, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	bin := worldExecutableCopy(t)
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^TestICMPHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "VIGIL_ICMP_HELPER=netns-setup", "VIGIL_ICMP_BIN="+bin)
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	t.Logf("in a new network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	got := string(out)
	for _, want := range []string{"SOCKET privileged=false", "PING 127.0.0.1 success=true hop_limit=64"} {
		if !strings.Contains(got, want) {
			t.Errorf("helper output lacks %q", want)
		}
	}
	if strings.Contains(got, "PING ::1") && !strings.Contains(got, "PING ::1 success=true hop_limit=64") {
		t.Errorf("ping ::1 over the datagram socket failed")
	}
	if after, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); string(after) != string(hostRange) {
		t.Errorf("the host's ping_group_range changed: %q, was %q", after, hostRange)
	}
}

// worldExecutableCopy copies the test binary where nobody may run it.
func worldExecutableCopy(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "collectors.test")
	testserver.CopyExecutable(t, self, bin)
	return bin
}

// icmpNetnsSetup runs as root in a fresh network namespace: loopback up,
// every group admitted to ICMP datagram sockets, then the probe as nobody.
func icmpNetnsSetup(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 2147483647"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), os.Getenv("VIGIL_ICMP_BIN"), "-test.run=^TestICMPHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "VIGIL_ICMP_HELPER=netns-probe")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	fmt.Printf("%s", out)
	if err != nil {
		t.Fatalf("probe as nobody: %v", err)
	}
}

// icmpNetnsProbe runs as nobody: it may open only a datagram socket.
func icmpNetnsProbe(t *testing.T) {
	s, err := openICMP(false, false, nil)
	if err != nil {
		t.Fatalf("openICMP: %v", err)
	}
	fmt.Printf("SOCKET privileged=%v\n", s.privileged)
	s.close()
	hosts := []string{"127.0.0.1"}
	if l, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		l.Close()
		hosts = append(hosts, "::1")
	}
	for _, h := range hosts {
		tg := icmpTestTarget()
		tg.ICMP.Host = h
		res := mustProber(t, tg).Probe(t.Context())
		hop, _ := sampleValue(gatherProbe(t, res), "probe_icmp_reply_hop_limit")
		fmt.Printf("PING %s success=%v hop_limit=%v err=%v\n", h, res.Success, hop, res.Err)
	}
}
