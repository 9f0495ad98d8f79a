package collectors

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-sh/vigil/internal/agent/config"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// seenRequest is what the test server received.
type seenRequest struct {
	method, path, host, body, auth, header string
	acceptEncoding                         string // empty: the probe does not ask for gzip
}

// probeServer answers a few routes; every request is recorded.
func probeServer(t *testing.T, tlsCfg *tls.Config) (*httptest.Server, func() []seenRequest) {
	t.Helper()
	var mu sync.Mutex
	var seen []seenRequest
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: ok\n") })
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "status: error", http.StatusInternalServerError)
	})
	mux.HandleFunc("/modified", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", "Tue, 03 Feb 2026 04:05:06 GMT")
		io.WriteString(w, "modified body\n")
	})
	mux.HandleFunc("/basic", func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "ops" || pw != "s3cret" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "welcome\n")
	})
	for _, enc := range []string{"gzip", "deflate", "br"} {
		mux.HandleFunc("/"+enc, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", enc)
			var zw io.WriteCloser
			switch enc {
			case "gzip":
				zw = gzip.NewWriter(w)
			case "deflate":
				zw, _ = flate.NewWriter(w, flate.BestSpeed)
			case "br":
				zw = brotli.NewWriter(w)
			}
			io.WriteString(zw, strings.Repeat("compressed status: ok\n", 100))
			zw.Close()
		})
	}
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/degraded", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: degraded, error in cache\n") })
	mux.HandleFunc("/r1", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/r2", http.StatusFound) })
	mux.HandleFunc("/r2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusMovedPermanently) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// 60 ms before the first byte, 60 ms between it and the last.
		time.Sleep(60 * time.Millisecond)
		io.WriteString(w, "first ")
		w.(http.Flusher).Flush()
		time.Sleep(60 * time.Millisecond)
		io.WriteString(w, "last")
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 64<<10)
		for range (httpBodyLimit / len(chunk)) + 1 {
			io.WriteString(w, chunk)
		}
		io.WriteString(w, "needle")
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.Path, r.Host, string(b), r.Header.Get("Authorization"), r.Header.Get("X-Vigil-Test"), r.Header.Get("Accept-Encoding")})
		mu.Unlock()
		mux.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are the point
	if tlsCfg != nil {
		srv.TLS = tlsCfg
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]seenRequest(nil), seen...)
	}
}

func httpProbe(t *testing.T, cfg config.HTTPTarget, timeout time.Duration) (Result, map[string]*dto.MetricFamily) {
	t.Helper()
	tg := netTarget(config.KindHTTP, timeout)
	tg.HTTP = &cfg
	res := mustProber(t, tg).Probe(t.Context())
	return res, gatherProbe(t, res)
}

func mustRegexps(t *testing.T, exprs ...string) []config.Regexp {
	t.Helper()
	var out []config.Regexp
	for _, e := range exprs {
		re, err := config.NewRegexp(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, re)
	}
	return out
}

