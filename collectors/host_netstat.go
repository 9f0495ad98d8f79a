package collectors

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// netstatFields is node_exporter's default --collector.netstat.fields:
// the TCP, UDP, IP and ICMP counters its dashboards chart.
var netstatFields = regexp.MustCompile(`^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$`)

// collectNetstat is node_exporter's netstat collector: the selected fields
// of /proc/net/netstat, snmp and snmp6 as untyped node_netstat_<Proto>_<Field>.
// They are parsed by hand as node_exporter does (procfs' parsers name
// fewer fields).
func (p *hostProber) collectNetstat(_ context.Context, s *sink) error {
	stats, err := readNetStats(filepath.Join(p.procPath, "net", "netstat"))
	if err != nil {
		return fmt.Errorf("couldn't get netstats: %w", err)
	}
	snmp, err := readNetStats(filepath.Join(p.procPath, "net", "snmp"))
	if err != nil {
		return fmt.Errorf("couldn't get SNMP stats: %w", err)
	}
	snmp6, err := readSNMP6(filepath.Join(p.procPath, "net", "snmp6"))
	if err != nil {
		return fmt.Errorf("couldn't get SNMP6 stats: %w", err)
	}
	maps.Copy(stats, snmp)
	maps.Copy(stats, snmp6)
	for proto, fields := range stats {
		for name, value := range fields {
			key := proto + "_" + name
			if !netstatFields.MatchString(key) {
				continue
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("invalid value %s of %s in netstats: %w", value, key, err)
			}
			s.add(prometheus.UntypedValue, "node_netstat_"+key, "Statistic "+proto+name+".", v)
		}
	}
	return nil
}

func readNetStats(path string) (map[string]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseNetStats(f, path)
}

// parseNetStats reads the pairs of lines of /proc/net/netstat and snmp:
// "Tcp: RtoAlgorithm RtoMin ..." then "Tcp: 1 200 ...".
func parseNetStats(r io.Reader, path string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line += 2 {
		names := strings.Split(sc.Text(), " ")
		if !sc.Scan() {
			return nil, fmt.Errorf("%s line %d: a header without its values", path, line)
		}
		values := strings.Split(sc.Text(), " ")
		if len(names) != len(values) || !strings.HasSuffix(names[0], ":") {
			return nil, fmt.Errorf("%s line %d: %d names but %d values", path, line, len(names), len(values))
		}
		proto := strings.TrimSuffix(names[0], ":")
		out[proto] = map[string]string{}
		for i := 1; i < len(names); i++ {
			out[proto][names[i]] = values[i]
		}
	}
	return out, sc.Err()
}

// readSNMP6 reads /proc/net/snmp6 ("Ip6InReceives  123"), absent without IPv6.
func readSNMP6(path string) (map[string]map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		st := strings.Fields(sc.Text())
		if len(st) < 2 {
			continue
		}
		if i := strings.Index(st[0], "6"); i != -1 {
			proto, name := st[0][:i+1], st[0][i+1:]
			if out[proto] == nil {
				out[proto] = map[string]string{}
			}
			out[proto][name] = st[1]
		}
	}
	return out, sc.Err()
}
