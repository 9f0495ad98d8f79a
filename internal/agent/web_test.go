package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"

	"github.com/vigil-sh/vigil/collectors"
	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// staticRules is a RuleEngine with fixed alerts.
type staticRules struct{ alerts []Alert }

func (s staticRules) ApplyConfig(*config.Config) error { return nil }
func (s staticRules) Alerts() []Alert                  { return s.alerts }

func TestStatusPageAPIAndSecrets(t *testing.T) {
	const (
		redisPW    = "redisPw-s3cret-42"
		wrongPW    = "wrongPw-s3cret-43"
		mongoPW    = "mongoPw-s3cret-44"
		httpPW     = "httpPw-s3cret-45"
		scrapeTok  = "scrapeTok-s3cret-46"
		headerAuth = "headerTok-s3cret-47"
	)
	secrets := []string{redisPW, wrongPW, mongoPW, httpPW, scrapeTok, headerAuth}

	web := okServer(t)
	rds := testserver.Redis(t, testserver.WithPassword(redisPW))
	mongo := testserver.Mongo(t)
	mongoURI := strings.Replace(mongo.URI, "mongodb://", "mongodb://vigil:"+mongoPW+"@", 1)

	cfg := yamlf(fmt.Sprintf(`
global: {interval: 2s, timeout: 1500ms}
targets:
- name: web
	kind: http
	http:
		url: %q
		headers: {Authorization: "Bearer %s"}
- name: web-down
	kind: http
	http: {url: "http://user:%s@127.0.0.1:1/health"}
- name: cache
	kind: redis
	redis: {address: %q, password: %q}
- name: cache-wrong-pw
	kind: redis
	instance: wrong-pw
	redis: {address: %q, password: %q}
- name: db
	kind: mongodb
	mongodb: {uri: %q}
- name: db-auth
	kind: mongodb
	instance: auth
	mongodb: {uri: %q}
- name: port
	kind: tcp
	tcp: {address: %q}
scrape_configs:
- job_name: app
	proxy_url: %q
	authorization: {credentials: %q}
	static_configs: [{targets: ["127.0.0.1:1"]}]
`, web.URL, headerAuth, httpPW, rds.Addr, redisPW, rds.Addr, wrongPW, mongo.URI, mongoURI, rds.Addr, "http://u:"+httpPW+"@127.0.0.1:1", scrapeTok))
	alert := Alert{Name: "RedisDown", State: "firing", Value: 0, Labels: map[string]string{"target": "cache", "severity": "critical"}, ActiveAt: time.Now().Add(-time.Minute)}
	a := newTestAgent(t, cfg, func(o *Options) { o.Rules = staticRules{[]Alert{alert}} })
	names := []string{"web", "web-down", "cache", "cache-wrong-pw", "db", "db-auth", "port"}
	waitFor(t, 20*time.Second, "every target probed", func() bool {
		for _, ts := range a.Targets() {
			if ts.Probes == 0 {
				return false
			}
		}
		return true
	})
	h := a.Handler()

	// JSON: every target, in configuration order, with the expected health.
	code, body := get(t, h, http.MethodGet, "/api/v1/targets")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/targets = %d", code)
	}
	var resp struct {
		Status string
		Data   struct{ Targets []TargetStatus }
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("decoding /api/v1/targets: %v\n%s", err, body)
	}
	wantHealth := map[string]string{"web": "up", "web-down": "down", "cache": "up", "cache-wrong-pw": "down", "db": "up", "port": "up"}
	if len(resp.Data.Targets) != len(names) {
		t.Fatalf("/api/v1/targets lists %d targets, want %d", len(resp.Data.Targets), len(names))
	}
	for i, ts := range resp.Data.Targets {
		if ts.Name != names[i] {
			t.Errorf("targets[%d] = %s, want %s", i, ts.Name, names[i])
		}
		// db-auth's health depends on the server: FerretDB v1 refuses
		// SCRAM, MongoDB would refuse the unknown user. Only its secret matters.
		if want, ok := wantHealth[ts.Name]; ok && ts.Health != want {
			t.Errorf("%s health %s (reason %q, err %q), want %s", ts.Name, ts.Health, ts.Reason, ts.LastError, wantHealth[ts.Name])
		}
		if ts.LastProbe.IsZero() || len(ts.History) == 0 {
			t.Errorf("%s: no last probe or history: %+v", ts.Name, ts)
		}
		if ts.Health == "down" && (ts.Reason == "" || ts.LastError == "") {
			t.Errorf("%s is down without reason or error: %+v", ts.Name, ts)
		}
	}

	// HTML: a row per target, with its kind and state, and the alert.
	code, page := get(t, h, http.MethodGet, "/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d", code)
	}
	rows := targetRows(t, page)
	for _, n := range names {
		cells, ok := rows[n]
		if !ok {
			t.Errorf("status page has no row for target %s", n)
			continue
		}
		if !strings.Contains(cells, wantHealth[n]) || !strings.Contains(cells, n) {
			t.Errorf("status page row for %s lacks state %s: %q", n, wantHealth[n], cells)
		}
	}
	if !strings.Contains(page, "RedisDown") || !strings.Contains(page, `severity="critical"`) {
		t.Error("status page lacks the firing alert")
	}

	// Secrets: nowhere.
	_, metrics := get(t, h, http.MethodGet, "/metrics")
	code, cfgEcho := get(t, h, http.MethodGet, "/api/v1/status/config")
	if code != http.StatusOK || !strings.Contains(cfgEcho, "cache-wrong-pw") {
		t.Errorf("GET /api/v1/status/config = %d %s", code, cfgEcho)
	}
	outputs := map[string]string{"/metrics": metrics, "/": page, "/api/v1/targets": body, "/api/v1/status/config": cfgEcho, "logs": a.logs.String()}
	for where, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s contains the secret %q", where, s)
			}
		}
	}
	if !strings.Contains(a.logs.String(), "target=cache-wrong-pw") {
		t.Error("the failing target was not logged with its name")
	}
}