func TestHTTPProbe(t *testing.T) {
	srv, _ := probeServer(t, nil)
	tests := []struct {
		name        string
		cfg         config.HTTPTarget
		wantOK      bool
		wantReason  string
		wantStatus  float64
		wantRedir   float64
		wantRegex   float64
		wantContent float64 // -1: do not check
	}{
		{name: "ok", cfg: config.HTTPTarget{URL: srv.URL + "/ok"}, wantOK: true, wantStatus: 200, wantContent: float64(len("status: ok\n"))},
		{name: "500 is not 2xx", cfg: config.HTTPTarget{URL: srv.URL + "/error"}, wantReason: ReasonStatus, wantStatus: 500, wantContent: -1},
		{name: "404 when 404 is valid", cfg: config.HTTPTarget{URL: srv.URL + "/missing", ValidStatusCodes: []int{404}}, wantOK: true, wantStatus: 404, wantContent: -1},
		{name: "200 when only 204 is valid", cfg: config.HTTPTarget{URL: srv.URL + "/ok", ValidStatusCodes: []int{204}}, wantReason: ReasonStatus, wantStatus: 200, wantContent: -1},
		{name: "fail_if_body_matches hit", cfg: config.HTTPTarget{URL: srv.URL + "/degraded", FailIfBodyMatches: mustRegexps(t, "error")},
			wantReason: ReasonBodyMismatch, wantStatus: 200, wantRegex: 1, wantContent: -1},
		{name: "fail_if_body_matches miss", cfg: config.HTTPTarget{URL: srv.URL + "/ok", FailIfBodyMatches: mustRegexps(t, "error")},
			wantOK: true, wantStatus: 200, wantContent: -1},
		{name: "fail_if_body_not_matches hit", cfg: config.HTTPTarget{URL: srv.URL + "/ok", FailIfBodyNotMatches: mustRegexps(t, `status: (ok|fine)`)},
			wantOK: true, wantStatus: 200, wantContent: -1},
		{name: "fail_if_body_not_matches miss", cfg: config.HTTPTarget{URL: srv.URL + "/degraded", FailIfBodyNotMatches: mustRegexps(t, `status: ok`)},
			wantReason: ReasonBodyMismatch, wantStatus: 200, wantRegex: 1, wantContent: -1},
		{name: "body read up to the cap", cfg: config.HTTPTarget{URL: srv.URL + "/huge", FailIfBodyNotMatches: mustRegexps(t, "needle")},
			wantReason: ReasonBodyMismatch, wantStatus: 200, wantRegex: 1, wantContent: -1},
		{name: "redirects followed", cfg: config.HTTPTarget{URL: srv.URL + "/r1"}, wantOK: true, wantStatus: 200, wantRedir: 2, wantContent: -1},
		{name: "redirect not followed", cfg: config.HTTPTarget{URL: srv.URL + "/r1", NoFollowRedirects: true}, wantReason: ReasonStatus, wantStatus: 302, wantContent: -1},
		{name: "redirect not followed, 302 valid", cfg: config.HTTPTarget{URL: srv.URL + "/r1", NoFollowRedirects: true, ValidStatusCodes: []int{302}},
			wantOK: true, wantStatus: 302, wantContent: -1},
		{name: "by name, ip4", cfg: config.HTTPTarget{URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/ok", IPProtocol: "ip4"},
			wantOK: true, wantStatus: 200, wantContent: -1},
		{name: "refused", cfg: config.HTTPTarget{URL: "http://" + testserver.Refused(t) + "/"}, wantReason: ReasonConnect, wantContent: 0},
		{name: "unresolvable", cfg: config.HTTPTarget{URL: "http://vigil-probe.invalid/"}, wantReason: ReasonDNS, wantContent: 0},
		{name: "unresolvable ip6", cfg: config.HTTPTarget{URL: "http://vigil-probe.invalid/", IPProtocol: "ip6"}, wantReason: ReasonDNS, wantContent: 0},
		{name: "missing bearer_token_file", cfg: config.HTTPTarget{URL: srv.URL + "/ok", BearerTokenFile: "/nonexistent/token"}, wantReason: ReasonConfig, wantContent: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, mfs := httpProbe(t, tc.cfg, 3*time.Second)
			if res.Success != tc.wantOK || res.Reason != tc.wantReason {
				t.Fatalf("success=%v reason=%q err=%v; want success=%v reason=%q", res.Success, res.Reason, res.Err, tc.wantOK, tc.wantReason)
			}
			if !tc.wantOK && res.Err == nil {
				t.Errorf("failed probe without an error")
			}
			checks := []struct {
				name string
				want float64
			}{
				{"probe_success", boolToFloat(tc.wantOK)},
				{"probe_http_status_code", tc.wantStatus},
				{"probe_http_redirects", tc.wantRedir},
				{"probe_failed_due_to_regex", tc.wantRegex},
				{"probe_http_ssl", 0},
			}
			for _, c := range checks {
				if got := mustValue(t, mfs, c.name); got != c.want {
					t.Errorf("%s = %v, want %v", c.name, got, c.want)
				}
			}
			if tc.wantContent >= 0 {
				if got := mustValue(t, mfs, "probe_http_content_length"); got != tc.wantContent {
					t.Errorf("probe_http_content_length = %v, want %v", got, tc.wantContent)
				}
			}
			for _, phase := range httpPhases {
				if got := mustValue(t, mfs, "probe_http_duration_seconds", "phase", phase); got < 0 || got > res.Duration.Seconds() {
					t.Errorf("phase %s = %v outside [0, %v]", phase, got, res.Duration.Seconds())
				}
			}
			if _, ok := sampleValue(mfs, "probe_tls_version_info"); ok {
				t.Errorf("probe_tls_version_info on plain http")
			}
		})
	}
}

