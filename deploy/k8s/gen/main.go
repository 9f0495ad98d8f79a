// Command gen writes the generated Kubernetes manifests into deploy/k8s.
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/vigil-sh/vigil/deploy/k8s"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	files, err := k8s.Generate(*root)
	if err != nil {
		log.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*root, "deploy/k8s", name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
