package collectors

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"time"
)

// resolveTarget resolves a probe's host as blackbox_exporter's
// chooseProtocol does with its default ip_protocol_fallback: the first
// address of the preferred family (ip6 unless ip_protocol is ip4), else the
// first address of the other. It reports blackbox's three resolution
// families whatever the outcome, so a failed lookup still shows its cost.
func resolveTarget(ctx context.Context, s *sink, host, ipProtocol string) (net.IP, time.Duration, error) {
	start := time.Now()
	ip, err := lookupPreferred(ctx, host, ipProtocol)
	took := time.Since(start)
	var proto, hash float64
	if err == nil {
		proto, hash = 6, ipHash(ip)
		if ip.To4() != nil {
			proto = 4
		}
	}
	s.gauge("probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds", took.Seconds())
	s.gauge("probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6", proto)
	s.gauge("probe_ip_addr_hash", "Specifies the hash of IP address. It's useful to detect if the IP address changes.", hash)
	return ip, took, err
}

func lookupPreferred(ctx context.Context, host, ipProtocol string) (net.IP, error) {
	if ipProtocol == "" {
		ipProtocol = "ip6" // blackbox_exporter's default
	}
	// A literal resolves to itself without a query, as in net.Resolver.
	ips, err := probeResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	ip, ok := chooseIP(ips, ipProtocol)
	if !ok {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return ip, nil
}

// ipHash is blackbox_exporter's probe_ip_addr_hash: FNV-1a (32 bit) of the
// 4-byte form of an IPv4 address, else of the 16-byte form.
func ipHash(ip net.IP) float64 {
	h := fnv.New32a()
	if v4 := ip.To4(); v4 != nil {
		h.Write(v4)
	} else {
		h.Write(ip.To16())
	}
	return float64(h.Sum32())
}

// dialResolved dials port on an address resolveTarget chose.
func dialResolved(ctx context.Context, d *net.Dialer, ip net.IP, port string) (net.Conn, error) {
	network := "tcp6"
	if ip.To4() != nil {
		network = "tcp4"
	}
	conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", net.JoinHostPort(ip.String(), port), err)
	}
	return conn, nil
}

// resolveReason classifies a lookup error; an expired probe deadline is a
// timeout whatever error the resolver surfaced for it.
func resolveReason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return ReasonTimeout
	}
	return classify(err)
}