// The phases come from httptrace: a handler that waits before its first
// byte and between first and last shows in processing and transfer, and
// the phases of a redirected request add up over its hops.
func TestHTTPProbePhases(t *testing.T) {
	srv, _ := probeServer(t, nil)
	_, mfs := httpProbe(t, config.HTTPTarget{URL: srv.URL + "/slow"}, 3*time.Second)
	for _, phase := range []string{"processing", "transfer"} {
		if got := mustValue(t, mfs, "probe_http_duration_seconds", "phase", phase); got < 0.06 {
			t.Errorf("%s = %vs, want ≥ 0.06s", phase, got)
		}
	}
	if got := mustValue(t, mfs, "probe_http_duration_seconds", "phase", "connect"); got <= 0 {
		t.Errorf("connect = %v, want > 0", got)
	}
	// blackbox times the lookup of a literal too: resolve is that lookup.
	if got, lookup := mustValue(t, mfs, "probe_http_duration_seconds", "phase", "resolve"), mustValue(t, mfs, "probe_dns_lookup_time_seconds"); got != lookup || got > 0.05 {
		t.Errorf("resolve = %v for an IP literal, want probe_dns_lookup_time_seconds %v, near 0", got, lookup)
	}

	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	// ip4: the default prefers ip6, and localhost may be ::1 too where the
	// server only listens on 127.0.0.1.
	_, mfs = httpProbe(t, config.HTTPTarget{URL: byName + "/ok", IPProtocol: "ip4"}, 3*time.Second)
	if got := mustValue(t, mfs, "probe_http_duration_seconds", "phase", "resolve"); got <= 0 {
		t.Errorf("resolve = %v for localhost, want > 0", got)
	}

	// Three hops, three connections: the tracer saw each one.
	tt := &tripTracer{next: http.DefaultTransport}
	client := &http.Client{Transport: tt}
	resp, err := client.Get(srv.URL + "/r1")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tt.finish()
	if len(tt.trips) != 3 {
		t.Fatalf("traced %d round trips, want 3", len(tt.trips))
	}
	var sum time.Duration
	for _, rt := range tt.trips {
		sum += rt.firstByte.Sub(rt.gotConn)
	}
	if got := tt.phases()[3]; got != sum {
		t.Errorf("processing = %v, want the sum over hops %v", got, sum)
	}
}

// fnv1a32 is FNV-1a written out from its definition, to check
// probe_ip_addr_hash independently of the hash/fnv the prober uses.
func fnv1a32(b []byte) float64 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return float64(h)
}

