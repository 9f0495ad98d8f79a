package ratelimit

import (
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
)

// Option configures Middleware.
type Option func(*middleware)

// TrustProxy makes the middleware take the client address from
// X-Forwarded-For when the request comes from a trusted proxy: a peer in
// one of the prefixes or, with none given, any peer (the app is only
// reachable through its proxies). The client is then the right-most
// address that is not itself a trusted proxy — the left-most entries are
// whatever the client chose to send. Without this option X-Forwarded-For
// is ignored: anyone could otherwise pick a fresh key per request.
func TrustProxy(prefixes ...netip.Prefix) Option {
	return func(m *middleware) {
		m.trustProxy = true
		m.trusted = prefixes
	}
}

type middleware struct {
	clientKeyer
	auth, api Limiter
	metrics   *httpmetrics.Metrics
	next      http.Handler
	log       *slog.Logger
	loggedErr atomic.Bool
}

// clientKeyer finds the client of a request, believing X-Forwarded-For
// only from trusted proxies.
type clientKeyer struct {
	trustProxy bool
	trusted    []netip.Prefix
}

// LogTo sends the middleware's warnings to l (default slog.Default()).
func LogTo(l *slog.Logger) Option {
	return func(m *middleware) { m.log = l }
}

func applyOptions(opts []Option) *middleware {
	mw := &middleware{log: slog.Default()}
	for _, o := range opts {
		o(mw)
	}
	if mw.log == nil {
		mw.log = slog.Default()
	}
	return mw
}

// deniedBody is the 429 response body.
const deniedBody = `{"error":"rate limit exceeded"}` + "\n"

// Middleware limits each client (by IP address; IPv6 by /64, which one
// subscriber typically holds whole) with auth on /api/auth/ and api on the
// rest of /api/, except the health and metrics endpoints that probes and
// scrapers call. Other paths pass. A refused request gets 429 with a JSON
// error and Retry-After, and counts in app_rate_limited_requests_total. A
// limiter error lets the request through: the limiter protects the API, it
// must not take it down. Either limiter and m may be nil.
func Middleware(auth, api Limiter, m *httpmetrics.Metrics, next http.Handler, opts ...Option) http.Handler {
	mw := applyOptions(opts)
	mw.auth, mw.api, mw.metrics, mw.next = auth, api, m, next
	return mw
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scope, lim := m.classify(r.URL.Path)
	if lim == nil {
		m.next.ServeHTTP(w, r)
		return
	}
	// The scope is part of the key: both limiters may share one Redis.
	var buf [64]byte
	key := append(append(buf[:0], scope...), ':')
	ok, retry, err := lim.Allow(r.Context(), string(m.appendClientKey(key, r)))
	if err != nil {
		if !m.loggedErr.Swap(true) {
			m.log.WarnContext(r.Context(), "rate limiter failed, letting requests through", slog.String("scope", scope), slog.Any("err", err))
		}
		ok = true
	}
	if ok {
		m.next.ServeHTTP(w, r)
		return
	}
	if m.metrics != nil {
		m.metrics.RateLimited.WithLabelValues(scope).Inc()
	}
	h := w.Header()
	h.Set("Retry-After", retryAfterSeconds(retry))
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(deniedBody))
}

func (m *middleware) classify(path string) (string, Limiter) {
	switch {
	case !strings.HasPrefix(path, "/api/"):
		return "", nil
	case underPath(path, "/api/health"), underPath(path, "/api/metrics"):
		return "", nil
	case strings.HasPrefix(path, "/api/auth/"):
		return httpmetrics.ScopeAuth, m.auth
	default:
		return httpmetrics.ScopeAPI, m.api
	}
}

func underPath(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// retryAfterSeconds rounds up to whole seconds, at least 1: a client told
// "0" would retry at once.
func retryAfterSeconds(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	return strconv.FormatInt(max(s, 1), 10)
}

// appendClientKey appends the client's address, as a rate-limit key, to b.
func (m *clientKeyer) appendClientKey(b []byte, r *http.Request) []byte {
	addr := peerAddr(r.RemoteAddr)
	if m.trustProxy && addr.IsValid() && m.isTrusted(addr) {
		if fwd, ok := m.forwardedClient(r.Header.Values("X-Forwarded-For")); ok {
			addr = fwd
		}
	}
	if !addr.IsValid() {
		return append(b, r.RemoteAddr...) // not an IP (a unix socket): one bucket for the lot
	}
	return appendKey(b, addr)
}

func (m *clientKeyer) isTrusted(a netip.Addr) bool {
	if len(m.trusted) == 0 {
		return true
	}
	for _, p := range m.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedClient walks X-Forwarded-For from the right, skipping trusted
// proxies. With every peer trusted (no prefixes), only the right-most entry,
// appended by our own proxy, can be believed.
func (m *clientKeyer) forwardedClient(values []string) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false // a garbled chain: trust none of it
		}
		a = a.Unmap()
		if len(m.trusted) == 0 || !m.isTrusted(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func appendKey(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		return a.AppendTo(b)
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.AppendTo(b)
}
