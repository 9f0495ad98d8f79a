package collectors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	envparse "github.com/hashicorp/go-envparse"
)

var osVersionRE = regexp.MustCompile(`^[0-9]+\.?[0-9]*`)

// collectOS is node_exporter's os collector: os-release under rootfs_path
// (/etc/os-release, else /usr/lib/os-release), which the dashboards show as
// the host's distribution. The file is parsed with the same shell-subset
// parser node_exporter uses.
func (p *hostProber) collectOS(_ context.Context, s *sink) error {
	var env map[string]string
	for _, name := range []string{"etc/os-release", "usr/lib/os-release"} {
		f, err := os.Open(filepath.Join(p.rootFSPath, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		env, err = envparse.Parse(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("parsing %s: %w", f.Name(), err)
		}
		break
	}
	if env == nil {
		return fmt.Errorf("no os-release file under %s: %w", p.rootFSPath, errNoData)
	}
	var version float64
	if mm := osVersionRE.FindString(env["VERSION_ID"]); mm != "" {
		v, err := strconv.ParseFloat(mm, 64)
		if err != nil {
			return fmt.Errorf("os-release VERSION_ID %q: %w", env["VERSION_ID"], err)
		}
		version = v
	}
	var supportEnd time.Time
	if se := env["SUPPORT_END"]; se != "" {
		t, err := time.Parse(time.DateOnly, se)
		if err != nil {
			return fmt.Errorf("os-release SUPPORT_END %q: %w", se, err)
		}
		supportEnd = t
	}
	s.gauge("node_os_info", "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, "+
		"name, pretty_name, variant, variant_id, version, version_codename, version_id.", 1,
		"build_id", env["BUILD_ID"], "id", env["ID"], "id_like", env["ID_LIKE"], "image_id", env["IMAGE_ID"],
		"image_version", env["IMAGE_VERSION"], "name", env["NAME"], "pretty_name", env["PRETTY_NAME"],
		"variant", env["VARIANT"], "variant_id", env["VARIANT_ID"], "version", env["VERSION"],
		"version_codename", env["VERSION_CODENAME"], "version_id", env["VERSION_ID"])
	if version > 0 {
		s.gauge("node_os_version", "Metric containing the major.minor part of the OS version.", version,
			"id", env["ID"], "id_like", env["ID_LIKE"], "name", env["NAME"])
	}
	if !supportEnd.IsZero() {
		s.gauge("node_os_support_end_timestamp_seconds", "Metric containing the end-of-life date timestamp of the OS.", float64(supportEnd.Unix()))
	}
	return nil
}