// The families blackbox_exporter's http prober adds beside status and
// length: version, body length, Last-Modified, resolution, TLS details.
func TestHTTPProbeBlackboxFamilies(t *testing.T) {
	srv, _ := probeServer(t, nil)
	pki := newTestPKI(t, time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC))
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "h2") }))
	h2.EnableHTTP2 = true
	h2.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}}
	h2.StartTLS()
	t.Cleanup(h2.Close)
	localhostPort := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	tests := []struct {
		name         string
		cfg          config.HTTPTarget
		wantVersion  float64
		wantBody     float64
		wantModified float64 // 0: no probe_http_last_modified_timestamp_seconds
		wantProto    float64
		wantHash     float64
		wantCipher   bool
	}{
		{name: "http/1.1 with Last-Modified", cfg: config.HTTPTarget{URL: srv.URL + "/modified"}, wantVersion: 1.1, wantBody: float64(len("modified body\n")),
			wantModified: float64(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC).Unix()), wantProto: 4, wantHash: fnv1a32([]byte{127, 0, 0, 1})},
		{name: "by name, ip4", cfg: config.HTTPTarget{URL: localhostPort + "/ok", IPProtocol: "ip4"}, wantVersion: 1.1, wantBody: float64(len("status: ok\n")),
			wantProto: 4, wantHash: fnv1a32([]byte{127, 0, 0, 1})},
		{name: "http/2 over TLS", cfg: config.HTTPTarget{URL: h2.URL, TLS: config.TLSConfig{CAFile: pki.caFile, ServerName: "localhost"}}, wantVersion: 2, wantBody: 2,
			wantProto: 4, wantHash: fnv1a32([]byte{127, 0, 0, 1}), wantCipher: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, mfs := httpProbe(t, tc.cfg, 3*time.Second)
			if !res.Success {
				t.Fatalf("probe failed: %s %v", res.Reason, res.Err)
			}
			for name, want := range map[string]float64{
				"probe_http_version": tc.wantVersion, "probe_http_uncompressed_body_length": tc.wantBody,
				"probe_ip_protocol": tc.wantProto, "probe_ip_addr_hash": tc.wantHash,
			} {
				if got := mustValue(t, mfs, name); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			if got := mustValue(t, mfs, "probe_dns_lookup_time_seconds"); got <= 0 || got > 1 {
				t.Errorf("probe_dns_lookup_time_seconds = %v", got)
			}
			got, ok := sampleValue(mfs, "probe_http_last_modified_timestamp_seconds")
			if ok != (tc.wantModified != 0) || got != tc.wantModified {
				t.Errorf("probe_http_last_modified_timestamp_seconds = %v (present %v), want %v", got, ok, tc.wantModified)
			}
			_, ok = mfs["probe_tls_cipher_info"]
			if ok != tc.wantCipher {
				t.Fatalf("probe_tls_cipher_info present %v, want %v", ok, tc.wantCipher)
			}
			if !tc.wantCipher {
				return
			}
			leaf, err := x509.ParseCertificate(pki.server.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(leaf.Raw)
			if got := mustValue(t, mfs, "probe_ssl_last_chain_info", "fingerprint_sha256", hex.EncodeToString(sum[:]),
				"subject", leaf.Subject.String(), "issuer", leaf.Issuer.String(),
				"subjectalternative", strings.Join(leaf.DNSNames, ","), "serialnumber", "02"); got != 1 {
				t.Errorf("probe_ssl_last_chain_info = %v", got)
			}
			if got := mustValue(t, mfs, "probe_tls_cipher_info", "cipher", "TLS_AES_128_GCM_SHA256"); got != 1 {
				t.Errorf("probe_tls_cipher_info = %v", got)
			}
		})
	}
}

