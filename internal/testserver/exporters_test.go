package testserver_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// get fetches url and returns its body, failing the test on anything but 200.
func get(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

// wantLine fails unless the exposition has exactly this sample line.
func wantLine(t *testing.T, body, line string) {
	t.Helper()
	for l := range strings.SplitSeq(body, "\n") {
		if l == line {
			return
		}
	}
	t.Errorf("no line %q in:\n%s", line, body)
}

func TestExporters(t *testing.T) {
	t.Run("redis_exporter", func(t *testing.T) {
		t.Parallel()
		redis := testserver.Redis(t)
		exp := testserver.RedisExporter(t)
		body := get(t, exp.URL+"/scrape?target="+url.QueryEscape(redis.Addr))
		wantLine(t, body, "redis_up 1")
		redis.Stop()
		wantLine(t, get(t, exp.URL+"/scrape?target="+url.QueryEscape(redis.Addr)), "redis_up 0")
	})
	t.Run("node_exporter", func(t *testing.T) {
		t.Parallel()
		exp := testserver.NodeExporter(t, "--collector.disable-defaults", "--collector.meminfo", "--web.disable-exporter-metrics")
		body := get(t, exp.URL+"/metrics")
		wantLine(t, body, `node_scrape_collector_success{collector="meminfo"} 1`)
		if strings.Contains(body, "node_filesystem_") || strings.Contains(body, "go_goroutines") {
			t.Errorf("collectors beyond meminfo are on:\n%s", body)
		}
	})
	t.Run("blackbox_exporter", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		exp := testserver.BlackboxExporter(t, "modules:\n  tcp_connect:\n    prober: tcp\n    timeout: 2s\n")
		probe := exp.URL + "/probe?module=tcp_connect&target=" + url.QueryEscape(l.Addr().String())
		wantLine(t, get(t, probe), "probe_success 1")
		l.Close()
		wantLine(t, get(t, probe), "probe_success 0")
	})
	t.Run("mongodb_exporter", func(t *testing.T) {
		t.Parallel()
		mongo := testserver.Mongo(t)
		exp := testserver.MongoDBExporter(t, mongo.URI, "--compatible-mode", "--no-collector.exporter-metrics")
		body := get(t, exp.URL+"/metrics")
		wantLine(t, body, `mongodb_up{cluster_role="mongod"} 1`)
		if strings.Contains(body, "go_goroutines") {
			t.Errorf("the exporter's own metrics are on despite --no-collector.exporter-metrics:\n%s", body)
		}
		mongo.Stop()
		wantLine(t, get(t, exp.URL+"/metrics"), `mongodb_up{cluster_role=""} 0`)
	})
}

func TestExporterBinaryUnknownToolFailsWithCommand(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		testserver.ExporterBinary(ft, "no_such_exporter")
	}()
	if !ft.failed {
		t.Fatal("an unknown exporter did not fail the test")
	}
	if !strings.Contains(ft.msg, "go -C ") || !strings.Contains(ft.msg, "tool -n no_such_exporter") {
		t.Fatalf("failure does not give the command to reproduce it: %q", ft.msg)
	}
}