// targetRows maps each target row's data-target to its text.
func targetRows(t *testing.T, page string) map[string]string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parsing the status page: %v", err)
	}
	rows := map[string]string{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			for _, at := range n.Attr {
				if at.Key == "data-target" {
					rows[at.Val] = text(n)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return rows
}

func text(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(text(c))
		b.WriteString(" ")
	}
	return b.String()
}

func TestBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("letmein"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(t.TempDir(), "web.yml")
	writeFile(t, webCfg, fmt.Sprintf("basic_auth_users:\n  admin: %s\n", hash))
	a := newTestAgent(t, "targets: []\n", nil)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- a.ServeListener(ctx, l, webCfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	})

	tests := []struct {
		name, user, pass string
		want             int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", "admin", "nope", http.StatusUnauthorized},
		{"unknown user", "root", "letmein", http.StatusUnauthorized},
		{"good credentials", "admin", "letmein", http.StatusOK},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/metrics", "/", "/api/v1/targets", "/api/v1/dashboards", "/api/v1/dashboards/vigil-service"} {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+l.Addr().String()+path, nil)
				if tt.user != "" {
					req.SetBasicAuth(tt.user, tt.pass)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, tt.want)
				}
			}
		})
	}
}

// leakyProber fails with an error quoting its target's secrets, as a careless
// driver error might: the agent must scrub them before showing anything.
type leakyProber struct{ msg string }

func (p leakyProber) Probe(context.Context) collectors.Result {
	return collectors.Result{Reason: collectors.ReasonAuth, Err: errors.New(p.msg)}
}
func (leakyProber) Close() error { return nil }

func TestLeakyProberErrorsAreScrubbed(t *testing.T) {
	const redisPW, mongoPW = "leakyRedis-pw-1", "leakyMongo-pw-2"
	cfg := yamlf(fmt.Sprintf(`
global: {interval: 50ms, timeout: 40ms}
targets:
- {name: cache, kind: redis, redis: {address: "127.0.0.1:1", password: %q}}
- {name: db, kind: mongodb, mongodb: {uri: "mongodb://app:%s@127.0.0.1:1/"}}
`, redisPW, mongoPW))
	a := newTestAgent(t, cfg, func(o *Options) {
		o.NewProber = func(tg config.Target, _ *slog.Logger) (collectors.Prober, error) {
			if tg.Redis != nil {
				return leakyProber{"AUTH " + tg.Redis.Password + " failed"}, nil
			}
			return leakyProber{"cannot reach " + tg.MongoDB.URI}, nil
		}
	})
	waitFor(t, 5*time.Second, "both probed", func() bool {
		return a.target(t, "cache").Probes > 0 && a.target(t, "db").Probes > 0
	})
	h := a.Handler()
	_, page := get(t, h, http.MethodGet, "/")
	_, api := get(t, h, http.MethodGet, "/api/v1/targets")
	_, metrics := get(t, h, http.MethodGet, "/metrics")
	for where, out := range map[string]string{"/": page, "/api/v1/targets": api, "/metrics": metrics, "logs": a.logs.String()} {
		for _, s := range []string{redisPW, mongoPW} {
			if strings.Contains(out, s) {
				t.Errorf("%s contains the secret %q", where, s)
			}
		}
	}
	if got := a.target(t, "db").LastError; got != "cannot reach mongodb://app:"+config.Redacted+"@127.0.0.1:1/" {
		t.Errorf("db error = %q, want the URI with its password redacted", got)
	}
}