// forwardProxy is an HTTP forward proxy: it relays absolute-form requests
// and counts them.
func forwardProxy(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		maps.Copy(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// The http module options of blackbox_exporter, against real servers.
func TestHTTPProbeModuleOptions(t *testing.T) {
	srv, seen := probeServer(t, nil)
	pki := newTestPKI(t, time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC))
	tlsSrv, _ := probeServer(t, &tls.Config{Certificates: []tls.Certificate{pki.server}})
	proxy, proxied := forwardProxy(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hm := func(header, re string, allowMissing bool) config.HeaderMatch {
		return config.HeaderMatch{Header: header, Regexp: mustRegexps(t, re)[0], AllowMissing: allowMissing}
	}
	compressed := float64(len(strings.Repeat("compressed status: ok\n", 100)))
	tests := []struct {
		name       string
		cfg        config.HTTPTarget
		wantReason string // "" for success
		wantRegex  float64
		wantBody   float64 // probe_http_uncompressed_body_length; -1 to skip
		wantAuth   string  // Authorization the server saw; "-" to skip
		wantProxy  int32
	}{
		{name: "basic_auth", cfg: config.HTTPTarget{URL: srv.URL + "/basic", BasicAuth: &config.BasicAuth{Username: "ops", Password: "s3cret"}}, wantBody: 8, wantAuth: "Basic b3BzOnMzY3JldA=="},
		{name: "basic_auth password_file", cfg: config.HTTPTarget{URL: srv.URL + "/basic", BasicAuth: &config.BasicAuth{Username: "ops", PasswordFile: pwFile}}, wantBody: 8, wantAuth: "Basic b3BzOnMzY3JldA=="},
		{name: "basic_auth wrong", cfg: config.HTTPTarget{URL: srv.URL + "/basic", BasicAuth: &config.BasicAuth{Username: "ops", Password: "nope"}}, wantReason: ReasonStatus, wantBody: -1, wantAuth: "-"},
		{name: "bearer_token", cfg: config.HTTPTarget{URL: srv.URL + "/ok", BearerToken: "tok3n"}, wantBody: 11, wantAuth: "Bearer tok3n"},
		{name: "proxy_url", cfg: config.HTTPTarget{URL: srv.URL + "/ok", ProxyURL: proxy.URL}, wantBody: 11, wantAuth: "", wantProxy: 1},
		{name: "fail_if_ssl over TLS", cfg: config.HTTPTarget{URL: tlsSrv.URL + "/ok", TLS: config.TLSConfig{CAFile: pki.caFile}, FailIfSSL: true}, wantReason: ReasonTLS, wantBody: 11, wantAuth: "-"},
		{name: "fail_if_not_ssl over TLS", cfg: config.HTTPTarget{URL: tlsSrv.URL + "/ok", TLS: config.TLSConfig{CAFile: pki.caFile}, FailIfNotSSL: true}, wantBody: 11, wantAuth: "-"},
		{name: "fail_if_not_ssl plain", cfg: config.HTTPTarget{URL: srv.URL + "/ok", FailIfNotSSL: true}, wantReason: ReasonTLS, wantBody: 11, wantAuth: "-"},
		{name: "header matches", cfg: config.HTTPTarget{URL: srv.URL + "/ok", FailIfHeaderMatches: []config.HeaderMatch{hm("Content-Type", "^text/plain", false)}},
			wantReason: ReasonBodyMismatch, wantRegex: 1, wantBody: 11, wantAuth: "-"},
		{name: "header not matches", cfg: config.HTTPTarget{URL: srv.URL + "/ok", FailIfHeaderNotMatches: []config.HeaderMatch{hm("content-type", "json", false)}},
			wantReason: ReasonBodyMismatch, wantRegex: 1, wantBody: 11, wantAuth: "-"},
		{name: "header missing", cfg: config.HTTPTarget{URL: srv.URL + "/ok", FailIfHeaderMatches: []config.HeaderMatch{hm("X-Nope", "x", false)}},
			wantReason: ReasonBodyMismatch, wantRegex: 1, wantBody: 11, wantAuth: "-"},
		{name: "header missing allowed", cfg: config.HTTPTarget{URL: srv.URL + "/ok", FailIfHeaderNotMatches: []config.HeaderMatch{hm("X-Nope", "x", true), hm("Content-Type", "^text/plain", false)}},
			wantBody: 11, wantAuth: "-"},
		{name: "valid_http_versions refuses 1.1", cfg: config.HTTPTarget{URL: srv.URL + "/ok", ValidHTTPVersions: []string{"HTTP/2.0"}}, wantReason: ReasonProtocol, wantBody: 11, wantAuth: "-"},
		{name: "valid_http_versions accepts 1.1", cfg: config.HTTPTarget{URL: srv.URL + "/ok", ValidHTTPVersions: []string{"HTTP/1.0", "HTTP/1.1"}}, wantBody: 11, wantAuth: "-"},
		{name: "gzip", cfg: config.HTTPTarget{URL: srv.URL + "/gzip", Compression: "gzip", Headers: map[string]string{"Accept-Encoding": "gzip"}, FailIfBodyNotMatches: mustRegexps(t, "compressed status: ok")},
			wantBody: compressed, wantAuth: "-"},
		{name: "deflate", cfg: config.HTTPTarget{URL: srv.URL + "/deflate", Compression: "deflate", FailIfBodyNotMatches: mustRegexps(t, "compressed status: ok")}, wantBody: compressed, wantAuth: "-"},
		{name: "br", cfg: config.HTTPTarget{URL: srv.URL + "/br", Compression: "br", FailIfBodyNotMatches: mustRegexps(t, "compressed status: ok")}, wantBody: compressed, wantAuth: "-"},
		{name: "gzip expected, plain sent", cfg: config.HTTPTarget{URL: srv.URL + "/ok", Compression: "gzip"}, wantReason: ReasonProtocol, wantBody: 0, wantAuth: "-"},
		{name: "br expected, plain sent", cfg: config.HTTPTarget{URL: srv.URL + "/ok", Compression: "br"}, wantReason: ReasonProtocol, wantBody: -1, wantAuth: "-"},
		{name: "compressed body without compression", cfg: config.HTTPTarget{URL: srv.URL + "/gzip", FailIfBodyNotMatches: mustRegexps(t, "compressed status: ok")},
			wantReason: ReasonBodyMismatch, wantRegex: 1, wantBody: -1, wantAuth: "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(seen())
			p0 := proxied.Load()
			res, mfs := httpProbe(t, tc.cfg, 3*time.Second)
			if res.Success != (tc.wantReason == "") || res.Reason != tc.wantReason {
				t.Fatalf("success=%v reason=%q err=%v; want reason %q", res.Success, res.Reason, res.Err, tc.wantReason)
			}
			if got := mustValue(t, mfs, "probe_failed_due_to_regex"); got != tc.wantRegex {
				t.Errorf("probe_failed_due_to_regex = %v, want %v", got, tc.wantRegex)
			}
			if got := mustValue(t, mfs, "probe_http_uncompressed_body_length"); tc.wantBody >= 0 && got != tc.wantBody {
				t.Errorf("probe_http_uncompressed_body_length = %v, want %v", got, tc.wantBody)
			}
			if got := proxied.Load() - p0; got != tc.wantProxy {
				t.Errorf("proxy relayed %d requests, want %d", got, tc.wantProxy)
			}
			if tc.wantAuth != "-" && !strings.HasPrefix(tc.cfg.URL, tlsSrv.URL) {
				reqs := seen()[before:]
				if len(reqs) != 1 || reqs[0].auth != tc.wantAuth {
					t.Errorf("server saw %+v, want one request with Authorization %q", reqs, tc.wantAuth)
				}
			}
			if res.Err != nil && (strings.Contains(res.Err.Error(), "s3cret") || strings.Contains(res.Err.Error(), "tok3n")) {
				t.Errorf("error leaks a secret: %v", res.Err)
			}
		})
	}
}

func TestHTTPProbeRequest(t *testing.T) {
	srv, seen := probeServer(t, nil)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  config.HTTPTarget
		want seenRequest
	}{
		{"default GET", config.HTTPTarget{URL: srv.URL + "/ok"}, seenRequest{method: "GET", path: "/ok"}},
		{"HEAD", config.HTTPTarget{URL: srv.URL + "/ok", Method: "head"}, seenRequest{method: "HEAD", path: "/ok"}},
		{"POST with body, headers and token", config.HTTPTarget{
			URL: srv.URL + "/ok", Method: "POST", Body: `{"ping":true}`,
			Headers:         map[string]string{"X-Vigil-Test": "yes", "Host": "app.example"},
			BearerTokenFile: tokenFile,
		}, seenRequest{method: "POST", path: "/ok", host: "app.example", body: `{"ping":true}`, auth: "Bearer s3cret-token", header: "yes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(seen())
			res, _ := httpProbe(t, tc.cfg, 3*time.Second)
			if !res.Success {
				t.Fatalf("probe failed: %s %v", res.Reason, res.Err)
			}
			got := seen()[before:]
			if len(got) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(got))
			}
			want := tc.want
			if want.host == "" {
				want.host = srv.Listener.Addr().String()
			}
			if got[0] != want {
				t.Errorf("server saw %+v, want %+v", got[0], want)
			}
		})
	}
}

