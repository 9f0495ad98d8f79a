package collectors

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/vigil-sh/vigil/internal/agent/config"
	"github.com/vigil-sh/vigil/internal/buildinfo"
)

func init() { register(config.KindHTTP, newHTTP) }

const (
	// httpBodyLimit caps what a probe reads of a body: enough for any
	// health page, and a runaway download cannot exhaust the agent.
	httpBodyLimit = 4 << 20
	// httpMaxRedirects is net/http's and blackbox_exporter's limit.
	httpMaxRedirects = 10
)

// httpPhases are the labels of probe_http_duration_seconds, as blackbox_exporter.
var httpPhases = [...]string{"resolve", "connect", "tls", "processing", "transfer"}

// httpProber requests a URL and checks the answer, as blackbox_exporter's
// http prober: a fresh transport per probe, so every probe measures the
// whole connection set-up.
type httpProber struct {
	name       string
	cfg        config.HTTPTarget
	url        *url.URL
	method     string
	matches    []*regexp.Regexp // fail if any matches
	notMatches []*regexp.Regexp // fail if any does not match
	proxy      *url.URL         // nil: no proxy
	timeout    time.Duration
	logger     *slog.Logger
}

func newHTTP(t config.Target, logger *slog.Logger) (Prober, error) {
	if t.HTTP == nil {
		return nil, fmt.Errorf("target %q: kind http without an http block", t.Name)
	}
	c := *t.HTTP
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("target %q: http url: %w", t.Name, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("target %q: http url %q: want http:// or https:// with a host", t.Name, u.Redacted())
	}
	if err := checkIPProtocol(c.IPProtocol); err != nil {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	p := &httpProber{name: t.Name, cfg: c, url: u, method: strings.ToUpper(c.Method), timeout: probeTimeout(t), logger: logger}
	if p.method == "" {
		p.method = http.MethodGet
	}
	if c.ProxyURL != "" {
		if p.proxy, err = url.Parse(c.ProxyURL); err != nil {
			return nil, fmt.Errorf("target %q: http proxy_url: %w", t.Name, err)
		}
	}
	switch strings.ToLower(c.Compression) {
	case "", "identity", "gzip", "deflate", "br":
	default:
		return nil, fmt.Errorf("target %q: http compression %q: want identity, gzip, deflate or br", t.Name, c.Compression)
	}
	for _, re := range c.FailIfBodyMatches {
		if re.Regexp != nil {
			p.matches = append(p.matches, re.Regexp)
		}
	}
	for _, re := range c.FailIfBodyNotMatches {
		if re.Regexp != nil {
			p.notMatches = append(p.notMatches, re.Regexp)
		}
	}
	return p, nil
}

func (p *httpProber) Close() error { return nil }

func (p *httpProber) Probe(ctx context.Context) Result {
	return blackboxProbe(ctx, p.timeout, p.logger, p.probe)
}

// httpOutcome is what one probe observed; it becomes the metrics whatever
// the probe's verdict, so a failing endpoint still shows its status code.
type httpOutcome struct {
	status        int
	proto         string // "HTTP/1.1"; empty without a response
	lastModified  time.Time
	contentLength int64
	bodyLength    int64 // bytes read of the body, after any decompression
	redirects     int
	failedRegex   bool
	tls           *tls.ConnectionState
}

func (p *httpProber) probe(ctx context.Context, s *sink) (string, error) {
	var out httpOutcome
	tt := &tripTracer{}
	defer func() { p.report(s, &out, tt) }()

	tlsCfg, err := probeTLSConfig(p.cfg.TLS)
	if err != nil {
		return ReasonConfig, err
	}
	req, err := p.request(ctx)
	if err != nil {
		return ReasonConfig, err
	}
	// Resolved first, as blackbox_exporter: the lookup is timed and the
	// address reported on its own, and the first connection dials it.
	host := p.url.Hostname()
	ip, lookup, err := resolveTarget(ctx, s, host, p.cfg.IPProtocol)
	tt.lookup = lookup
	if err != nil {
		return resolveReason(ctx, err), fmt.Errorf("resolving %s: %w", host, err)
	}
	dialer := &net.Dialer{Resolver: probeResolver}
	// No proxy, as blackbox_exporter by default: an HTTP(S)_PROXY in the
	// agent's environment would otherwise be timed instead of the target.
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			// Redirects to the same host reuse the chosen address, as
			// blackbox's URL rewritten to the IP does; others resolve anew.
			if h, port, err := net.SplitHostPort(addr); err == nil && h == host {
				return dialResolved(ctx, dialer, ip, port)
			}
			return dialIPProtocol(ctx, dialer, addr, p.cfg.IPProtocol)
		},
		TLSClientConfig:   tlsCfg,
		ForceAttemptHTTP2: true,
		// One connection per round trip: each hop of a redirect is timed
		// from resolve to transfer, as a first visit would be.
		DisableKeepAlives: true,
		// Without transparent gzip, probe_http_content_length is what the
		// server declared and the regexps see the body as it was sent.
		DisableCompression: true,
	}
	if p.proxy != nil {
		transport.Proxy = http.ProxyURL(p.proxy)
	}
	defer transport.CloseIdleConnections()
	tt.next = transport
	client := &http.Client{
		Transport: tt,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if p.cfg.NoFollowRedirects {
				return http.ErrUseLastResponse
			}
			if len(via) >= httpMaxRedirects {
				return fmt.Errorf("stopped after %d redirects", httpMaxRedirects)
			}
			out.redirects = len(via)
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return httpReason(ctx, err), err // *url.Error, password already redacted by net/http
	}
	defer resp.Body.Close()
	out.status = resp.StatusCode
	out.proto = resp.Proto
	out.contentLength = resp.ContentLength
	out.tls = resp.TLS
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		out.lastModified = t
	}
	// The checks run in blackbox_exporter's order; the first failing one
	// names the reason, and the body is read whatever the verdict, so its
	// length and the transfer phase are reported for failures too.
	reason, err := p.checkHeaders(resp)
	if reason != "" {
		out.failedRegex = reason == ReasonBodyMismatch
	}
	bodyReader, decErr := decompressor(p.cfg.Compression, resp.Body)
	if decErr != nil && reason == "" {
		reason, err = ReasonProtocol, fmt.Errorf("%s: %s body: %w", p.url.Redacted(), p.cfg.Compression, decErr)
	}
	var body []byte
	var readErr error
	if bodyReader != nil {
		body, readErr = io.ReadAll(io.LimitReader(bodyReader, httpBodyLimit))
	}
	tt.finish()
	out.bodyLength = int64(len(body))
	if reason != "" {
		return reason, err
	}
	if readErr != nil {
		if reason := httpReason(ctx, readErr); p.cfg.Compression != "" && reason != ReasonTimeout && reason != ReasonConnect {
			// A stream that does not decode: the server did not send the
			// compression the target expects.
			return ReasonProtocol, fmt.Errorf("decompressing the %s body of %s: %w", p.cfg.Compression, p.url.Redacted(), readErr)
		}
		return httpReason(ctx, readErr), fmt.Errorf("reading body of %s: %w", p.url.Redacted(), readErr)
	}
	for _, re := range p.matches {
		if re.Match(body) {
			out.failedRegex = true
			return ReasonBodyMismatch, fmt.Errorf("%s: body matched %q", p.url.Redacted(), re.String())
		}
	}
	for _, re := range p.notMatches {
		if !re.Match(body) {
			out.failedRegex = true
			return ReasonBodyMismatch, fmt.Errorf("%s: body did not match %q", p.url.Redacted(), re.String())
		}
	}
	if v := p.cfg.ValidHTTPVersions; len(v) > 0 && !slices.Contains(v, resp.Proto) {
		return ReasonProtocol, fmt.Errorf("%s: answered in %s, want one of %s", p.url.Redacted(), resp.Proto, strings.Join(v, ", "))
	}
	if p.cfg.FailIfSSL && resp.TLS != nil {
		return ReasonTLS, fmt.Errorf("%s: final response over TLS (fail_if_ssl)", p.url.Redacted())
	}
	if p.cfg.FailIfNotSSL && resp.TLS == nil {
		return ReasonTLS, fmt.Errorf("%s: final response not over TLS (fail_if_not_ssl)", p.url.Redacted())
	}
	return "", nil
}

