package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// apiGet fetches an /api/v1 path of the agent and decodes Prometheus's
// envelope; any status but 200 success fails the test.
func apiGet(t *testing.T, base, path string) json.RawMessage {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status   string          `json:"status"`
		Data     json.RawMessage `json:"data"`
		Error    string          `json:"error"`
		Warnings []string        `json:"warnings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %v", path, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || r.Status != "success" {
		t.Fatalf("GET %s: %d %s: %s", path, resp.StatusCode, r.Status, r.Error)
	}
	return r.Data
}

func vectorLen(t *testing.T, base, expr string) int {
	t.Helper()
	var d struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(apiGet(t, base, "/api/v1/query?query="+url.QueryEscape(expr)), &d); err != nil {
		t.Fatal(err)
	}
	return len(d.Result)
}

// TestRunServesQueryAPI: the running agent answers Prometheus's query API
// over its TSDB, for promtool and for every query of the shipped
// dashboards.
func TestRunServesQueryAPI(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(web.Close)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "agent.yml", fmt.Sprintf(`
global: {interval: 1s, evaluation_interval: 1s}
targets:
  - {name: web, kind: http, interval: 200ms, timeout: 100ms, http: {url: %q}}
`, web.URL))
	base, _ := startAgent(t, "--config.file", cfg)
	eventually(t, "probe_success in the TSDB", func() bool { return vectorLen(t, base, `probe_success{job="blackbox"}`) == 1 })

	t.Run("promtool", func(t *testing.T) {
		promtool := testserver.LookBinary(t, "promtool", "prometheus")
		now := time.Now()
		for _, args := range [][]string{
			{"query", "instant", base, `probe_success{job="blackbox"}`},
			{"query", "range", "--start", strconv.FormatInt(now.Add(-time.Minute).Unix(), 10), "--end", strconv.FormatInt(now.Unix()+2, 10), "--step", "1s", base, `probe_success{job="blackbox"}`},
			{"query", "series", "--match", `probe_success`, base},
			{"query", "labels", base, "job"},
		} {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			out, err := exec.CommandContext(ctx, promtool, args...).CombinedOutput()
			cancel()
			if err != nil || !strings.Contains(string(out), "blackbox") {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})

	t.Run("subquery without step", func(t *testing.T) {
		// The engine used to panic on these (no NoStepSubqueryIntervalFn);
		// its steps are on the 1s evaluation interval.
		eventually(t, "a subquery result", func() bool { return vectorLen(t, base, `max_over_time(probe_success[1m:])`) == 1 })
	})

	t.Run("buildinfo and metadata", func(t *testing.T) {
		var bi struct{ Version, GoVersion string }
		if err := json.Unmarshal(apiGet(t, base, "/api/v1/status/buildinfo"), &bi); err != nil || bi.Version == "" || !strings.HasPrefix(bi.GoVersion, "go") {
			t.Errorf("buildinfo %+v (%v)", bi, err)
		}
		var md map[string][]struct{ Type, Help string }
		if err := json.Unmarshal(apiGet(t, base, "/api/v1/metadata?metric=probe_success"), &md); err != nil || len(md["probe_success"]) != 1 || md["probe_success"][0].Type != "gauge" {
			t.Errorf("metadata of probe_success: %+v (%v)", md, err)
		}
		if err := json.Unmarshal(apiGet(t, base, "/api/v1/metadata?metric=vigil_probes_total"), &md); err != nil || len(md["vigil_probes_total"]) != 1 || md["vigil_probes_total"][0].Type != "counter" {
			t.Errorf("metadata of vigil_probes_total: %+v (%v)", md, err)
		}
	})

	t.Run("dashboards", func(t *testing.T) {
		queries := dashboardQueries(t)
		if len(queries) < 50 {
			t.Fatalf("found %d dashboard queries, want the shipped ones (100+)", len(queries))
		}
		now := time.Now().Unix()
		rng := fmt.Sprintf("&start=%d&end=%d&step=15", now-3600, now)
		for _, q := range queries {
			switch {
			case q.labelValues != "":
				path := "/api/v1/label/" + q.labelValues + "/values"
				if q.match != "" {
					path += "?match[]=" + url.QueryEscape(q.match)
				}
				apiGet(t, base, path)
			default:
				apiGet(t, base, "/api/v1/query?query="+url.QueryEscape(q.expr))
				apiGet(t, base, "/api/v1/query_range?query="+url.QueryEscape(q.expr)+rng)
			}
		}
	})
}

type dashboardQuery struct {
	where              string
	expr               string // PromQL, variables substituted
	labelValues, match string // a label_values() variable query
}

// Grafana's variables, as a data source receives them: multi-value
// variables with "All" become a regex.
var dashboardVars = map[string]string{
	"job": ".+", "instance": ".+", "__rate_interval": "1m", "__interval": "15s", "__range": "1h",
}

var (
	varRef          = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)
	labelValuesCall = regexp.MustCompile(`^label_values\((?:(.*),\s*)?(\w+)\)$`)
)

// dashboardQueries reads every panel target's expr and every query
// variable of the shipped dashboards.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	files, err := filepath.Glob("../../dashboards/json/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards found: %v", err)
	}
	subst := func(where, s string) string {
		return varRef.ReplaceAllStringFunc(s, func(ref string) string {
			m := varRef.FindStringSubmatch(ref)
			name := m[1] + m[2]
			v, ok := dashboardVars[name]
			if !ok {
				t.Errorf("%s: unknown variable %s in %q", where, ref, s)
			}
			return v
		})
	}
	var out []dashboardQuery
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
				Panels []struct {
					Title   string `json:"title"`
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Type  string `json:"type"`
					Name  string `json:"name"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := filepath.Base(f)
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				out = append(out, dashboardQuery{where: name + " / " + p.Title, expr: subst(name, tg.Expr)})
			}
			for _, sp := range p.Panels { // collapsed rows
				for _, tg := range sp.Targets {
					out = append(out, dashboardQuery{where: name + " / " + sp.Title, expr: subst(name, tg.Expr)})
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(string)
			if m, ok := v.Query.(map[string]any); ok {
				q, _ = m["query"].(string)
			}
			m := labelValuesCall.FindStringSubmatch(strings.TrimSpace(q))
			if m == nil {
				t.Errorf("%s: variable %s: query %q is not label_values(...)", name, v.Name, q)
				continue
			}
			out = append(out, dashboardQuery{where: name + " / $" + v.Name, labelValues: m[2], match: subst(name, m[1])})
		}
	}
	return out
}

