package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-sh/vigil/rules"
)

// notExposedHere lists the metrics a shipped rule names that this test's
// stack cannot make the app or the agent expose, and why. Each names the
// collector source that emits it: the test requires that file and its
// _test.go beside it to spell the name, so an exception cannot hide a typo
// in a rule. The test fails when an exception is named by no rule, or is
// exposed after all although the stack alone decides (not the machine), so
// the table stays honest.
var notExposedHere = []struct {
	metric, reason, source string
	byMachine              bool // whether the test machine decides, not the stack
}{
	{"mongodb_ss_connections", "FerretDB's serverStatus has no connections section", "collectors/mongodb_compat.go", false},
	{"mongodb_mongod_replset_member_health", "FerretDB has no replica sets", "collectors/mongodb_replset.go", false},
	{"mongodb_mongod_replset_member_replication_lag", "FerretDB has no replica sets", "collectors/mongodb_replset.go", false},
	{"container_memory_working_set_bytes", "the test machine is not in a cgroup v2 container", "collectors/cgroup.go", true},
	{"container_spec_memory_limit_bytes", "the test machine is not in a cgroup v2 container with a memory limit", "collectors/cgroup.go", true},
	{"probe_ssl_earliest_cert_expiry", "deploy/agent/agent.yml probes only the app, over plain HTTP: no target serves a certificate", "collectors/tcp.go", false},
}

// alwaysNamable are the names rule evaluation itself writes.
var alwaysNamable = []string{"ALERTS", "ALERTS_FOR_STATE"}

// TestRulesNameOnlyExposedMetrics proves no shipped rule is dead for want of
// its input: after real traffic, every metric any expression of any rule in
// rules/files names is one the running app (job app) or agent (job agent)
// put into Prometheus, a recording rule of the shipped files, or an entry of
// notExposedHere.
func TestRulesNameOnlyExposedMetrics(t *testing.T) {
	s := newStack(t, stackOptions{replicas: 1, interval: time.Second, ruleFor: 2 * time.Second, prometheus: true})
	ctx := t.Context()
	start := time.Now()

	driveTraffic(t, s.apps[0])
	// The traffic's series reached Prometheus, and every app and agent has
	// been scraped a few times.
	for _, expr := range []string{
		`vigil_probe_failures_total{job="agent",target="redis"}`,
		`http_requests_total{job="app",status="404"}`,
	} {
		waitFor(t, expr+" in Prometheus", 60*time.Second, func() error { return nonEmpty(ctx, s, expr) })
	}
	scraped := fmt.Sprintf(`count(count_over_time(up{job=~"app|agent"}[1h]) >= 3 and up == 1) == %d`, len(s.apps)+len(s.agents))
	waitFor(t, "three scrapes of every app and agent", 60*time.Second, func() error {
		return nonEmpty(ctx, s, scraped)
	})
	time.Sleep(3 * time.Second) // a few more, after the agent's first rule evaluations

	exposed := exposedNames(t, s, start)
	files := shippedRules(t)
	for _, f := range files {
		for _, name := range f.recorded {
			exposed[name] = "recording rule of " + f.name
		}
	}
	for _, name := range alwaysNamable {
		exposed[name] = "written by rule evaluation"
	}

	excepted := map[string]bool{}
	for _, e := range notExposedHere {
		if excepted[e.metric] {
			t.Errorf("notExposedHere lists %s twice", e.metric)
		}
		excepted[e.metric] = true
		switch src, ok := exposed[e.metric]; {
		case ok && e.byMachine:
			t.Logf("%s is exposed (%s) on this machine; elsewhere %s", e.metric, src, e.reason)
		case ok:
			t.Errorf("%s is exposed (%s) although notExposedHere says %q: remove the exception", e.metric, src, e.reason)
		}
		checkEmitterTested(t, e.metric, e.source)
	}

	used := map[string]bool{}
	checked := 0
	for _, f := range files {
		for _, r := range f.rules {
			names, err := rules.MetricNames(r.expr)
			if err != nil {
				t.Errorf("%s: %s: %v", f.name, r.name, err)
				continue
			}
			for _, m := range names {
				checked++
				if excepted[m] {
					used[m] = true
				}
				if exposed[m] == "" && !excepted[m] {
					t.Errorf("%s: rule %s names metric %s, which neither the app nor the agent exposes and notExposedHere does not excuse%s",
						f.name, r.name, m, nearNames(m, exposed))
				}
			}
		}
	}
	for _, e := range notExposedHere {
		if !used[e.metric] {
			t.Errorf("notExposedHere lists %s (%s), which no shipped rule names: remove the exception", e.metric, e.reason)
		}
	}
	if checked == 0 {
		t.Fatal("the shipped rules name no metric at all: the rule files were not read")
	}
	t.Logf("%d metric references in %d rule files checked against %d exposed names; %d excused", checked, len(files), len(exposed), len(used))
}

