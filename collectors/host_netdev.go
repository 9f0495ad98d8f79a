package collectors

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// collectNetdev is node_exporter's netdev collector as it runs with
// --no-collector.netdev.netlink: the counters of /proc/net/dev, under the
// legacy names its default (non-detailed) mode gives them, which are the
// same whether read from netlink or /proc. Reading /proc keeps proc_path
// meaningful and needs no netlink socket; only netlink's
// node_network_receive_nohandler_total is not available this way.
func (p *hostProber) collectNetdev(_ context.Context, s *sink) error {
	netDev, err := p.proc.NetDev()
	if err != nil {
		return fmt.Errorf("couldn't get netstats: failed to parse /proc/net/dev: %w", err)
	}
	for _, dev := range slices.Sorted(maps.Keys(netDev)) {
		st := netDev[dev]
		for _, c := range []struct {
			key string
			v   uint64
		}{
			{"receive_bytes", st.RxBytes}, {"receive_packets", st.RxPackets}, {"receive_errs", st.RxErrors},
			{"receive_drop", st.RxDropped}, {"receive_fifo", st.RxFIFO}, {"receive_frame", st.RxFrame},
			{"receive_compressed", st.RxCompressed}, {"receive_multicast", st.RxMulticast},
			{"transmit_bytes", st.TxBytes}, {"transmit_packets", st.TxPackets}, {"transmit_errs", st.TxErrors},
			{"transmit_drop", st.TxDropped}, {"transmit_fifo", st.TxFIFO}, {"transmit_colls", st.TxCollisions},
			{"transmit_carrier", st.TxCarrier}, {"transmit_compressed", st.TxCompressed},
		} {
			s.counter("node_network_"+c.key+"_total", "Network device statistic "+c.key+".", float64(c.v), "device", dev)
		}
	}
	return nil
}
