package dashboards

import (
	"fmt"

	"github.com/vigil-sh/vigil/internal/thresholds"
)

func hostDashboard() spec {
	fs := func(metric string) string { return sel(metric, `fstype!~"tmpfs|overlay|squashfs"`) }
	horizon := thresholds.DiskPredictHorizon.Seconds()
	const year = 365 * 24 * 3600
	return spec{
		uid:   "vigil-host",
		title: "Vigil / Host and container",
		description: "Memory and filesystems of the hosts and containers the agent watches: job node (the host " +
			"kind's default, as node_exporter's), one instance per node name.",
		jobs: "node", series: "node_memory_MemTotal_bytes",
		rows: []row{
			{title: "Memory", panels: []panel{
				{
					title: "Host memory used",
					description: fmt.Sprintf("Share of host memory not available to new allocations, 1 - MemAvailable / MemTotal. "+
						"The memory alert fires above %s.", num(thresholds.MemoryRatio*100)+"%"),
					unit: "percentunit", w: 8, h: 8, min: ptr(0.0), max: ptr(1.0),
					steps:   []step{{value: thresholds.MemoryRatio}},
					queries: []query{{expr: "1 - " + sel("node_memory_MemAvailable_bytes") + " / " + sel("node_memory_MemTotal_bytes"), legend: "{{instance}}"}},
				},
				{
					title: "Host memory available", description: "Memory available to new allocations without swapping, against the total, and swap in use.",
					unit: "bytes", w: 8, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: sel("node_memory_MemAvailable_bytes"), legend: "{{instance}} available"},
						{expr: sel("node_memory_MemTotal_bytes"), legend: "{{instance}} total"},
						{expr: sel("node_memory_SwapTotal_bytes") + " - " + sel("node_memory_SwapFree_bytes"), legend: "{{instance}} swap used"},
					},
				},
				{
					title: "Container OOM kills", description: "Processes of the container killed for running out of memory, per interval.",
					unit: "short", w: 8, h: 8, min: ptr(0.0),
					queries: []query{{expr: "increase(" + sel("container_oom_events_total") + "[$__rate_interval])", legend: "{{instance}}"}},
				},
				{
					title: "Container memory vs limit", description: "Working set (what the kernel counts against the limit), total usage, and the cgroup memory limit.",
					unit: "bytes", w: 12, h: 8, min: ptr(0.0),
					queries: []query{
						{expr: sel("container_memory_working_set_bytes"), legend: "{{instance}} working set"},
						{expr: sel("container_memory_usage_bytes"), legend: "{{instance}} usage"},
						{expr: sel("container_spec_memory_limit_bytes") + " > 0", legend: "{{instance}} limit"},
					},
				},
				{
					title: "Container memory used",
					description: fmt.Sprintf("Working set as a share of the container's memory limit; the memory alert fires above %s. "+
						"Empty for a container without a limit.", num(thresholds.MemoryRatio*100)+"%"),
					unit: "percentunit", w: 12, h: 8, min: ptr(0.0), max: ptr(1.0),
					steps: []step{{value: thresholds.MemoryRatio}},
					queries: []query{{
						expr:   sel("container_memory_working_set_bytes") + " / (" + sel("container_spec_memory_limit_bytes") + " > 0)",
						legend: "{{instance}}",
					}},
				},
			}},
			{title: "Filesystems", panels: []panel{
				{
					title: "Free space",
					description: fmt.Sprintf("Share of each filesystem still available to unprivileged users. DiskSpaceLow fires below %s.",
						num(thresholds.DiskFreeRatio*100)+"%"),
					unit: "percentunit", w: 8, h: 8, min: ptr(0.0), max: ptr(1.0),
					below: true, steps: []step{{value: thresholds.DiskFreeRatio}},
					queries: []query{{expr: fs("node_filesystem_avail_bytes") + " / " + fs("node_filesystem_size_bytes"), legend: "{{instance}} {{mountpoint}}"}},
				},
				{
					title: "Free inodes",
					description: fmt.Sprintf("Share of each filesystem's inodes still free. FilesystemInodesLow fires below %s.",
						num(thresholds.InodeFreeRatio*100)+"%"),
					unit: "percentunit", w: 8, h: 8, min: ptr(0.0), max: ptr(1.0),
					below: true, steps: []step{{value: thresholds.InodeFreeRatio}},
					queries: []query{{expr: fs("node_filesystem_files_free") + " / (" + fs("node_filesystem_files") + " > 0)", legend: "{{instance}} {{mountpoint}}"}},
				},
				{
					kind: kindStat, title: "Read-only or failing filesystems", description: "Filesystems mounted read-only or whose statfs failed.",
					unit: "short", w: 8, h: 8,
					steps:   []step{{value: 1}},
					queries: []query{{expr: "sum(" + fs("node_filesystem_readonly") + ") + sum(" + fs("node_filesystem_device_error") + ")", legend: "read-only or failing"}},
				},
				{
					title: "Predicted time to full",
					description: fmt.Sprintf("Time until each filesystem is full at the rate its free space shrank over the last 6h, "+
						"capped at a year (not filling). FilesystemPredictedToFill looks %s ahead (red below).",
						promDuration(thresholds.DiskPredictHorizon)),
					unit: "s", w: 12, h: 8, min: ptr(0.0),
					below: true, steps: []step{{value: horizon}},
					queries: []query{{
						expr: fmt.Sprintf("clamp_max(%s / clamp_min(-deriv(%s[6h]), 0), %d)",
							fs("node_filesystem_avail_bytes"), fs("node_filesystem_avail_bytes"), year),
						legend: "{{instance}} {{mountpoint}}",
					}},
				},
				{
					title: "Predicted free space",
					description: fmt.Sprintf("Free bytes each filesystem will have in %s, extrapolating the last 6h linearly. Red at 0.",
						promDuration(thresholds.DiskPredictHorizon)),
					unit: "bytes", w: 12, h: 8,
					below: true, steps: []step{{value: 0}},
					queries: []query{
						{expr: fmt.Sprintf("predict_linear(%s[6h], %s)", fs("node_filesystem_avail_bytes"), num(horizon)), legend: "{{instance}} {{mountpoint}} predicted"},
						{expr: fs("node_filesystem_avail_bytes"), legend: "{{instance}} {{mountpoint}} now"},
					},
				},
			}},
		},
	}
}