// driveTraffic signs up, creates a project, reads it and asks for a missing
// one, so the app's request, database and cache metrics have series.
func driveTraffic(t *testing.T, app *instance) {
	t.Helper()
	ctx := t.Context()
	tok := session(t, app.url, "rulecoverage")
	code, body, err := httpDo(ctx, http.MethodPost, app.url+"/api/projects", tok, []byte(`{"name":"Coverage"}`))
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create project on %s: %d %v %s", app.name, code, err, body)
	}
	var p struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.ID == "" {
		t.Fatalf("create project: no id in %s (%v)", body, err)
	}
	for range 2 { // a miss, then a hit
		if code, body, err := httpDo(ctx, http.MethodGet, app.url+"/api/projects/"+p.ID, tok, nil); err != nil || code != http.StatusOK {
			t.Fatalf("read project %s: %d %v %s", p.ID, code, err, body)
		}
	}
	if code, body, err := httpDo(ctx, http.MethodGet, app.url+"/api/projects/000000000000000000000000", tok, nil); err != nil || code != http.StatusNotFound {
		t.Fatalf("read a missing project: %d %v %s, want 404", code, err, body)
	}
}

func nonEmpty(ctx context.Context, s *stack, expr string) error {
	v, err := s.query(ctx, expr)
	if err != nil {
		return err
	}
	if len(v) == 0 {
		return fmt.Errorf("%s: empty", expr)
	}
	return nil
}

// exposedNames returns the metric names Prometheus holds for the app and
// agent jobs since start, each with where it came from. A histogram or
// summary family also counts under its bare name and its _bucket, _count and
// _sum series, whichever way Prometheus ingested it (classic or native).
func exposedNames(t *testing.T, s *stack, start time.Time) map[string]string {
	t.Helper()
	// The agent's targets arrive under their exporters' default jobs
	// (scraped with honor_labels, deploy/prometheus/prometheus.yml).
	const match = `{job=~"app|agent|redis|mongodb|node|blackbox"}`
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	values, _, _, err := s.prom.API().LabelValues(ctx, model.MetricNameLabel, []string{match}, start, time.Now())
	if err != nil {
		t.Fatalf("metric names of %s: %v", match, err)
	}
	names := map[string]string{}
	for _, v := range values {
		names[string(v)] = "series"
	}
	md, err := s.prom.API().TargetsMetadata(ctx, match, "", "")
	if err != nil {
		t.Fatalf("metadata of the targets %s: %v", match, err)
	}
	for _, m := range md {
		var suffixes []string
		switch m.Type {
		case promv1.MetricTypeHistogram, promv1.MetricTypeGaugeHistogram:
			suffixes = []string{"", "_bucket", "_count", "_sum"}
		case promv1.MetricTypeSummary:
			suffixes = []string{"", "_count", "_sum"}
		}
		for _, sfx := range suffixes {
			if _, ok := names[m.Metric+sfx]; !ok {
				names[m.Metric+sfx] = string(m.Type) + " " + m.Metric
			}
		}
	}
	if names["up"] == "" || names["http_requests_total"] == "" || names["vigil_probes_total"] == "" {
		t.Fatalf("Prometheus holds too little for %s to judge the rules by: %v", match, slices.Sorted(maps.Keys(names)))
	}
	return names
}

type ruleFile struct {
	name     string
	rules    []namedExpr
	recorded []string
}

type namedExpr struct{ name, expr string }

// shippedRules parses the rule files as the agent embeds them.
func shippedRules(t *testing.T) []ruleFile {
	t.Helper()
	paths, err := fs.Glob(rules.Files, "files/*.yml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rule files embedded in package rules (%v)", err)
	}
	var out []ruleFile
	for _, p := range paths {
		b, err := fs.ReadFile(rules.Files, p)
		if err != nil {
			t.Fatal(err)
		}
		rgs, errs := rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			t.Fatalf("rules/%s: %v", p, errs)
		}
		f := ruleFile{name: "rules/" + p}
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				name := "alert " + r.Alert
				if r.Record != "" {
					name = "record " + r.Record
					f.recorded = append(f.recorded, r.Record)
				}
				f.rules = append(f.rules, namedExpr{name: fmt.Sprintf("%s (group %s)", name, g.Name), expr: r.Expr})
			}
		}
		out = append(out, f)
	}
	return out
}

// checkEmitterTested requires the collector source to emit the metric under
// exactly this name and its test to check it.
func checkEmitterTested(t *testing.T, metric, source string) {
	t.Helper()
	literal := regexp.MustCompile(`"` + regexp.QuoteMeta(metric) + `"`)
	for _, f := range []string{source, strings.TrimSuffix(source, ".go") + "_test.go"} {
		if !literal.Match(readRepo(t, f)) {
			t.Errorf("notExposedHere excuses %s, but %s does not spell it: the exception would hide a misspelt name", metric, f)
		}
	}
}

// nearNames suggests exposed names sharing the metric's first two words, for
// the failure message.
func nearNames(metric string, exposed map[string]string) string {
	words := strings.SplitN(metric, "_", 3)
	if len(words) < 2 {
		return ""
	}
	prefix := words[0] + "_" + words[1]
	var near []string
	for n := range exposed {
		if strings.HasPrefix(n, prefix) {
			near = append(near, n)
		}
	}
	if len(near) == 0 {
		return ""
	}
	slices.Sort(near)
	if len(near) > 12 {
		near = append(near[:12], "…")
	}
	return "; exposed names starting " + prefix + ": " + strings.Join(near, ", ")
}