func TestHTTPProbeTLS(t *testing.T) {
	caExpiry := time.Date(2033, 7, 8, 9, 10, 11, 0, time.UTC)
	leafExpiry := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	pki := newTestPKI(t, caExpiry, leafExpiry)
	srv, _ := probeServer(t, &tls.Config{Certificates: []tls.Certificate{pki.server}})
	mtls, _ := probeServer(t, &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.caPool})
	tests := []struct {
		name       string
		cfg        config.HTTPTarget
		wantOK     bool
		wantReason string
		wantChain  bool
	}{
		{name: "ca_file", cfg: config.HTTPTarget{URL: srv.URL + "/ok", TLS: config.TLSConfig{CAFile: pki.caFile}}, wantOK: true, wantChain: true},
		{name: "untrusted", cfg: config.HTTPTarget{URL: srv.URL + "/ok"}, wantReason: ReasonTLS},
		{name: "insecure", cfg: config.HTTPTarget{URL: srv.URL + "/ok", TLS: config.TLSConfig{InsecureSkipVerify: true}}, wantOK: true},
		{name: "wrong server_name", cfg: config.HTTPTarget{URL: srv.URL + "/ok", TLS: config.TLSConfig{CAFile: pki.caFile, ServerName: "other.example"}}, wantReason: ReasonTLS},
		{name: "client certificate", cfg: config.HTTPTarget{URL: mtls.URL + "/ok", TLS: config.TLSConfig{CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile}},
			wantOK: true, wantChain: true},
		{name: "client certificate missing", cfg: config.HTTPTarget{URL: mtls.URL + "/ok", TLS: config.TLSConfig{CAFile: pki.caFile}}, wantReason: ReasonTLS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, mfs := httpProbe(t, tc.cfg, 3*time.Second)
			if res.Success != tc.wantOK || res.Reason != tc.wantReason {
				t.Fatalf("success=%v reason=%q err=%v; want success=%v reason=%q", res.Success, res.Reason, res.Err, tc.wantOK, tc.wantReason)
			}
			if !tc.wantOK {
				return
			}
			if got := mustValue(t, mfs, "probe_http_ssl"); got != 1 {
				t.Errorf("probe_http_ssl = %v", got)
			}
			// The leaf expires before the CA: the earliest is the leaf's NotAfter.
			if got := mustValue(t, mfs, "probe_ssl_earliest_cert_expiry"); got != float64(leafExpiry.Unix()) {
				t.Errorf("probe_ssl_earliest_cert_expiry = %v, want %v", got, leafExpiry.Unix())
			}
			if got := mustValue(t, mfs, "probe_tls_version_info", "version", "TLS 1.3"); got != 1 {
				t.Errorf("probe_tls_version_info = %v", got)
			}
			if got := mustValue(t, mfs, "probe_http_duration_seconds", "phase", "tls"); got <= 0 {
				t.Errorf("tls phase = %v, want > 0", got)
			}
			last, ok := sampleValue(mfs, "probe_ssl_last_chain_expiry_timestamp_seconds")
			if ok != tc.wantChain || ok && last != float64(leafExpiry.Unix()) {
				t.Errorf("probe_ssl_last_chain_expiry_timestamp_seconds = %v (present %v), want present %v at %v", last, ok, tc.wantChain, leafExpiry.Unix())
			}
		})
	}
}

