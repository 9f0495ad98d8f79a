package collectors

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// vmstatFields is node_exporter's default --collector.vmstat.fields: the
// paging, swapping, fault and OOM-kill counters the dashboards chart.
var vmstatFields = regexp.MustCompile(`^(oom_kill|pgpg|pswp|pg.*fault).*`)

// collectVmstat is node_exporter's vmstat collector: each selected
// /proc/vmstat field as an untyped node_vmstat_<field>, as it exports them.
func (p *hostProber) collectVmstat(_ context.Context, s *sink) error {
	path := filepath.Join(p.procPath, "vmstat")
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		parts := strings.Fields(sc.Text())
		if len(parts) != 2 {
			return fmt.Errorf("%s line %d: want a name and a value, got %q", path, line, sc.Text())
		}
		v, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", path, line, err)
		}
		if !vmstatFields.MatchString(parts[0]) || !validMetricSuffix(parts[0]) {
			continue
		}
		s.add(prometheus.UntypedValue, "node_vmstat_"+parts[0], fmt.Sprintf("/proc/vmstat information field %s.", parts[0]), v)
	}
	return sc.Err()
}

// collectFilefd is node_exporter's filefd collector: allocated and
// maximum file handles from /proc/sys/fs/file-nr.
func (p *hostProber) collectFilefd(_ context.Context, s *sink) error {
	path := filepath.Join(p.procPath, "sys", "fs", "file-nr")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("couldn't get file-nr: %w", err)
	}
	parts := bytes.Split(bytes.TrimSpace(b), []byte("\t"))
	if len(parts) < 3 {
		return fmt.Errorf("unexpected number of file stats in %q", path)
	}
	// The second field, unused handles, is always 0 since Linux 2.6.
	for _, f := range []struct {
		name  string
		value []byte
	}{{"allocated", parts[0]}, {"maximum", parts[2]}} {
		v, err := strconv.ParseFloat(string(f.value), 64)
		if err != nil {
			return fmt.Errorf("invalid value %s in file-nr: %w", f.value, err)
		}
		s.gauge("node_filefd_"+f.name, "File descriptor statistics: "+f.name+".", v)
	}
	return nil
}