// checkHeaders is the status code check, then blackbox_exporter's
// matchRegularExpressionsOnHeaders (reason body_mismatch).
func (p *httpProber) checkHeaders(resp *http.Response) (string, error) {
	if !p.validStatus(resp.StatusCode) {
		return ReasonStatus, fmt.Errorf("%s %s: unexpected status %d", p.method, p.url.Redacted(), resp.StatusCode)
	}
	for _, m := range p.cfg.FailIfHeaderMatches {
		values := resp.Header.Values(m.Header)
		if len(values) == 0 && !m.AllowMissing {
			return ReasonBodyMismatch, fmt.Errorf("%s: missing header %s", p.url.Redacted(), m.Header)
		}
		for _, v := range values {
			if m.Regexp.MatchString(v) {
				return ReasonBodyMismatch, fmt.Errorf("%s: header %s matched %q", p.url.Redacted(), m.Header, m.Regexp.String())
			}
		}
	}
	for _, m := range p.cfg.FailIfHeaderNotMatches {
		values := resp.Header.Values(m.Header)
		if len(values) == 0 && !m.AllowMissing {
			return ReasonBodyMismatch, fmt.Errorf("%s: missing header %s", p.url.Redacted(), m.Header)
		}
		if len(values) > 0 && !slices.ContainsFunc(values, m.Regexp.MatchString) {
			return ReasonBodyMismatch, fmt.Errorf("%s: header %s did not match %q", p.url.Redacted(), m.Header, m.Regexp.String())
		}
	}
	return "", nil
}

