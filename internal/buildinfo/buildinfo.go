// Package buildinfo carries the version stamped into the binaries at link
// time, for build_info metrics, /api/health and the status page.
package buildinfo

import "runtime"

// Set by -ldflags "-X" in the Makefile and the Dockerfile.
var (
	Version  = "dev"
	Revision = "unknown"
)

// GoVersion is the toolchain the binary was built with.
func GoVersion() string { return runtime.Version() }
