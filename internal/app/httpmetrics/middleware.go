package httpmetrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// methods are the label values of the method label; anything else is
// "other", so a client cannot mint series by inventing methods.
var methods = [...]string{"other", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

func methodIndex(m string) uint8 {
	switch m {
	case http.MethodGet:
		return 1
	case http.MethodHead:
		return 2
	case http.MethodPost:
		return 3
	case http.MethodPut:
		return 4
	case http.MethodPatch:
		return 5
	case http.MethodDelete:
		return 6
	case http.MethodOptions:
		return 7
	case http.MethodConnect:
		return 8
	case http.MethodTrace:
		return 9
	}
	return 0
}

// NormalizeMethod returns the method label value for an HTTP method.
func NormalizeMethod(m string) string { return methods[methodIndex(m)] }

// statusText holds the status label value of every valid code, computed
// once so the hot path does not format integers.
var statusText = func() [600]string {
	var t [600]string
	for i := 100; i < 600; i++ {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func statusLabel(code int) (uint16, string) {
	if code < 100 || code >= 600 {
		return 0, "other"
	}
	return uint16(code), statusText[code]
}

type seriesKey struct {
	method uint8
	status uint16
	route  string
}

type seriesEntry struct {
	requests prometheus.Counter
	duration prometheus.Observer
	// nextExemplar (unix nanoseconds) spaces out exemplars: attaching one
	// costs ~1 µs and 9 allocations, and a scrape only sees the latest
	// per bucket anyway.
	nextExemplar atomic.Int64
}

// Exemplar policy: every request slower than exemplarSlow carries its
// request ID (those are the ones worth a trace), others at most one per
// series per exemplarInterval.
const (
	exemplarSlow     = 100 * time.Millisecond
	exemplarInterval = time.Second
)

// wantsExemplar decides whether this observation gets an exemplar.
func (e *seriesEntry) wantsExemplar(end time.Time, elapsed time.Duration) bool {
	if elapsed >= exemplarSlow {
		return true
	}
	now := end.UnixNano()
	next := e.nextExemplar.Load()
	return now >= next && e.nextExemplar.CompareAndSwap(next, now+int64(exemplarInterval))
}

// maxCachedSeries bounds the child cache should a caller pass unbounded
// routes; past it lookups go through the vectors (slower, still correct).
const maxCachedSeries = 4096

func (m *Metrics) seriesFor(method uint8, route string, code int) *seriesEntry {
	status, statusStr := statusLabel(code)
	k := seriesKey{method: method, status: status, route: route}
	cur := *m.series.Load()
	if e, ok := cur[k]; ok {
		return e
	}
	e := &seriesEntry{
		requests: m.RequestsTotal.WithLabelValues(methods[method], route, statusStr),
		duration: m.RequestDuration.WithLabelValues(methods[method], route),
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	cur = *m.series.Load()
	if have, ok := cur[k]; ok {
		return have
	}
	if len(cur) >= maxCachedSeries {
		return e
	}
	next := make(map[seriesKey]*seriesEntry, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	next[k] = e
	m.series.Store(&next)
	return e
}

// responseWriter records the status code. It is pooled: the middleware
// never lets it outlive the request.
type responseWriter struct {
	http.ResponseWriter
	status int
}

var writerPool = sync.Pool{New: func() any { return new(responseWriter) }}

func (w *responseWriter) WriteHeader(code int) {
	// 1xx responses other than 101 are informational (103 Early Hints):
	// the final status is still to come.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols || code < 100) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming responses working through the middleware.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// hijacking).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestIDHeader is the canonical form, so the lookup is a plain map read.
const requestIDHeader = "X-Request-Id"

// Middleware counts and times every request under the route template that
// route returns for it (the ServeMux pattern; "unmatched" for unknown
// paths). route is called after next has returned, so when next is a
// ServeMux r.Pattern is already set. Requests answered with an
// X-Request-ID get it attached as an exemplar of the duration: all slow
// ones, and one a second per series of the others.
func (m *Metrics) Middleware(route func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.InFlight.Inc()
		rw := writerPool.Get().(*responseWriter)
		rw.ResponseWriter, rw.status = w, 0
		done := false
		defer func() {
			m.InFlight.Dec()
			status := rw.status
			if !done {
				// next panicked: net/http answers 500 (or drops the
				// connection for http.ErrAbortHandler). Count it, and
				// do not recycle a writer the handler may still hold.
				status = http.StatusInternalServerError
			} else if status == 0 {
				status = http.StatusOK
			}
			e := m.seriesFor(methodIndex(r.Method), route(r), status)
			e.requests.Inc()
			elapsed := time.Since(start)
			var id string
			if e.wantsExemplar(start.Add(elapsed), elapsed) {
				id = requestID(rw)
			}
			if id != "" {
				e.duration.(prometheus.ExemplarObserver).ObserveWithExemplar(elapsed.Seconds(), prometheus.Labels{"request_id": id})
			} else {
				e.duration.Observe(elapsed.Seconds())
			}
			if done {
				rw.ResponseWriter = nil
				writerPool.Put(rw)
			}
		}()
		next.ServeHTTP(rw, r)
		done = true
	})
}

// requestID returns the request's ID if it can serve as an exemplar label:
// exemplar labels are limited to 128 runes in total and must be UTF-8. It
// is the X-Request-ID of the answer, which the app's outer middleware set
// to the id its logs carry (the client's, when valid, else a new one);
// never the client's raw header, which may be anything.
func requestID(rw *responseWriter) string {
	if rw.ResponseWriter == nil {
		return ""
	}
	v := rw.Header()[requestIDHeader]
	if len(v) == 0 {
		return ""
	}
	id := v[0]
	if id == "" || len(id) > 64 || !utf8.ValidString(id) {
		return ""
	}
	return id
}
