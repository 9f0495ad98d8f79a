package parity

import (
	"bufio"
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

var update = flag.Bool("update", false, "rewrite testdata/missing_*.txt from this run's differences")

// allow lists what Vigil does differently from the exporter on purpose, per
// comparison. Keep it short: every entry is checked both ways, so one that
// no longer differs fails the test and must go.
var allow = map[string][]Allowed{
	"redis": {
		{"redis_exporter_build_info", MissingInVigil, "the exporter's own build; Vigil's is vigil_build_info on the agent's job"},
		{"redis_exporter_last_scrape_connect_time_seconds", MissingInVigil, "the exporter's own scrape; Vigil reports vigil_probe_duration_seconds"},
		{"redis_exporter_last_scrape_duration_seconds", MissingInVigil, "the exporter's own scrape; Vigil reports vigil_probe_duration_seconds"},
		{"redis_exporter_last_scrape_error", MissingInVigil, "the exporter's own scrape; Vigil reports vigil_probe_failures_total"},
		{"redis_exporter_scrapes_total", MissingInVigil, "the exporter's own scrape; Vigil reports vigil_probes_total"},
		{"redis_exporter_scrape_duration_seconds", MissingInVigil, "the exporter's own scrape; Vigil reports vigil_probe_duration_seconds"},
		{"redis_target_scrape_request_errors_total", MissingInVigil, "the exporter's own /scrape requests; Vigil reports vigil_probe_failures_total"},
		{"redis_last_key_groups_scrape_duration_milliseconds", MissingInVigil, "the exporter's own timing of its -check-key-groups option, which Vigil does not have"},
		{"redis_exporter_last_scrape_ping_time_seconds", ExtraInVigil, "Vigil always PINGs, as redis_exporter does with -ping-on-connect"},
	},
	"host": {
		{"node_exporter_build_info", MissingInVigil, "the exporter's own build; Vigil's is vigil_build_info on the agent's job"},
		{"node_filesystem_purgeable_bytes", MissingInVigil, "macOS's purgeable space; node_exporter on Linux reports a constant 0 for every filesystem"},
		{"node_memory_*", ExtraInVigil, "Vigil names every /proc/meminfo field; node_exporter only those its procfs knows (Balloon, Hugetlb, KReclaimable, …)"},
		{"container_*", ExtraInVigil, "cAdvisor's families: the host kind also replaces cAdvisor for the agent's own container"},
	},
}

// The sentinel comparison is the same exporter, pointed at a Redis Sentinel.
func init() { allow["sentinel"] = allow["redis"] }

// stable are the families whose every series (labels and value) must be
// equal: values that do not move between the exporter's scrape and the
// agent's probe. A trailing * matches a prefix (the host's /proc is a
// fixture, so all its memory values are fixed). Each entry must match a
// family the exporter exports, so the list cannot silently rot.
var stable = map[string][]string{
	"sentinel": {"redis_up", "redis_instance_info", "redis_sentinel_*"},
	"redis": {"redis_up", "redis_config_maxclients", "redis_config_maxmemory", "redis_instance_info", "redis_connected_slaves", "redis_cluster_enabled",
		"redis_config_io_threads", "redis_config_client_output_buffer_limit_bytes", "redis_config_client_output_buffer_limit_overcome_seconds",
		"redis_db_keys", "redis_db_keys_expiring", "redis_max_clients", "redis_memory_max_bytes", "redis_process_id", "redis_hz", "redis_configured_hz",
		"redis_aof_enabled", "redis_rdb_last_bgsave_status", "redis_aof_last_write_status", "redis_replication_backlog_bytes",
		"redis_loading_dump_file", "redis_cluster_connections", "redis_number_of_functions", "redis_rdb_saves_total"},
	"host": {"node_memory_*", "node_filesystem_size_bytes", "node_filesystem_files", "node_filesystem_readonly", "node_filesystem_device_error", "node_filesystem_mount_info",
		"node_scrape_collector_success", "node_uname_info", "node_cpu_seconds_total", "node_cpu_guest_seconds_total",
		"node_load1", "node_load5", "node_load15", "node_intr_total", "node_context_switches_total", "node_forks_total",
		"node_boot_time_seconds", "node_procs_running", "node_procs_blocked", "node_vmstat_*", "node_filefd_allocated", "node_filefd_maximum",
		"node_network_*", "node_disk_*", "node_entropy_*", "node_time_zone_offset_seconds", "node_time_clocksource_available_info",
		"node_time_clocksource_current_info", "node_pressure_*", "node_sockstat_*", "node_netstat_*", "node_os_*",
		"node_softnet_*", "node_schedstat_*", "node_nf_conntrack_*",
		"node_timex_sync_status", "node_timex_tick_seconds", "node_timex_tai_offset_seconds",
		"node_thermal_zone_temp", "node_cooling_device_cur_state", "node_cooling_device_max_state", "node_hwmon_*"},
	"http":       {"probe_success", "probe_http_status_code", "probe_http_ssl", "probe_http_redirects", "probe_http_version", "probe_http_content_length", "probe_http_uncompressed_body_length", "probe_http_last_modified_timestamp_seconds", "probe_ip_protocol", "probe_ip_addr_hash", "probe_failed_due_to_regex"},
	"https":      {"probe_success", "probe_http_status_code", "probe_http_ssl", "probe_http_redirects", "probe_http_version", "probe_http_uncompressed_body_length", "probe_http_last_modified_timestamp_seconds", "probe_ip_protocol", "probe_ip_addr_hash", "probe_ssl_earliest_cert_expiry", "probe_tls_version_info", "probe_tls_cipher_info", "probe_ssl_last_chain_info"},
	"tcp":        {"probe_success", "probe_ip_protocol", "probe_ip_addr_hash", "probe_failed_due_to_regex"},
	"tcp_banner": {"probe_success", "probe_ip_protocol", "probe_ip_addr_hash", "probe_failed_due_to_regex", "probe_expect_info"},
}

// matchStable reports whether pattern (a family name, or a prefix ending
// in *) matches name.
func matchStable(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return pattern == name
}

// synthetic are the families Prometheus itself records for every scrape;
// they are never part of an exposition Prometheus reads as such.
func synthetic(name string) bool {
	return name == "up" || slices.Contains([]string{"scrape_duration_seconds", "scrape_samples_scraped",
		"scrape_samples_post_metric_relabeling", "scrape_series_added"}, name)
}

// comparison is one target, scraped from its exporter and from the agent.
type comparison struct {
	name        string // redis, host, http, https, tcp, tcp_banner: testdata/missing_<name>.txt
	agentName   string // the agent target's name
	exporterURL string // as Prometheus scrapes it after relabelling
	job         string // the kind's default job (identity contract of issue 9)
	instance    string // what relabelling sets, and the agent's default instance
	// healthy is a family each of whose series is 1 on the exporter side
	// when the server is up: equal values of a failed probe prove nothing.
	healthy string
}

// TestParity runs each upstream exporter and the agent against the same
// real servers and compares what Prometheus would store from both: the
// exporter through the multi-target relabelling (or a plain scrape for
// node_exporter), the agent both through /probe?target=<instance> with the
// same relabelling and through /metrics with honor_labels.
func TestParity(t *testing.T) {
	env := startEnv(t, nil)
	for _, c := range env.comparisons {
		t.Run(c.name, func(t *testing.T) { compareTarget(t, env.agent.URL, c, nil) })
	}
}

// TestParityExtraLabels is TestParity with extra `labels` on every agent
// target and, on the exporter side, the same static labels in the scrape
// config, as a user moving from the exporters writes them. By the identity
// contract /metrics carries them and /probe does not: there the scrape
// config adds them, as it does for the exporter.
func TestParityExtraLabels(t *testing.T) {
	extra := map[string]string{"env": "parity"}
	env := startEnv(t, extra)
	// First the contract itself, once per target, so that a breach is one
	// line each rather than every family of every comparison below.
	for _, c := range env.comparisons {
		probe := waitSeries(t, env.agent.URL+"/probe?target="+url.QueryEscape(c.agentName), 30*time.Second)
		var carrying []string
		for _, name := range probe.Names() {
			if slices.ContainsFunc(probe[name].Series, func(s Series) bool { _, ok := s.Labels["env"]; return ok }) {
				carrying = append(carrying, name)
			}
		}
		if len(carrying) > 0 {
			t.Errorf("/probe?target=%s: %d families carry the target's extra label env (e.g. %s): by the identity contract /probe serves a result without job, instance and extra labels (the scrape config adds them, as for the exporter); only /metrics carries them",
				c.agentName, len(carrying), carrying[0])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, c := range env.comparisons {
		t.Run(c.name, func(t *testing.T) { compareTarget(t, env.agent.URL, c, extra) })
	}
}

// compareTarget compares one target's exporter scrape with the agent's
// /probe and /metrics for it; extra are the target's static labels.
func compareTarget(t *testing.T, agentURL string, c comparison, extra map[string]string) {
	target := map[string]string{"job": c.job, "instance": c.instance}
	for k, v := range extra {
		target[k] = v
	}
	exporter := scrape(t, c.exporterURL).Relabel(target, false).Without(synthetic)
	for _, pattern := range stable[c.name] {
		if !slices.ContainsFunc(exporter.Names(), func(n string) bool { return matchStable(pattern, n) }) {
			t.Errorf("%s is listed as stable but the exporter exports no such family: fix the list", pattern)
		}
	}
	if f := exporter[c.healthy]; f == nil || slices.ContainsFunc(f.Series, func(s Series) bool { return s.Value != 1 }) {
		t.Errorf("the exporter does not report the server healthy (%s == 1 for every series): %+v", c.healthy, f)
	}
	if t.Failed() {
		return
	}

	probeURL := agentURL + "/probe?target=" + url.QueryEscape(c.instance)
	probeRaw := waitSeries(t, probeURL, 30*time.Second)
	for _, name := range probeRaw.Names() {
		if synthetic(name) {
			t.Errorf("/probe exposes %s, which Prometheus records itself for the scrape: the two would collide", name)
		}
	}
	probe := probeRaw.Relabel(target, false)
	metrics := scrape(t, agentURL+"/metrics").Select(map[string]string{"job": c.job, "instance": c.instance}).Without(synthetic)

	isStable := func(name string) bool {
		return slices.ContainsFunc(stable[c.name], func(p string) bool { return matchStable(p, name) })
	}
	diffs := Compare(exporter, probe, isStable)
	var lines []string
	for _, d := range diffs {
		lines = append(lines, d.String())
	}
	if testing.Verbose() { // the accepted ones too: the list the issue reports
		t.Logf("%d differences from the exporter (via /probe):\n%s", len(diffs), strings.Join(lines, "\n"))
	}

	missingFile := filepath.Join("testdata", "missing_"+c.name+".txt")
	if *update {
		writeMissing(t, missingFile, c, Missing(diffs, allow[c.name]))
	}
	missing := readMissing(t, missingFile)
	if problems := Check(diffs, allow[c.name], missing); len(problems) > 0 {
		t.Errorf("the agent's /probe?target=%s (target %s) differs from the exporter (%s):\n%s", c.instance, c.agentName, c.exporterURL, strings.Join(problems, "\n"))
	}
	// /metrics with honor_labels must store exactly what /probe with
	// relabelling does.
	if d := Compare(probe, metrics, isStable); len(d) > 0 {
		var ls []string
		for _, x := range d {
			ls = append(ls, x.String())
		}
		t.Errorf("the agent's /metrics (honor_labels, job=%q instance=%q) differs from its /probe (relabelled); below \"exporter\" is /probe and \"vigil\" /metrics:\n%s", c.job, c.instance, strings.Join(ls, "\n"))
	}
}

// TestParityRealHost compares node_exporter and the agent on the real
// /proc and mount table of the machine running the test, where TestParity
// uses a fixture. The families each kernel has differ, so only the ones
// every Linux has are compared, in full: labels and values.
func TestParityRealHost(t *testing.T) {
	families := []string{"node_memory_MemTotal_bytes", "node_memory_SwapTotal_bytes",
		"node_filesystem_size_bytes", "node_filesystem_readonly", "node_filesystem_device_error", "node_filesystem_mount_info",
		"node_uname_info", "node_boot_time_seconds", "node_os_info"}
	only := func(fs Families) Families {
		return fs.Without(func(n string) bool { return !slices.Contains(families, n) })
	}
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	nodeExp := testserver.NodeExporter(t, "--collector.disable-defaults", "--collector.meminfo", "--collector.filesystem",
		"--collector.uname", "--collector.stat", "--collector.os",
		"--web.disable-exporter-metrics", "--path.procfs=/proc", "--path.sysfs=/sys", "--path.rootfs=/")
	agent := startAgent(t, `global: {interval: 2s, timeout: 1s}
disable_default_rules: true
targets:
  - {name: node, kind: host, host: {proc_path: /proc, sys_path: /sys}}
`)
	target := map[string]string{"job": "node", "instance": hostname}
	exporter := only(scrape(t, nodeExp.URL+"/metrics").Relabel(target, false))
	if names := exporter.Names(); !slices.Equal(names, slices.Sorted(slices.Values(families))) {
		t.Fatalf("node_exporter exports %v of %v on this host", names, families)
	}
	probe := only(waitSeries(t, agent.URL+"/probe?target=node", 30*time.Second).Relabel(target, false))
	if d := Compare(exporter, probe, func(string) bool { return true }); len(d) > 0 {
		var ls []string
		for _, x := range d {
			ls = append(ls, x.String())
		}
		t.Errorf("on this host's /proc the agent's /probe?target=node differs from node_exporter:\n%s", strings.Join(ls, "\n"))
	}
}

// env is every server of the test, the exporters and the agent.
type env struct {
	agent       *testserver.ExporterServer
	comparisons []comparison
}

// startEnv starts the servers, the exporters and an agent whose targets
// carry extra as their `labels`.
func startEnv(t *testing.T, extra map[string]string) *env {
	t.Helper()
	dir := t.TempDir()

	redis := testserver.Redis(t)
	sentinel := startSentinel(t)

	okHandler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Last-Modified", "Tue, 03 Feb 2026 04:05:06 GMT")
		io.WriteString(w, "ok\n")
	})
	web := httptest.NewServer(okHandler)
	t.Cleanup(web.Close)
	webTLS := httptest.NewTLSServer(okHandler)
	t.Cleanup(webTLS.Close)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: webTLS.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	port := tcpListener(t)
	banner := bannerListener(t)

	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	// The host is seen through a fixture /proc (meminfo, the mount table,
	// the agent's cgroup) so that every value is the same on every machine;
	// the filesystems it lists (/, /tmp, /usr) exist everywhere and are
	// statfs'ed for real by both sides; /vigil-parity-absent exists nowhere,
	// so both report its device error and label it with the errno.
	// sys holds only what makes node_exporter's cpu collector find no
	// sysfs CPU data (no online, throttle or isolated files), as the
	// agent's cpu collector, which reads /proc/stat only, and the disks'
	// rotational flags; udev holds the disks' udev database entries.
	procPath, sysPath, cgroupPath := absPath(t, "testdata/host/proc"), absPath(t, "testdata/host/sys"), absPath(t, "testdata/host/cgroup")
	udev := udevData(t)

	redisExp := testserver.RedisExporter(t)
	// Only the collectors the host kind implements, on the same /proc.
	nodeExp := testserver.NodeExporter(t, "--collector.disable-defaults", "--collector.meminfo", "--collector.filesystem",
		"--collector.uname", "--collector.cpu", "--collector.loadavg", "--collector.stat", "--collector.vmstat", "--collector.filefd",
		"--collector.netdev", "--no-collector.netdev.netlink",
		"--collector.diskstats", "--path.udev.data="+udev,
		"--collector.time", "--collector.entropy", "--collector.pressure", "--collector.sockstat", "--collector.netstat", "--collector.os",
		"--collector.softnet", "--collector.schedstat", "--collector.conntrack", "--collector.timex", "--collector.thermal_zone", "--collector.hwmon",
		"--web.disable-exporter-metrics", "--path.procfs="+procPath, "--path.sysfs="+sysPath, "--path.rootfs=/")
	blackbox := testserver.BlackboxExporter(t, fmt.Sprintf(`modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
  http_tls:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        ca_file: %q
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
  tcp_banner:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
%s`, caFile, bannerDialogue("        ")))

	agent := startAgent(t, fmt.Sprintf(`global:
  interval: 2s
  timeout: 1s
disable_default_rules: true
targets:
  - name: cache
    kind: redis
%[1]s    redis: {address: %[2]q}
  - name: sentinel
    kind: redis
%[1]s    redis: {address: %[13]q}
  - name: node
    kind: host
%[1]s    host: {proc_path: %[3]q, sys_path: %[9]q, cgroup_path: %[4]q, udev_data_path: %[12]q}
  - name: web
    kind: http
%[1]s    http: {url: %[5]q, ip_protocol: ip4}
  - name: web-tls
    kind: http
%[1]s    http: {url: %[6]q, ip_protocol: ip4, tls: {ca_file: %[7]q}}
  - name: port
    kind: tcp
%[1]s    tcp: {address: %[8]q, ip_protocol: ip4}
  - name: banner
    kind: tcp
%[1]s    tcp:
      address: %[10]q
      ip_protocol: ip4
      query_response:
%[11]s`, labelsYAML(extra), redis.Addr, procPath, cgroupPath, web.URL, webTLS.URL, caFile, port, sysPath, banner, bannerDialogue("        "), udev, sentinel))

	probe := func(module, target string) string {
		return blackbox.URL + "/probe?" + url.Values{"module": {module}, "target": {target}}.Encode()
	}
	return &env{
		agent: agent,
		comparisons: []comparison{
			{name: "redis", agentName: "cache", exporterURL: redisExp.URL + "/scrape?target=" + url.QueryEscape(redis.Addr), job: "redis", instance: redis.Addr, healthy: "redis_up"},
			{name: "sentinel", agentName: "sentinel", exporterURL: redisExp.URL + "/scrape?target=" + url.QueryEscape(sentinel), job: "redis", instance: sentinel, healthy: "redis_up"},
			{name: "host", agentName: "node", exporterURL: nodeExp.URL + "/metrics", job: "node", instance: hostname, healthy: "node_scrape_collector_success"},
			{name: "http", agentName: "web", exporterURL: probe("http_2xx", web.URL), job: "blackbox", instance: web.URL, healthy: "probe_success"},
			{name: "https", agentName: "web-tls", exporterURL: probe("http_tls", webTLS.URL), job: "blackbox", instance: webTLS.URL, healthy: "probe_success"},
			{name: "tcp", agentName: "port", exporterURL: probe("tcp_connect", port), job: "blackbox", instance: port, healthy: "probe_success"},
			{name: "tcp_banner", agentName: "banner", exporterURL: probe("tcp_banner", banner), job: "blackbox", instance: banner, healthy: "probe_success"},
		},
	}
}

// startSentinel starts a master with one replica and a Redis Sentinel
// monitoring it, and waits until the sentinel knows the replica, so that
// its counts do not change between the exporter's scrape and the agent's
// probe. It returns the sentinel's address.
func startSentinel(t *testing.T) string {
	t.Helper()
	master := testserver.Redis(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	testserver.Redis(t, testserver.WithConfig("replicaof "+host+" "+port))
	s := testserver.Redis(t, testserver.WithSentinel("cache", master))
	want := "master0:name=cache,status=ok,address=" + master.Addr + ",slaves=1,sentinels=1"
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = redisInfo(t, s.Addr, "sentinel"); strings.Contains(last, want) {
			return s.Addr
		}
	}
	t.Fatalf("the sentinel never reported %q; last INFO sentinel:\n%s", want, last)
	return ""
}

// redisInfo is INFO section of the Redis at addr, over a plain connection
// (the parity test speaks to servers only through the exporters and agent
// otherwise); "" on any error.
func redisInfo(t *testing.T, addr, section string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "INFO %s\r\n", section)
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return ""
	}
	var n int
	if _, err := fmt.Sscanf(head, "$%d", &n); err != nil {
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return ""
	}
	return string(b)
}