// An HTTP server that accepts and never answers costs the timeout, no more,
// and a password in the URL never reaches the error.
func TestHTTPProbeSilentServer(t *testing.T) {
	addr := testserver.Silent(t)
	const timeout = 300 * time.Millisecond
	start := time.Now()
	res, mfs := httpProbe(t, config.HTTPTarget{URL: "http://probe:hunter2@" + addr + "/health"}, timeout)
	took := time.Since(start)
	if res.Success || res.Reason != ReasonTimeout {
		t.Fatalf("success=%v reason=%q err=%v; want timeout", res.Success, res.Reason, res.Err)
	}
	if took < timeout || took > timeout+timingSlack {
		t.Errorf("probe took %v, want about %v", took, timeout)
	}
	if strings.Contains(res.Err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", res.Err)
	}
	if got := mustValue(t, mfs, "probe_http_status_code"); got != 0 {
		t.Errorf("probe_http_status_code = %v without a response", got)
	}
}

func TestHTTPProbeCallerDeadline(t *testing.T) {
	addr := testserver.Silent(t)
	tg := netTarget(config.KindHTTP, 10*time.Second)
	tg.HTTP = &config.HTTPTarget{URL: "http://" + addr + "/"}
	p := mustProber(t, tg)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := p.Probe(ctx)
	if took := time.Since(start); took > 200*time.Millisecond+timingSlack || res.Reason != ReasonTimeout {
		t.Errorf("took %v reason %q, want about 200ms and timeout", took, res.Reason)
	}
}

func TestNewHTTPRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  *config.HTTPTarget
	}{
		{"no block", nil},
		{"no scheme", &config.HTTPTarget{URL: "localhost:8080/health"}},
		{"ftp", &config.HTTPTarget{URL: "ftp://example.com/"}},
		{"bad ip_protocol", &config.HTTPTarget{URL: "http://localhost/", IPProtocol: "tcp4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := netTarget(config.KindHTTP, time.Second)
			tg.HTTP = tc.cfg
			_, err := New(tg, nil)
			if err == nil {
				t.Fatalf("New accepted %+v", tc.cfg)
			}
			if tc.cfg != nil {
				if u, perr := url.Parse(tc.cfg.URL); perr == nil && u.User != nil && strings.Contains(err.Error(), u.User.String()) {
					t.Errorf("error leaks credentials: %v", err)
				}
			}
		})
	}
}

// BenchmarkHTTPProbeOverhead compares a probe with a bare GET on a fresh
// connection, which is what a probe costs at least: the difference is the
// tracing, the checks and the metrics.
func BenchmarkHTTPProbeOverhead(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: ok\n") }))
	b.Cleanup(srv.Close)
	b.Run("baseline=bare_get", func(b *testing.B) {
		for b.Loop() {
			tr := &http.Transport{DisableKeepAlives: true}
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			tr.CloseIdleConnections()
		}
	})
	b.Run("probe", func(b *testing.B) {
		tg := netTarget(config.KindHTTP, 5*time.Second)
		tg.HTTP = &config.HTTPTarget{URL: srv.URL, FailIfBodyNotMatches: []config.Regexp{config.MustNewRegexp("ok")}}
		p, err := New(tg, nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if res := p.Probe(b.Context()); !res.Success {
				b.Fatalf("probe failed: %v", res.Err)
			}
		}
	})
}
