package alerts

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// parityRules exercise templating, for and grouping the same way in both.
const parityRules = `groups:
  - name: parity
    rules:
      - record: job:app_queue_depth:sum
        expr: sum by (job) (app_queue_depth)
      - alert: QueueDeep
        expr: app_queue_depth > 3
        for: 1s
        labels:
          severity: page
          queue: '{{ $labels.queue }}'
        annotations:
          summary: 'queue {{ $labels.queue }} on {{ $labels.instance }} holds {{ $value | humanize }}'
          total: '{{ with query "job:app_queue_depth:sum" }}{{ . | first | value }}{{ end }}'
      - alert: AppScrapedSlowly
        expr: scrape_duration_seconds{job="app"} > 100
`

// TestParityWithPrometheus runs the same rules over the same target in the
// engine and in a real Prometheus: the same alerts, labels and annotations
// come out, and both HTTP APIs answer with the same JSON fields.
func TestParityWithPrometheus(t *testing.T) {
	target := newApp(t, "app_queue_depth{queue=\"a\"} 5\napp_queue_depth{queue=\"b\"} 1234567\napp_queue_depth{queue=\"c\"} 1\n")
	prom := testserver.Prometheus(t, fmt.Sprintf(`global:
  scrape_interval: 100ms
  scrape_timeout: 100ms
  evaluation_interval: 100ms
rule_files: [rules.yml]
scrape_configs:
  - job_name: app
    metrics_path: /api/metrics
    static_configs:
      - targets: [%q]
        labels: {env: test}
`, target.host()), map[string]string{"rules.yml": parityRules})

	rulesPath := writeRules(t, t.TempDir(), "rules.yml", parityRules)
	cfg := testConfig([]string{rulesPath}, []string{target.metricsURL()})
	e := startEngine(t, t.TempDir(), cfg, nil)

	type alert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		State       string            `json:"state"`
		Value       string            `json:"value"`
	}
	ours := func() []alert {
		var d struct {
			Alerts []alert `json:"alerts"`
		}
		apiGet(t, e, "/api/v1/alerts", &d)
		return d.Alerts
	}
	theirs := func() []alert {
		var env struct {
			Data struct {
				Alerts []alert `json:"alerts"`
			} `json:"data"`
		}
		if err := json.Unmarshal(httpGet(t, prom.URL+"/api/v1/alerts"), &env); err != nil {
			t.Fatal(err)
		}
		return env.Data.Alerts
	}
	firing := func(as []alert) bool {
		return len(as) == 2 && as[0].State == "firing" && as[1].State == "firing"
	}
	eventually(t, 30*time.Second, "two firing alerts in both", func() bool { return firing(ours()) && firing(theirs()) })

	norm := func(as []alert) []string {
		var out []string
		for _, a := range as {
			b, _ := json.Marshal(alert{Labels: a.Labels, Annotations: a.Annotations, State: a.State, Value: a.Value})
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	got, want := norm(ours()), norm(theirs())
	if !slices.Equal(got, want) {
		t.Errorf("alerts differ from Prometheus's:\n got %v\nwant %v", got, want)
	}

	// The same series in both TSDBs: the scraped ones, the report series
	// of every scrape, the recorded ones and ALERTS/ALERTS_FOR_STATE.
	sel := `{job="app"}`
	theirVec, err := prom.Query(t.Context(), sel)
	if err != nil {
		t.Fatal(err)
	}
	var theirSeries []string
	for _, smp := range theirVec {
		theirSeries = append(theirSeries, smp.Metric.String())
	}
	e.mu.Lock()
	qe, db := e.query, e.db
	e.mu.Unlock()
	q, err := qe.NewInstantQuery(t.Context(), db, nil, sel, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := q.Exec(t.Context())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		t.Fatal(err)
	}
	var ourSeries []string
	for _, smp := range vec {
		m := model.Metric{}
		smp.Metric.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		ourSeries = append(ourSeries, m.String())
	}
	q.Close()
	sort.Strings(theirSeries)
	sort.Strings(ourSeries)
	if !slices.Equal(ourSeries, theirSeries) {
		t.Errorf("series of %s differ from Prometheus's:\n got %v\nwant %v", sel, ourSeries, theirSeries)
	}

	// The same JSON fields, at every level both have.
	for _, path := range []string{"/api/v1/alerts", "/api/v1/rules"} {
		mux := http.NewServeMux()
		e.Register(mux)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var o, p any
		if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(httpGet(t, prom.URL+path), &p); err != nil {
			t.Fatal(err)
		}
		for _, missing := range missingKeys(p, o, "") {
			t.Errorf("%s: field %s in Prometheus's answer is missing from ours", path, missing)
		}
	}
}

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// missingKeys lists the object keys of want (recursively, arrays element by
// element) that have is missing. Label maps are skipped: their keys
// are data.
func missingKeys(want, have any, path string) []string {
	var out []string
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return []string{path + " (object)"}
		}
		if strings.HasSuffix(path, ".labels") || strings.HasSuffix(path, ".annotations") {
			return nil
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, missingKeys(wv, hv, path+"."+k)...)
		}
	case []any:
		h, ok := have.([]any)
		if !ok {
			return []string{path + " (array)"}
		}
		for i := range min(len(w), len(h)) {
			out = append(out, missingKeys(w[i], h[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}
