// Package dashboards holds Vigil's Grafana dashboards as code. Each
// dashboard is declared in Go with the Grafana foundation SDK (one file per
// dashboard), generated into json/*.json by `go generate` and embedded in
// the binary, so the agent can serve the exact JSON that is committed.
// Thresholds come from package thresholds, the same constants the alert
// rules use, so a panel turns red where the alert fires.
package dashboards

//go:generate go run ./gen

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"sort"
)

// Files holds the generated dashboards, json/<uid>.json.
//
//go:embed json/*.json
var Files embed.FS

// Entry is one dashboard in the index.
type Entry struct {
	UID   string `json:"uid"`
	Title string `json:"title"`
	File  string `json:"file"`
}

// Index lists the embedded dashboards, sorted by uid.
func Index() ([]Entry, error) {
	names, err := fs.Glob(Files, "json/*.json")
	if err != nil {
		return nil, fmt.Errorf("listing embedded dashboards: %w", err)
	}
	out := make([]Entry, 0, len(names))
	for _, name := range names {
		raw, err := Files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading embedded dashboard %s: %w", name, err)
		}
		var head struct {
			UID   string `json:"uid"`
			Title string `json:"title"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("decoding embedded dashboard %s: %w", name, err)
		}
		out = append(out, Entry{UID: head.UID, Title: head.Title, File: path.Base(name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// Handler serves the embedded dashboards:
//
//	GET /api/v1/dashboards        the index, a JSON list of {uid, title, file}
//	GET /api/v1/dashboards/{uid}  one dashboard's JSON, ready for Grafana's import
//
// Mount it on both paths, e.g. mux.Handle("/api/v1/dashboards", h) and
// mux.Handle("/api/v1/dashboards/", h).
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/dashboards", func(w http.ResponseWriter, r *http.Request) {
		idx, err := Index()
		if err != nil {
			slog.ErrorContext(r.Context(), "serving dashboard index", "err", err)
			http.Error(w, "dashboard index unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(idx); err != nil {
			slog.DebugContext(r.Context(), "writing dashboard index", "err", err)
		}
	})
	mux.HandleFunc("GET /api/v1/dashboards/{uid}", func(w http.ResponseWriter, r *http.Request) {
		uid := r.PathValue("uid")
		idx, err := Index()
		if err != nil {
			slog.ErrorContext(r.Context(), "serving dashboard", "uid", uid, "err", err)
			http.Error(w, "dashboard index unavailable", http.StatusInternalServerError)
			return
		}
		for _, e := range idx {
			if e.UID != uid {
				continue
			}
			raw, err := Files.ReadFile("json/" + e.File)
			if err != nil {
				slog.ErrorContext(r.Context(), "serving dashboard", "uid", uid, "err", err)
				http.Error(w, "dashboard unavailable", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(raw)
			return
		}
		http.Error(w, fmt.Sprintf("no dashboard with uid %q", uid), http.StatusNotFound)
	})
	return mux
}