// udevData writes udev's database entries (/run/udev/data/b<major>:<minor>)
// of the fixture's disks sda, nvme0n1 and dm-0 into a temporary directory:
// ':' is not allowed in a Go module's file names, so they cannot be testdata.
func udevData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"b8:0": "S:disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K1234567\nW:8\nI:4321123\nE:ID_ATA=1\nE:ID_TYPE=disk\n" +
			"E:ID_MODEL=WDC_WD40EFRX-68N32N0\nE:ID_REVISION=82.00A82\nE:ID_SERIAL=WDC_WD40EFRX-68N32N0_WD-WCC7K1234567\n" +
			"E:ID_SERIAL_SHORT=WD-WCC7K1234567\nE:ID_ATA_WRITE_CACHE=1\nE:ID_ATA_WRITE_CACHE_ENABLED=0\n" +
			"E:ID_ATA_ROTATION_RATE_RPM=5400\nE:ID_WWN=0x50014ee2b5e8a1b2\nE:ID_PATH=pci-0000:00:17.0-ata-1\nG:systemd\n",
		"b259:0": "E:ID_TYPE=disk\nE:ID_MODEL=Samsung SSD 970 EVO Plus 1TB\nE:ID_REVISION=2B2QEXM7\n" +
			"E:ID_SERIAL=Samsung SSD 970 EVO Plus 1TB_S4EWNX0R123456\nE:ID_WWN=eui.0025385b91234567\nE:ID_PATH=pci-0000:01:00.0-nvme-1\n",
		"b253:0": "S:mapper/vg0-root\nE:DM_NAME=vg0-root\nE:DM_UUID=LVM-abcdef0123456789\nE:DM_VG_NAME=vg0\nE:DM_LV_NAME=root\n" +
			"E:ID_FS_TYPE=ext4\nE:ID_FS_USAGE=filesystem\nE:ID_FS_UUID=0c1f7f1e-2d7e-4b7a-9b1d-8f2a3c4d5e6f\nE:ID_FS_VERSION=1.0\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// labelsYAML is the `labels:` line of an agent target ("" for none).
