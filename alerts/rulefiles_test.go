package alerts

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func TestCheckConfigEmbeddedDefaultsParse(t *testing.T) {
	if err := CheckConfig(&config.Config{}); err != nil {
		t.Fatalf("embedded default rules: %v", err)
	}
	ids, err := ruleFileIDs(defaultRules(), &config.Config{})
	if err != nil || len(ids) == 0 {
		t.Fatalf("embedded rule files = %v, %v; want some", ids, err)
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, embeddedPrefix+"files/") || !strings.HasSuffix(id, ".yml") {
			t.Errorf("embedded rule file id %q, want %sfiles/*.yml", id, embeddedPrefix)
		}
	}
	if ids, _ := ruleFileIDs(defaultRules(), &config.Config{DisableDefaultRules: true}); len(ids) != 0 {
		t.Errorf("DisableDefaultRules: rule files %v, want none", ids)
	}
}

// TestCheckConfigNamesFileGroupRuleAndReason runs every kind of broken rule
// file through CheckConfig.
func TestCheckConfigNamesFileGroupRuleAndReason(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    []string // substrings of the error besides the file path
	}{
		{
			name: "bad promql",
			content: `groups:
  - name: broken-group
    rules:
      - alert: BrokenExpr
        expr: rate(http_requests_total[5m] > 1
`,
			want: []string{`"broken-group"`, `"BrokenExpr"`, "unclosed left parenthesis"},
		},
		{
			name: "bad template",
			content: `groups:
  - name: tmpl-group
    rules:
      - alert: BadTemplate
        expr: up == 0
        annotations:
          summary: '{{ $labels.instance '
`,
			want: []string{`"tmpl-group"`, `"BadTemplate"`, "template"},
		},
		{
			name: "missing name",
			content: `groups:
  - name: anon-group
    rules:
      - expr: up == 0
`,
			want: []string{`"anon-group"`, "one of 'record' or 'alert' must be set"},
		},
		{
			name: "bad for",
			content: `groups:
  - name: for-group
    rules:
      - alert: BadFor
        expr: up == 0
        for: soon
`,
			want: []string{"soon"},
		},
		{
			name:    "not yaml",
			content: "groups: [\n",
			want:    []string{"yaml"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeRules(t, t.TempDir(), "broken.yml", c.content)
			err := CheckConfig(&config.Config{DisableDefaultRules: true, RuleFiles: []string{p}})
			if err == nil {
				t.Fatal("CheckConfig accepted a broken rule file")
			}
			for _, w := range append([]string{p}, c.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCheckConfigMissingFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		pattern string
		wantErr bool
	}{
		{"literal path that does not exist", filepath.Join(dir, "nope.yml"), true},
		{"glob matching nothing", filepath.Join(dir, "*.yml"), false},
		{"malformed glob", filepath.Join(dir, "[.yml"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckConfig(&config.Config{DisableDefaultRules: true, RuleFiles: []string{c.pattern}})
			if (err != nil) != c.wantErr {
				t.Fatalf("CheckConfig(%q) = %v, want error %v", c.pattern, err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "rule_files[0]") {
				t.Errorf("error %q does not name rule_files[0]", err)
			}
		})
	}
}

// TestApplyConfigWithBadRulesKeepsOldRules reloads a broken rule file: the
// error names it and the previous rules keep being evaluated.
func TestApplyConfigWithBadRulesKeepsOldRules(t *testing.T) {
	dir := t.TempDir()
	good := writeRules(t, dir, "good.yml", queueRules)
	target := newApp(t, "app_queue_depth 5\n")
	e := startEngine(t, t.TempDir(), testConfig([]string{good}, []string{target.metricsURL()}), nil)
	eventually(t, 10*time.Second, "QueueDeep active", func() bool { return len(e.Alerts()) == 1 })

	bad := writeRules(t, dir, "bad.yml", `groups:
  - name: replacement
    rules:
      - alert: Replacement
        expr: sum(
`)
	err := e.ApplyConfig(testConfig([]string{bad}, nil))
	if err == nil {
		t.Fatal("ApplyConfig accepted a broken rule file")
	}
	for _, w := range []string{bad, `"replacement"`, `"Replacement"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	// The old rules, and the old scrape target, still run.
	groups := getRules(t, e)
	if len(groups) != 1 || groups[0].Name != "queue" || groups[0].File != good {
		t.Fatalf("rule groups after a bad reload = %+v, want the old group queue from %s", groups, good)
	}
	before := groups[0].LastEvaluation
	eventually(t, 5*time.Second, "old rules still evaluated", func() bool {
		g := getRules(t, e)
		return len(g) == 1 && g[0].LastEvaluation.After(before)
	})
	if as := e.Alerts(); len(as) != 1 || as[0].Name != "QueueDeep" {
		t.Errorf("alerts after a bad reload = %+v, want QueueDeep", as)
	}
}

type ruleGroupJSON struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Interval       float64   `json:"interval"`
	LastEvaluation time.Time `json:"lastEvaluation"`
	Rules          []struct {
		Type        string            `json:"type"`
		Name        string            `json:"name"`
		Query       string            `json:"query"`
		State       string            `json:"state"`
		Duration    float64           `json:"duration"`
		Health      string            `json:"health"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		Alerts      []alertJSON       `json:"alerts"`
	} `json:"rules"`
}

type alertJSON struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    *time.Time        `json:"activeAt"`
	Value       string            `json:"value"`
	KeepFiring  *time.Time        `json:"keepFiringSince"`
}

func apiGet(t *testing.T, e *running, path string, data any) {
	t.Helper()
	mux := http.NewServeMux()
	e.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, rec.Body)
	}
	if env.Status != "success" {
		t.Fatalf("GET %s: status %q", path, env.Status)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		t.Fatalf("GET %s: data: %v in %s", path, err, env.Data)
	}
}

