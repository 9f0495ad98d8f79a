package alerts

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

// embeddedPrefix marks a rule file read from the binary's embedded defaults
// rather than from disk; it shows in /api/v1/rules as the group's file.
const embeddedPrefix = "embedded:"

// ruleLoader is a rules.GroupLoader reading the embedded defaults from an
// fs.FS and every other file from disk, so the defaults never have to be
// materialized next to the TSDB.
type ruleLoader struct {
	embedded fs.FS
	parser   parser.Parser
	logger   *slog.Logger
}

func newRuleLoader(embedded fs.FS, logger *slog.Logger) ruleLoader {
	return ruleLoader{embedded: embedded, parser: parser.NewParser(parser.Options{}), logger: logger}
}

// Load implements rules.GroupLoader. Every error names the file; rulefmt's
// own errors add the line, group, rule index and rule name.
func (l ruleLoader) Load(id string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	name, ok := strings.CutPrefix(id, embeddedPrefix)
	if !ok {
		if fi, err := os.Stat(id); err == nil && fi.Size() > config.MaxRuleFileBytes {
			return nil, []error{fmt.Errorf("%s: %d bytes, more than the limit of %d", id, fi.Size(), config.MaxRuleFileBytes)}
		}
		return rulefmt.ParseFile(id, ignoreUnknownFields, scheme, l.parser, l.logger)
	}
	b, err := fs.ReadFile(l.embedded, name)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", id, err)}
	}
	rgs, errs := rulefmt.Parse(b, ignoreUnknownFields, scheme, l.parser, l.logger)
	for i := range errs {
		errs[i] = fmt.Errorf("%s: %w", id, errs[i])
	}
	return rgs, errs
}

// Parse implements rules.GroupLoader.
func (l ruleLoader) Parse(query string) (parser.Expr, error) {
	return l.parser.ParseExpr(query)
}

// ruleFileIDs lists the rule files a configuration evaluates: the embedded
// defaults (unless disabled) and then every file matched by cfg.RuleFiles.
// A pattern without glob characters must name an existing file: a typo in a
// path would otherwise silently drop every alert it holds.
func ruleFileIDs(embedded fs.FS, cfg *config.Config) ([]string, error) {
	var ids []string
	if !cfg.DisableDefaultRules && embedded != nil {
		names, err := fs.Glob(embedded, "files/*.yml")
		if err != nil {
			return nil, fmt.Errorf("listing embedded rule files: %w", err)
		}
		for _, n := range names {
			ids = append(ids, embeddedPrefix+n)
		}
	}
	nEmbedded := len(ids)
	var errs []error
	for i, pat := range cfg.RuleFiles {
		matches, err := filepath.Glob(pat)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule_files[%d] %q: %w", i, pat, err))
			continue
		}
		if len(matches) == 0 && !hasMeta(pat) {
			errs = append(errs, fmt.Errorf("rule_files[%d] %q: %w", i, pat, fs.ErrNotExist))
			continue
		}
		slices.Sort(matches)
		for _, m := range matches {
			if !slices.Contains(ids, m) {
				ids = append(ids, m)
			}
		}
	}
	if n := len(ids) - nEmbedded; n > config.MaxRuleFiles {
		errs = append(errs, fmt.Errorf("rule_files: the patterns match %d files, more than the limit of %d", n, config.MaxRuleFiles))
	}
	return ids, errors.Join(errs...)
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// checkRuleFiles parses every file and every rule expression with the same
// loader the rules manager uses, returning all problems at once.
func checkRuleFiles(l ruleLoader, ids []string) error {
	var errs []error
	for _, id := range ids {
		rgs, ferrs := l.Load(id, false, model.UTF8Validation)
		if len(ferrs) > 0 {
			ferrs = l.detail(id, ferrs)
		}
		errs = append(errs, ferrs...)
		if rgs == nil || len(ferrs) > 0 {
			continue // rulefmt already reported the expressions it could not parse
		}
		for _, g := range rgs.Groups {
			for i, r := range g.Rules {
				if _, err := l.Parse(r.Expr); err != nil {
					errs = append(errs, fmt.Errorf("%s: group %q, rule %d, %q: %w", id, g.Name, i+1, r.Alert+r.Record, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// CheckConfig reports whether every rule file the configuration evaluates
// parses: the embedded defaults unless cfg.DisableDefaultRules, and the
// files matched by cfg.RuleFiles. Errors name the file, group, rule and
// reason.
func CheckConfig(cfg *config.Config) error {
	ids, err := ruleFileIDs(defaultRules(), cfg)
	if err != nil {
		return fmt.Errorf("rule files: %w", err)
	}
	if err := checkRuleFiles(newRuleLoader(defaultRules(), slog.New(slog.DiscardHandler)), ids); err != nil {
		return fmt.Errorf("rule files: %w", err)
	}
	return nil
}

// detail re-checks a file rulefmt found wrong group by group and rule by
// rule, so every problem is reported once, each with its line, group and
// rule (see checkRuleFileContent); rulefmt's own errors, without repeats,
// when that finds nothing (a YAML syntax error).
func (l ruleLoader) detail(id string, ferrs []error) []error {
	var data []byte
	var err error
	if name, ok := strings.CutPrefix(id, embeddedPrefix); ok {
		data, err = fs.ReadFile(l.embedded, name)
	} else {
		data, err = config.ReadLimited(id, config.MaxRuleFileBytes)
	}
	if err == nil {
		if errs := checkRuleFileContent(id, data, l.parser); len(errs) > 0 {
			return errs
		}
	}
	var out []error
	seen := map[string]bool{}
	for _, e := range ferrs {
		msg := e.Error()
		if !strings.HasPrefix(msg, id) {
			e = fmt.Errorf("%s: %w", id, e)
			msg = e.Error()
		}
		if !seen[msg] {
			seen[msg] = true
			out = append(out, e)
		}
	}
	return out
}
