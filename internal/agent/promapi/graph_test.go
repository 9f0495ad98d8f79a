package promapi

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func getPage(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, string(b)
}

// TestGraphPage: /graph, where generatorURL points, evaluates the
// expression and shows it and its result escaped, whatever they contain.
func TestGraphPage(t *testing.T) {
	src, base := fixture(t, 0)
	// A label value that would be markup if it were not escaped.
	src.append(t, sample{labelsOf("__name__", "evil", "x", `<script>alert("x")</script>`), base.Add(time.Minute).UnixMilli(), 1})
	u := serve(t, Options{Source: src, Now: func() time.Time { return base.Add(5 * time.Minute) }})
	tests := []struct {
		name, expr string
		want       []string
		notWant    []string
	}{
		{"vector", `sum by (code) (http_requests_total) > 100`,
			[]string{`<pre id="expr">sum by (code) (http_requests_total) &gt; 100</pre>`, `<td>{code=&#34;200&#34;}</td><td>200</td>`, "result type vector"},
			[]string{`{code=&#34;500&#34;}`}},
		{"escaped labels", `evil`,
			[]string{`&lt;script&gt;alert(\&#34;x\&#34;)&lt;/script&gt;`}, []string{"<script"}},
		{"escaped expression", `"</pre><script>1</script>"`,
			[]string{"&lt;/pre&gt;&lt;script&gt;1&lt;/script&gt;"}, []string{"<script"}},
		{"scalar", `1 + 1`, []string{"<td>scalar</td><td>2</td>"}, nil},
		{"empty", `nothing_here`, []string{"Empty query result."}, nil},
		{"parse error", `sum(`, []string{`class="error">bad_data: invalid parameter &#34;query&#34;`}, nil},
		{"type error", `http_requests_total[1m] + 1`, []string{`class="error">bad_data`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, page := getPage(t, u+"/graph?"+url.Values{"g0.expr": {tc.expr}, "g0.tab": {"1"}}.Encode())
			if code != http.StatusOK {
				t.Fatalf("%d\n%s", code, page)
			}
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(page, w) {
					t.Errorf("page has %q:\n%s", w, page)
				}
			}
		})
	}

	code, page := getPage(t, u+"/graph")
	if code != http.StatusOK || !strings.Contains(page, `<input name="g0.expr" value=""`) || strings.Contains(page, "<table") {
		t.Errorf("/graph without an expression: %d\n%s", code, page)
	}
}