func getRules(t *testing.T, e *running) []ruleGroupJSON {
	t.Helper()
	var d struct {
		Groups []ruleGroupJSON `json:"groups"`
	}
	apiGet(t, e, "/api/v1/rules", &d)
	return d.Groups
}

func TestAPIShapes(t *testing.T) {
	dir := t.TempDir()
	rulesPath := writeRules(t, dir, "queue.yml", queueRules+`      - record: job:app_queue_depth:max
        expr: max by (job) (app_queue_depth)
`)
	target := newApp(t, "app_queue_depth 5\n")
	e := startEngine(t, t.TempDir(), testConfig([]string{rulesPath}, []string{target.metricsURL()}), nil)
	eventually(t, 10*time.Second, "QueueDeep firing", func() bool {
		as := e.Alerts()
		return len(as) == 1 && as[0].State == "firing"
	})

	var alerts struct {
		Alerts []alertJSON `json:"alerts"`
	}
	apiGet(t, e, "/api/v1/alerts", &alerts)
	if len(alerts.Alerts) != 1 {
		t.Fatalf("/api/v1/alerts: %d alerts, want 1", len(alerts.Alerts))
	}
	a := alerts.Alerts[0]
	if a.Labels["alertname"] != "QueueDeep" || a.State != "firing" || a.Value != "5e+00" || a.ActiveAt == nil || a.Annotations["summary"] != "depth 5 on "+target.host() {
		t.Errorf("/api/v1/alerts alert = %+v", a)
	}

	groups := getRules(t, e)
	if len(groups) != 1 || groups[0].Name != "queue" || groups[0].File != rulesPath || groups[0].Interval != 0.1 || len(groups[0].Rules) != 2 {
		t.Fatalf("/api/v1/rules groups = %+v", groups)
	}
	ar, rr := groups[0].Rules[0], groups[0].Rules[1]
	if ar.Type != "alerting" || ar.Name != "QueueDeep" || ar.Query != "app_queue_depth > 3" || ar.State != "firing" ||
		ar.Duration != 0.5 || ar.Health != "ok" || ar.Labels["severity"] != "page" || len(ar.Alerts) != 1 {
		t.Errorf("alerting rule = %+v", ar)
	}
	if rr.Type != "recording" || rr.Name != "job:app_queue_depth:max" || rr.Health != "ok" {
		t.Errorf("recording rule = %+v", rr)
	}

	var onlyAlerts struct {
		Groups []ruleGroupJSON `json:"groups"`
	}
	apiGet(t, e, "/api/v1/rules?type=alert", &onlyAlerts)
	if len(onlyAlerts.Groups) != 1 || len(onlyAlerts.Groups[0].Rules) != 1 || onlyAlerts.Groups[0].Rules[0].Type != "alerting" {
		t.Errorf("/api/v1/rules?type=alert = %+v", onlyAlerts.Groups)
	}

	// The recording rule's output lands in the TSDB.
	eventually(t, 5*time.Second, "recorded series", func() bool {
		_, v, ok := lastSample(t, e, eq("__name__", "job:app_queue_depth:max"), eq("job", "app"))
		return ok && v == 5
	})
	// And so do ALERTS and ALERTS_FOR_STATE.
	_, v, ok := lastSample(t, e, eq("__name__", "ALERTS"), eq("alertname", "QueueDeep"), eq("alertstate", "firing"))
	if !ok || v != 1 {
		t.Errorf("ALERTS{alertstate=firing} = %v (present %v), want 1", v, ok)
	}
	if _, _, ok := lastSample(t, e, eq("__name__", "ALERTS_FOR_STATE"), eq("alertname", "QueueDeep")); !ok {
		t.Error("ALERTS_FOR_STATE missing")
	}
}

// TestShippedRulesEvaluateWithoutErrors runs the embedded rules over the
// series the app and the agent expose, with their real label sets, and
// checks that no rule fails at evaluation (many-to-many joins, duplicate
// series and the like only show up with data).
func TestShippedRulesEvaluateWithoutErrors(t *testing.T) {
	cfg := testConfig(nil, nil)
	cfg.DisableDefaultRules = false
	e := startEngine(t, t.TempDir(), cfg, nil)
	files, err := ruleFileIDs(defaultRules(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	series := shippedSeries(t, e.loader, files)

	e.mu.Lock()
	db := e.db
	e.mu.Unlock()
	for step := range 20 {
		app := db.AppenderV2(t.Context())
		for i, ls := range series {
			v := float64(i%7) + 0.5
			if isCounter(ls.Get("__name__")) {
				v = float64(step * (1 + i%5))
			}
			if _, err := app.Append(0, ls, 0, time.Now().UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatalf("append %s: %v", ls, err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	groups := getRules(t, e)
	nRules := 0
	for _, g := range groups {
		if g.LastEvaluation.IsZero() {
			t.Errorf("group %s (%s) never evaluated", g.Name, g.File)
		}
		for _, r := range g.Rules {
			nRules++
			if r.Health == "err" {
				t.Errorf("rule %s in group %s: health err", r.Name, g.Name)
			}
		}
	}
	if nRules == 0 {
		t.Fatal("no shipped rules loaded")
	}
	if n := metricValue(t, e.reg, "prometheus_rule_evaluation_failures_total", nil); n != 0 {
		t.Errorf("prometheus_rule_evaluation_failures_total = %v, want 0", n)
	}
}
