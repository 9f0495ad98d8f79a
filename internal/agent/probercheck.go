package agent

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/vigil-sh/vigil/collectors"
	"github.com/vigil-sh/vigil/internal/agent/config"
)

// checkProbers builds every target's prober exactly as ApplyConfig does,
// then closes it, so `--check-config`, start-up and a reload reject what the
// probers' constructors refuse (say a MongoDB URI option the driver cannot
// use) — every bad target at once, each with its path and line.
func checkProbers(cfg *config.Config, lines []int, newProber func(config.Target, *slog.Logger) (collectors.Prober, error)) config.Errors {
	if newProber == nil {
		newProber = collectors.New
	}
	quiet := slog.New(slog.DiscardHandler)
	var problems config.Errors
	for i, t := range cfg.Targets {
		p, err := newProber(t, quiet)
		if err != nil {
			line := 0
			if i < len(lines) {
				line = lines[i]
			}
			problems = append(problems, config.Problem{
				Path: fmt.Sprintf("targets[%d]", i),
				Line: line,
				Msg:  proberError(t, err),
			})
			continue
		}
		_ = p.Close() // nothing ran: closing releases only what the constructor made
	}
	return problems
}

// proberError flattens a constructor error to text so the target's secrets
// can be scrubbed (it may quote the URI), naming the target once.
func proberError(t config.Target, err error) string {
	msg := config.Scrub(err.Error(), t.Secrets())
	name := fmt.Sprintf("target %q", t.Name)
	if rest, ok := strings.CutPrefix(msg, name+": "); ok {
		msg = rest
	}
	return fmt.Sprintf("%s (%s): %s", name, t.Kind, msg)
}