// decompressor wraps a body in blackbox_exporter's getDecompressionReader:
// the configured compression is expected whatever Content-Encoding says. On
// error it returns the raw body, still to be read (and so timed).
func decompressor(algorithm string, body io.Reader) (io.Reader, error) {
	switch strings.ToLower(algorithm) {
	case "", "identity":
		return body, nil
	case "gzip":
		r, err := gzip.NewReader(body)
		if err != nil {
			return body, err
		}
		return r, nil
	case "deflate":
		return flate.NewReader(body), nil
	case "br":
		return brotli.NewReader(body), nil
	}
	return body, fmt.Errorf("unsupported compression %q", algorithm)
}

func (p *httpProber) request(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	if p.cfg.Body != "" {
		body = strings.NewReader(p.cfg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, p.url.String(), body)
	if err != nil {
		return nil, fmt.Errorf("building request for %s: %w", p.url.Redacted(), err)
	}
	req.Header.Set("User-Agent", "vigil-agent/"+buildinfo.Version)
	for k, v := range p.cfg.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if b := p.cfg.BasicAuth; b != nil {
		pw := b.Password
		if b.PasswordFile != "" {
			// Read per probe, as the bearer token file: secrets rotate.
			raw, err := os.ReadFile(b.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("reading basic_auth.password_file %s: %w", b.PasswordFile, err)
			}
			pw = strings.TrimSpace(string(raw))
		}
		req.SetBasicAuth(b.Username, pw)
	}
	if tok := p.cfg.BearerToken; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if f := p.cfg.BearerTokenFile; f != "" {
		// Read per probe: projected service-account tokens rotate.
		tok, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading bearer_token_file %s: %w", f, err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	return req, nil
}

func (p *httpProber) validStatus(code int) bool {
	if len(p.cfg.ValidStatusCodes) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(p.cfg.ValidStatusCodes, code)
}

// httpReason classifies a request error; an expired probe deadline is a
// timeout whatever error the transport surfaced for it.
func httpReason(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ReasonTimeout
	}
	return classify(err)
}

func (p *httpProber) report(s *sink, out *httpOutcome, tt *tripTracer) {
	phases := tt.phases()
	phases[0] += tt.lookup // the first request's resolution, done before it
	for phase, d := range phases {
		s.gauge("probe_http_duration_seconds", "Duration of http request by phase, summed over all redirects.", d.Seconds(), "phase", httpPhases[phase])
	}
	s.gauge("probe_http_status_code", "Response HTTP status code.", float64(out.status))
	s.gauge("probe_http_content_length", "Length of http content response.", float64(out.contentLength))
	s.gauge("probe_http_uncompressed_body_length", "Length of uncompressed response body", float64(out.bodyLength))
	// blackbox's float of the protocol version: HTTP/1.1 is 1.1, HTTP/2.0 is 2.
	var version float64
	if v, ok := strings.CutPrefix(out.proto, "HTTP/"); ok {
		version, _ = strconv.ParseFloat(v, 64)
	}
	s.gauge("probe_http_version", "Returns the version of HTTP of the probe response", version)
	if !out.lastModified.IsZero() {
		s.gauge("probe_http_last_modified_timestamp_seconds", "Returns the Last-Modified HTTP response header in unixtime", float64(out.lastModified.Unix()))
	}
	s.gauge("probe_http_redirects", "The number of redirects.", float64(out.redirects))
	s.gauge("probe_http_ssl", "Indicates if SSL was used for the final redirect.", boolToFloat(out.tls != nil))
	s.gauge("probe_failed_due_to_regex", "Indicates if probe failed due to regex.", boolToFloat(out.failedRegex))
	if out.tls != nil {
		addTLSMetrics(s, out.tls, true)
	}
}

// roundTrip holds the httptrace timestamps of one request of a probe.
type roundTrip struct {
	dnsStart, dnsDone         time.Time
	connectStart, connectDone time.Time
	tlsStart, tlsDone         time.Time
	gotConn, firstByte, end   time.Time
}

// tripTracer is a RoundTripper recording every round trip of a probe,
// redirects included, as blackbox_exporter's transport does. Hooks run on
// the transport's dial goroutines, hence the mutex.
type tripTracer struct {
	next   http.RoundTripper
	lookup time.Duration // resolveTarget's, before the first round trip
	mu     sync.Mutex
	trips  []*roundTrip
}

func (t *tripTracer) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := &roundTrip{}
	now := time.Now()
	t.mu.Lock()
	if n := len(t.trips); n > 0 && t.trips[n-1].end.IsZero() {
		t.trips[n-1].end = now // the previous response ends where its redirect starts
	}
	t.trips = append(t.trips, rt)
	t.mu.Unlock()
	set := func(f *time.Time) {
		t.mu.Lock()
		if f.IsZero() {
			*f = time.Now()
		}
		t.mu.Unlock()
	}
	trace := &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { set(&rt.dnsStart) },
		DNSDone:              func(httptrace.DNSDoneInfo) { set(&rt.dnsDone) },
		ConnectStart:         func(string, string) { set(&rt.connectStart) },
		ConnectDone:          func(_, _ string, err error) { set(&rt.connectDone) },
		TLSHandshakeStart:    func() { set(&rt.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { set(&rt.tlsDone) },
		GotConn:              func(httptrace.GotConnInfo) { set(&rt.gotConn) },
		GotFirstResponseByte: func() { set(&rt.firstByte) },
	}
	return t.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
}

// finish marks the end of the last response's transfer.
func (t *tripTracer) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.trips); n > 0 && t.trips[n-1].end.IsZero() {
		t.trips[n-1].end = time.Now()
	}
}

// phases sums each phase over the round trips, in httpPhases order. A phase
// that did not happen (no DNS for an IP literal, no TLS for http, a request
// that failed early) counts zero.
func (t *tripTracer) phases() [len(httpPhases)]time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	span := func(from, to time.Time) time.Duration {
		if from.IsZero() || to.IsZero() || to.Before(from) {
			return 0
		}
		return to.Sub(from)
	}
	var sum [len(httpPhases)]time.Duration
	for _, rt := range t.trips {
		sum[0] += span(rt.dnsStart, rt.dnsDone)
		sum[1] += span(rt.connectStart, rt.connectDone)
		sum[2] += span(rt.tlsStart, rt.tlsDone)
		sum[3] += span(rt.gotConn, rt.firstByte)
		sum[4] += span(rt.firstByte, rt.end)
	}
	return sum
}
