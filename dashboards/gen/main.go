// Command gen writes the dashboards' JSON and layout pictures from their Go
// source: `go generate ./dashboards/...` runs it from the dashboards folder.
package main

import (
	"flag"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vigil-sh/vigil/dashboards"
)

func main() {
	root := flag.String("root", "..", "repository root the generated paths are relative to")
	flag.Parse()
	files, err := dashboards.Generate()
	if err != nil {
		slog.Error("generating dashboards", "err", err)
		os.Exit(1)
	}
	for _, f := range files {
		p := filepath.Join(*root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			slog.Error("creating folder", "path", p, "err", err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			slog.Error("writing generated file", "path", p, "err", err)
			os.Exit(1)
		}
	}
	slog.Info("generated dashboards", "files", len(files))
}
