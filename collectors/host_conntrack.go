package collectors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// collectConntrack is node_exporter's conntrack collector: the netfilter
// connection table's size and limit (a full table drops new connections)
// and its summed per-CPU statistics. Without the nf_conntrack module it
// is node_exporter's no-data.
func (p *hostProber) collectConntrack(_ context.Context, s *sink) error {
	handle := func(err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("conntrack probably not loaded: %w", errNoData)
		}
		return fmt.Errorf("failed to retrieve conntrack stats: %w", err)
	}
	for _, f := range []struct{ file, name, help string }{
		{"nf_conntrack_count", "node_nf_conntrack_entries", "Number of currently allocated flow entries for connection tracking."},
		{"nf_conntrack_max", "node_nf_conntrack_entries_limit", "Maximum size of connection tracking table."},
	} {
		b, err := os.ReadFile(filepath.Join(p.procPath, "sys", "net", "netfilter", f.file))
		if err != nil {
			return handle(err)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return handle(fmt.Errorf("%s: %w", f.file, err))
		}
		s.gauge(f.name, f.help, float64(v))
	}
	if p.procErr != nil {
		return handle(p.procErr)
	}
	stats, err := p.proc.ConntrackStat()
	if err != nil {
		return handle(err)
	}
	var found, invalid, ignore, insert, insertFailed, drop, earlyDrop, searchRestart uint64
	for _, c := range stats {
		found += c.Found
		invalid += c.Invalid
		ignore += c.Ignore
		insert += c.Insert
		insertFailed += c.InsertFailed
		drop += c.Drop
		earlyDrop += c.EarlyDrop
		searchRestart += c.SearchRestart
	}
	for _, m := range []struct {
		name, help string
		v          uint64
	}{
		{"found", "Number of searched entries which were successful.", found},
		{"invalid", "Number of packets seen which can not be tracked.", invalid},
		{"ignore", "Number of packets seen which are already connected to a conntrack entry.", ignore},
		{"insert", "Number of entries inserted into the list.", insert},
		{"insert_failed", "Number of entries for which list insertion was attempted but failed.", insertFailed},
		{"drop", "Number of packets dropped due to conntrack failure.", drop},
		{"early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.", earlyDrop},
		{"search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes.", searchRestart},
	} {
		s.gauge("node_nf_conntrack_stat_"+m.name, m.help, float64(m.v))
	}
	return nil
}
