package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// webConfig keeps the last good --web.config.file. exporter-toolkit reads
// the file it is given on every request, so an emptied or broken file
// would take effect at once — an emptied one turns TLS and basic auth off.
// The toolkit is given a private copy instead, replaced only by a reload
// that validates the new file; a bad one leaves the copy as it was.
type webConfig struct {
	src string // the user's file
	dir string // private directory holding the copy

	mu sync.Mutex // serializes reloads
}

// loadWebConfig validates src and installs its private copy; "" means no
// web configuration.
func loadWebConfig(src string) (*webConfig, error) {
	if src == "" {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "vigil-web-config-")
	if err != nil {
		return nil, fmt.Errorf("--web.config.file %s: %w", src, err)
	}
	w := &webConfig{src: src, dir: dir}
	if err := w.reload(true); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return w, nil
}

// path is the file the toolkit reads.
func (w *webConfig) path() string { return filepath.Join(w.dir, "web-config.yml") }

// reload validates the user's file and, if good, replaces the copy
// atomically. An empty file is refused unless it is the first load: that
// is how a truncated file would silently switch authentication off.
func (w *webConfig) reload(first bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	data, err := config.ReadLimited(w.src, 1<<20)
	if err != nil {
		return fmt.Errorf("--web.config.file %s: %w", w.src, err)
	}
	if !first && config.IsEmptyDocument(data) {
		return fmt.Errorf("--web.config.file %s: the file has no configuration in it; keeping the previous one (an empty file would turn TLS and authentication off; restart the agent to run without them)", w.src)
	}
	data, err = absolutePaths(data, filepath.Dir(w.src))
	if err != nil {
		return fmt.Errorf("--web.config.file %s: %w", w.src, err)
	}
	candidate := filepath.Join(w.dir, "candidate.yml")
	if err := os.WriteFile(candidate, data, 0o600); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", w.src, err)
	}
	if err := web.Validate(candidate); err != nil {
		os.Remove(candidate)
		return fmt.Errorf("--web.config.file %s: %w", w.src, err)
	}
	if err := os.Rename(candidate, w.path()); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", w.src, err)
	}
	return nil
}

func (w *webConfig) close() {
	if w != nil {
		os.RemoveAll(w.dir)
	}
}

// absolutePaths makes the TLS file paths of a web configuration absolute
// against dir, as the toolkit resolves them against the file's directory:
// the private copy lives elsewhere.
func absolutePaths(data []byte, dir string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return data, nil
	}
	tlsNode := mappingValueNode(doc.Content[0], "tls_server_config")
	if tlsNode == nil || tlsNode.Kind != yaml.MappingNode {
		return data, nil
	}
	changed := false
	for _, key := range []string{"cert_file", "key_file", "client_ca_file"} {
		if v := mappingValueNode(tlsNode, key); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" && !filepath.IsAbs(v.Value) {
			v.Value = filepath.Join(dir, v.Value)
			changed = true
		}
	}
	if !changed {
		return data, nil
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, errors.New("re-encoding with absolute paths failed")
	}
	return out, nil
}

func mappingValueNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