func labelsYAML(extra map[string]string) string {
	if len(extra) == 0 {
		return ""
	}
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		pairs = append(pairs, fmt.Sprintf("%s: %q", k, extra[k]))
	}
	return "    labels: {" + strings.Join(pairs, ", ") + "}\n"
}

func absPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// bannerDialogue is the query_response of the tcp_banner comparison, the
// same YAML for blackbox and the agent, indented by indent.
func bannerDialogue(indent string) string {
	return indent + `- expect: '^220 (\S+) ESMTP v(\S+)$'
` + indent + `  labels: [{name: host, value: '${1}'}, {name: version, value: 'v${2}'}]
` + indent + `  send: QUIT
` + indent + `- expect: '^221 '
`
}

// bannerListener speaks the start of SMTP: a banner, then 221 to QUIT.
func bannerListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, "220 parity.test ESMTP v1.2.3\r\n")
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if sc.Text() == "QUIT" {
						io.WriteString(c, "221 parity.test bye\r\n")
						return
					}
					io.WriteString(c, "500 what\r\n")
				}
			}()
		}
	}()
	return l.Addr().String()
}

// tcpListener accepts and closes connections, as a TCP service blackbox's
// tcp_connect module only connects to.
func tcpListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// startAgent builds cmd/agent (once per test binary, cached by the Go build
// cache) and runs it as users do, with cfg as its configuration file.
func startAgent(t *testing.T, cfg string) *testserver.ExporterServer {
	t.Helper()
	agentOnce.Do(func() {
		var dir string
		dir, agentErr = os.MkdirTemp("", "vigil-parity-bin-")
		if agentErr != nil {
			return
		}
		agentBin = filepath.Join(dir, "agent")
		cmd := exec.Command("go", "build", "-o", agentBin, "./cmd/agent")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("go build ./cmd/agent: %w\n%s", err, out)
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "agent.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := testserver.StartDaemon(t, "agent", agentBin, "/-/ready", dir, func(addr string) []string {
		return []string{"--config.file=" + cfgFile, "--web.listen-address=" + addr,
			"--storage.path=" + filepath.Join(dir, "data"), "--log.level=warn"}
	})
	t.Cleanup(func() {
		if b, _ := os.ReadFile(filepath.Join(dir, "agent.log")); t.Failed() && len(b) > 0 {
			t.Logf("--- agent log ---\n%s", b)
		}
	})
	return a
}

