// Command gen writes the rule files of package rules into rules/files/, and
// the runbook index into docs/runbooks/README.md:
// `go generate ./rules/...` runs it from the rules directory.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vigil-sh/vigil/rules"
)

func main() {
	out := flag.String("out", "files", "directory to write the rule files into")
	index := flag.String("runbook-index", "../docs/runbooks/README.md", "file to write the runbook index into")
	flag.Parse()
	if err := run(*out, *index); err != nil {
		slog.Error("generating rule files", "err", err)
		os.Exit(1)
	}
}

func run(dir, index string) error {
	files, err := rules.Render()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// Remove files whose source is gone, so a renamed file does not linger.
	old, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, p := range old {
		if _, ok := files[filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing stale %s: %w", p, err)
			}
		}
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	if err := os.WriteFile(index, rules.RunbookIndex(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", index, err)
	}
	return nil
}
