package collectors

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/prometheus/procfs"
)

var pageSize = os.Getpagesize()

// collectSockstat is node_exporter's sockstat collector: the socket counts
// and memory of /proc/net/sockstat and sockstat6, one gauge per protocol
// and field (node_sockstat_TCP_inuse, …), as it names them.
func (p *hostProber) collectSockstat(_ context.Context, s *sink) error {
	stat4, err := p.proc.NetSockstat()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to get IPv4 sockstat data: %w", err)
	}
	stat6, err := p.proc.NetSockstat6()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to get IPv6 sockstat data: %w", err)
	}
	if stat4 != nil && stat4.Used != nil {
		s.gauge("node_sockstat_sockets_used", "Number of IPv4 sockets in use.", float64(*stat4.Used))
	}
	for _, st := range []*procfs.NetSockstat{stat4, stat6} {
		if st == nil {
			continue
		}
		for _, proto := range st.Protocols {
			inUse := proto.InUse
			var memBytes *int
			if proto.Mem != nil {
				v := *proto.Mem * pageSize
				memBytes = &v
			}
			for _, f := range []struct {
				name string
				v    *int
			}{
				{"inuse", &inUse}, {"orphan", proto.Orphan}, {"tw", proto.TW}, {"alloc", proto.Alloc},
				{"mem", proto.Mem}, {"memory", proto.Memory}, {"mem_bytes", memBytes},
			} {
				if f.v == nil {
					continue
				}
				name := proto.Protocol + "_" + f.name
				s.gauge("node_sockstat_"+name, fmt.Sprintf("Number of %s sockets in state %s.", proto.Protocol, f.name), float64(*f.v))
			}
		}
	}
	return nil
}
