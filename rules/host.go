package rules

import (
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	th "github.com/vigil-sh/vigil/internal/thresholds"
)

// hostGroups alert on the agent's host probe: memory of the container, the
// processes it scrapes and the host, and filesystems (node_exporter's and
// cAdvisor's names and identity, node-mixin's guards). The host's series
// carry job "node" by default and the node name as instance; the
// expressions keep every label, so each node alerts on its own.
func hostGroups() rulefmt.RuleGroups {
	mem := num(th.MemoryRatio)
	return groups(
		group("memory",
			alert{
				// Three scopes, told apart by the scope label. A container
				// limit of 0 means none is set; a process is compared with
				// the (largest) container limit the agent sees, since in a
				// sidecar deployment they share it.
				name: "HighMemoryUsage",
				expr: fmt.Sprintf(`label_replace(
  container_memory_working_set_bytes / (container_spec_memory_limit_bytes > 0) > %[1]s,
  "scope", "container", "", ""
)
or
label_replace(
  max by (job, instance) (process_resident_memory_bytes)
  / on () group_left ()
  max(container_spec_memory_limit_bytes > 0)
  > %[1]s,
  "scope", "process", "", ""
)
or
label_replace(
  1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes > %[1]s,
  "scope", "host", "", ""
)`, mem),
				for_:        5 * time.Minute,
				severity:    SeverityWarning,
				summary:     "{{ $labels.scope }} memory of " + jobInstance + " is at {{ $value | humanizePercentage }}",
				description: "The {{ $labels.scope }} memory of " + jobInstance + " is at {{ $value | humanizePercentage }} of its limit (threshold " + pct(th.MemoryRatio) + ", for 5 minutes); the next allocations risk the OOM killer.",
			}.rule(),
		),
		group("filesystem",
			alert{
				name: "DiskSpaceLow",
				expr: fmt.Sprintf(`node_filesystem_avail_bytes / node_filesystem_size_bytes < %s
and
node_filesystem_readonly == 0`, num(th.DiskFreeRatio)),
				for_:        5 * time.Minute,
				severity:    SeverityWarning,
				summary:     "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} space left",
				description: "Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} (job {{ $labels.job }}) has only {{ $value | humanizePercentage }} of its space available (threshold " + pct(th.DiskFreeRatio) + ").",
			}.rule(),
			alert{
				name: "FilesystemPredictedToFill",
				expr: fmt.Sprintf(`node_filesystem_avail_bytes / node_filesystem_size_bytes < %s
and
predict_linear(node_filesystem_avail_bytes[6h], %s) < 0
and
node_filesystem_readonly == 0`, num(th.DiskPredictFreeRatio), num(th.DiskPredictHorizon.Seconds())),
				for_:        time.Hour,
				severity:    SeverityWarning,
				summary:     "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} will fill within " + dur(th.DiskPredictHorizon),
				description: "At the rate of the last 6 hours, filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} (job {{ $labels.job }}) runs out of space within " + dur(th.DiskPredictHorizon) + "; {{ $value | humanizePercentage }} is left.",
			}.rule(),
			alert{
				// Mounts that are read-only by design (config maps, secrets)
				// stay silent: only a filesystem that was writable in the
				// last hour and no longer is (errors=remount-ro) fires.
				name: "FilesystemReadOnly",
				expr: `node_filesystem_readonly == 1
and
min_over_time(node_filesystem_readonly[1h]) == 0`,
				severity:    SeverityCritical,
				summary:     "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} turned read-only",
				description: "Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} (job {{ $labels.job }}) was writable within the last hour and is now read-only (readonly = {{ $value }}): the kernel likely remounted it after I/O errors.",
			}.rule(),
			alert{
				name: "FilesystemInodesLow",
				expr: fmt.Sprintf(`node_filesystem_files_free / node_filesystem_files < %s
and
node_filesystem_readonly == 0`, num(th.InodeFreeRatio)),
				for_:        5 * time.Minute,
				severity:    SeverityWarning,
				summary:     "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} inodes left",
				description: "Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} (job {{ $labels.job }}) has only {{ $value | humanizePercentage }} of its inodes free (threshold " + pct(th.InodeFreeRatio) + ").",
			}.rule(),
		),
	)
}