// TestGeneratorURLLeadsToTheGraphPage: the generatorURL of a real firing
// alert, as Alertmanager received it, opens the agent's /graph page with
// the alert's expression (escaped) and its result.
func TestGeneratorURLLeadsToTheGraphPage(t *testing.T) {
	am := testserver.Alertmanager(t, `
route: {receiver: none, group_wait: 1s, group_interval: 1s}
receivers: [{name: none}]
`)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(web.Close)
	dir := t.TempDir()
	expr := `sum by (job) (probe_success{job="blackbox"}) >= 1`
	writeFile(t, dir, "rules.yml", fmt.Sprintf(`
groups:
  - name: page
    rules:
      - alert: GraphPageCheck
        expr: %s
`, strconv.Quote(expr)))
	cfg := writeFile(t, dir, "agent.yml", fmt.Sprintf(`
global: {interval: 1s, evaluation_interval: 1s}
disable_default_rules: true
rule_files: [%q]
targets:
  - {name: web, kind: http, interval: 200ms, timeout: 100ms, http: {url: %q}}
alerting:
  alertmanagers: [{url: %q}]
`, filepath.Join(dir, "rules.yml"), web.URL, am.URL))
	base, _ := startAgent(t, "--config.file", cfg)

	var gen string
	eventually(t, "GraphPageCheck at Alertmanager", func() bool {
		alerts, err := am.Alerts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "GraphPageCheck" {
				gen = a.GeneratorURL
				return true
			}
		}
		return false
	})
	if !strings.HasPrefix(gen, base+"/graph?") {
		t.Fatalf("generatorURL %q does not point at the agent's /graph (%s)", gen, base)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(gen)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	page := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s", gen, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		html.EscapeString(expr),         // the expression, escaped
		`{job=&#34;blackbox&#34;}</td>`, // its result row
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/graph page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, expr) || strings.Contains(page, "<script") {
		t.Errorf("/graph page shows the expression unescaped or runs script:\n%s", page)
	}
}

// TestQueryAPIBehindBasicAuth: --web.config.file guards the query API and
// /graph as every other endpoint; promtool reaches it with credentials.
func TestQueryAPIBehindBasicAuth(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	webCfg := writeFile(t, dir, "web.yml", "basic_auth_users: {admin: "+string(h)+"}\n")
	cfg := writeFile(t, dir, "agent.yml", "targets: [{name: box, kind: host}]\n")
	base, _ := startAgentAuth(t, "pw", "--config.file", cfg, "--web.config.file", webCfg)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/api/v1/query?query=1", "/api/v1/labels", "/api/v1/status/buildinfo", "/graph?g0.expr=1"} {
		for pw, want := range map[string]int{"": http.StatusUnauthorized, "wrong": http.StatusUnauthorized, "pw": http.StatusOK} {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if pw != "" {
				req.SetBasicAuth("admin", pw)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET %s with password %q = %d, want %d", path, pw, resp.StatusCode, want)
			}
		}
	}

	promtool := testserver.LookBinary(t, "promtool", "prometheus")
	// promtool 2.42 has no --http.config.file: credentials in the URL.
	withAuth := strings.Replace(base, "http://", "http://admin:pw@", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool, "query", "instant", withAuth, "vector(42)").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "42") {
		t.Errorf("promtool with basic auth: %v\n%s", err, out)
	}
}

func TestQueryFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"--query.timeout", "30s", "--query.max-samples", "1000"}, ""},
		{[]string{"--query.timeout", "0s"}, "--query.timeout and --query.max-samples must be positive"},
		{[]string{"--query.max-samples", "-1"}, "--query.timeout and --query.max-samples must be positive"},
		{[]string{"--query.timeout", "soon"}, `invalid value "soon" for flag -query.timeout`},
	} {
		f, err := parseFlags(tc.args, io.Discard)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.wantErr)
		case tc.wantErr == "" && len(tc.args) == 0 && (f.queryTimeout != 2*time.Minute || f.queryMaxSamples != 50_000_000):
			t.Errorf("defaults %s and %d, want Prometheus's 2m and 50000000", f.queryTimeout, f.queryMaxSamples)
		}
	}
}
