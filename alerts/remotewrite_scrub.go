package alerts

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// scrubHandler removes the remote_write secrets from every log record of
// upstream's remote storage: its messages quote receivers' error bodies and
// client errors, which the agent does not control.
type scrubHandler struct {
	next    slog.Handler
	secrets *atomic.Pointer[[]string]
}

func newScrubHandler(next slog.Handler) *scrubHandler {
	return &scrubHandler{next: next, secrets: &atomic.Pointer[[]string]{}}
}

func (h *scrubHandler) setSecrets(s []string) { h.secrets.Store(&s) }

func (h *scrubHandler) scrub(s string) string {
	if p := h.secrets.Load(); p != nil {
		return config.Scrub(s, *p)
	}
	return config.Scrub(s, nil)
}

func (h *scrubHandler) scrubAttr(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString, slog.KindAny:
		return slog.String(a.Key, h.scrub(a.Value.String()))
	case slog.KindGroup:
		as := a.Value.Group()
		out := make([]any, len(as))
		for i, g := range as {
			out[i] = h.scrubAttr(g)
		}
		return slog.Group(a.Key, out...)
	}
	return a
}

func (h *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.scrubAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	scrubbed := make([]slog.Attr, len(as))
	for i, a := range as {
		scrubbed[i] = h.scrubAttr(a)
	}
	return &scrubHandler{next: h.next.WithAttrs(scrubbed), secrets: h.secrets}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}
