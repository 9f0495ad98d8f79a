package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// dumpDOM renders url in headless Chromium and returns the DOM it built.
func dumpDOM(t *testing.T, url string) *html.Node {
	t.Helper()
	bin := testserver.LookBinary(t, "chromium", "chromium")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-quic", "--no-first-run",
		"--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--dump-dom", url)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v", url, err)
	}
	doc, err := html.Parse(strings.NewReader(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// findAll lists the element nodes under n that match.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if all := findAll(n, match); len(all) > 0 {
		return all[0]
	}
	return nil
}

func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attr(n, "id") == id }
}

func byClass(tag, class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag && hasClass(n, class) }
}

// TestStatusPageInChromium renders the status page an on-call opens in
// headless Chromium and checks the DOM: the failed-reload banner, alerts
// with summary, description and runbook link, Alertmanager delivery and
// storage state, a long error folded, per-target availability and a
// latency sparkline drawn from the local TSDB.
func TestStatusPageInChromium(t *testing.T) {
	testserver.LookBinary(t, "chromium", "chromium") // fail early, with the install command
	am := testserver.Alertmanager(t, "route: {receiver: \"null\", group_wait: 1s}\nreceivers: [{name: \"null\"}]\n")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(web.Close)
	dir := t.TempDir()
	good := fmt.Sprintf(`
global: {interval: 1s, timeout: 500ms, evaluation_interval: 1s}
targets:
  - {name: web, kind: http, http: {url: %q}}
  - {name: db, kind: mongodb, timeout: 300ms, mongodb: {uri: "mongodb://%s/?serverSelectionTimeoutMS=200"}}
alerting:
  alertmanagers: [{url: %q}]
  resend_delay: 2s
`, web.URL, testserver.Refused(t), am.URL)
	cfg := writeFile(t, dir, "agent.yml", good)
	base, _ := startAgent(t, "--config.file", cfg)

	// Enough self-scrapes for the charts, a delivered Watchdog.
	eventually(t, "Watchdog delivered and probes stored", func() bool {
		m := fetch(t, base+"/metrics")
		return strings.Contains(m, `vigil_notifications_sent_total{alertmanager="`) &&
			!strings.Contains(m, `vigil_notifications_sent_total{alertmanager="`+strings.TrimPrefix(am.URL, "http://")+`"} 0`) &&
			strings.Contains(m, `vigil_probes_total{kind="http",target="web"}`)
	})
	time.Sleep(4 * time.Second)

	writeFile(t, dir, "agent.yml", good+"  bogus_field: 1\n")
	if code, _ := post(t, base+"/-/reload"); code != http.StatusInternalServerError {
		t.Fatalf("bad reload = %d, want 500", code)
	}

	doc := dumpDOM(t, base+"/")

	if b := find(doc, byID("reload-banner")); b == nil || !strings.Contains(text(b), "reload failed") || !strings.Contains(text(b), "bogus_field") {
		t.Errorf("no failed-reload banner naming the problem: %q", text(b))
	}
	if h := find(doc, byClass("div", "meta")); !strings.Contains(text(h), "stale configuration") {
		t.Errorf("header does not say the configuration is stale: %q", text(h))
	}

	watchdog := find(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-alert") == "Watchdog" })
	if watchdog == nil {
		t.Fatal("no Watchdog row in the alerts table")
	}
	if s := text(find(watchdog, byClass("div", "summary"))); s != "Alerting pipeline heartbeat" {
		t.Errorf("Watchdog summary = %q", s)
	}
	if d := text(find(watchdog, byClass("div", "description"))); !strings.Contains(d, "always fires") {
		t.Errorf("Watchdog description = %q", d)
	}
	if a := find(watchdog, byClass("a", "runbook")); a == nil || !strings.HasSuffix(attr(a, "href"), "docs/runbooks/Watchdog.md") {
		t.Errorf("Watchdog runbook link missing or wrong")
	}

	rows := map[string]*html.Node{}
	for _, r := range findAll(doc, byClass("tr", "target")) {
		rows[attr(r, "data-target")] = r
	}
	for name, wantAvail := range map[string]string{"web": "100.00%", "db": "0.00%"} {
		r := rows[name]
		if r == nil {
			t.Errorf("no row for target %s", name)
			continue
		}
		if got := text(find(r, byClass("td", "avail-hour"))); got != wantAvail {
			t.Errorf("%s availability over the hour = %q, want %s", name, got, wantAvail)
		}
		if got := text(find(r, byClass("td", "avail-long"))); got != wantAvail {
			t.Errorf("%s availability over the long window = %q, want %s", name, got, wantAvail)
		}
		svg := find(r, byClass("svg", "sparkline"))
		if svg == nil {
			t.Errorf("%s has no latency sparkline", name)
			continue
		}
		pl := find(svg, func(n *html.Node) bool { return n.Data == "polyline" })
		if pl == nil || len(strings.Fields(attr(pl, "points"))) < 2 {
			t.Errorf("%s sparkline has fewer than 2 points: %v", name, pl)
		}
		if n, _ := strconv.Atoi(attr(svg, "data-points")); n < 2 {
			t.Errorf("%s sparkline drawn from %d samples, want 2 or more", name, n)
		}
	}
	if db := rows["db"]; db != nil {
		fold := find(db, byClass("details", "fold"))
		if fold == nil {
			t.Errorf("db's long MongoDB error is not folded: %q", text(find(db, byClass("td", "err"))))
		} else if sum := text(find(fold, func(n *html.Node) bool { return n.Data == "summary" })); len(sum) > 125 {
			t.Errorf("folded summary is %d characters", len(sum))
		}
	}

	amRow := find(doc, byClass("tr", "alertmanager"))
	if amRow == nil {
		t.Fatal("no Alertmanager row in the delivery table")
	}
	cells := findAll(amRow, func(n *html.Node) bool { return n.Data == "td" })
	if len(cells) < 7 {
		t.Fatalf("delivery row has %d cells", len(cells))
	}
	if sent, _ := strconv.Atoi(text(cells[2])); sent == 0 {
		t.Errorf("delivery row shows %q alerts sent, want some", text(cells[2]))
	}
	if ls := text(find(amRow, byClass("td", "last-success"))); ls == "never" || ls == "" {
		t.Errorf("last success = %q", ls)
	}
	if s := text(find(doc, byID("storage-state"))); !strings.Contains(s, "healthy") {
		t.Errorf("storage state = %q", s)
	}
	if find(doc, byID("storage-banner")) != nil || find(doc, byID("no-alertmanager-banner")) != nil {
		t.Error("a storage or no-Alertmanager banner is shown while neither applies")
	}
}