func TestMain(m *testing.M) {
	flag.Parse()
	if *serveMongo != "" { // the benchmarks' MongoDB server, in a process of its own
		startFerretDB(*serveMongo)
	}
	if *serveWeb != "" { // the benchmarks' web server, in a process of its own
		serveWebPage(*serveWeb)
	}
	code := m.Run()
	if agentBin != "" {
		os.RemoveAll(filepath.Dir(agentBin))
	}
	os.Exit(code)
}

// get fetches url as Prometheus scrapes: the text format, a timeout.
func get(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", Accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, b, err
}

func scrape(t *testing.T, url string) Families {
	t.Helper()
	code, body, err := get(t.Context(), url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	if code != http.StatusOK {
		t.Fatalf("scraping %s: status %d: %s", url, code, body)
	}
	fs, err := Parse(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	return fs
}

// waitSeries scrapes url until it answers 200 with at least one series:
// the agent serves a target's result once its first probe has finished,
// and never probes on request.
func waitSeries(t *testing.T, url string, timeout time.Duration) Families {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := get(t.Context(), url)
		if err == nil && code == http.StatusOK {
			fs, err := Parse(strings.NewReader(string(body)))
			if err != nil {
				t.Fatalf("scraping %s: %v", url, err)
			}
			if len(fs) > 0 {
				return fs
			}
		}
		last = fmt.Sprintf("status %d %q %v", code, body, err)
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: no series within %s; last answer: %s", url, timeout, last)
	return nil
}

func readMissing(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s does not exist: measure it with `go test ./parity -run TestParity -update`", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := ReadList(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return names
}

func writeMissing(t *testing.T, path string, c comparison, names []string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "# Families the real exporter exports for the %q comparison of parity_test.go\n", c.name)
	b.WriteString("# (job " + c.job + ") that Vigil does not have yet: issue 10's to-do.\n")
	b.WriteString("# TestParity fails unless this list is exact: remove a name when Vigil gains\n")
	b.WriteString("# the family. Measured by `go test ./parity -run TestParity -update`.\n")
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
