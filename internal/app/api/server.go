// Package api is the tracker's HTTP API: routing, middleware (security
// headers, request ids, access logs, metrics, rate limits, body limits,
// panic recovery) and the handlers for organizations, users, projects,
// tasks and time entries. NewServer returns a plain http.Handler so that
// tests drive exactly what production serves.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/cache"
	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/app/store"
)

// Deps are the server's collaborators.
type Deps struct {
	Store   *store.Store
	Tokens  *auth.Tokens
	Hasher  *auth.Hasher
	Metrics *httpmetrics.Metrics
	Logger  *slog.Logger

	// Cache, when set, serves hot reads; CacheTTL bounds staleness should
	// an invalidation be lost.
	Cache    cache.Cache
	CacheTTL time.Duration

	// RateLimit, when set, wraps the routes in the rate limiter
	// (ratelimit.Middleware); it runs after the request is counted, so
	// 429s show in the metrics and logs.
	RateLimit func(http.Handler) http.Handler

	// Health serves GET /api/health.
	Health http.Handler

	MaxBodyBytes int64 // default 1 MiB

	// LoginThrottle, when set, slows repeated failed logins (429).
	LoginThrottle LoginThrottle
	// PasswordSlots, when set, bounds concurrent bcrypt work (503 busy
	// past its wait).
	PasswordSlots *auth.Slots

	// skipUserCheck turns off the per-request user check, for the
	// benchmark's baseline only (export_test.go).
	skipUserCheck bool
}

type server struct {
	store         *store.Store
	tokens        *auth.Tokens
	hasher        *auth.Hasher
	log           *slog.Logger
	cache         cache.Cache
	cacheTTL      time.Duration
	maxBody       int64
	mux           *http.ServeMux
	metrics       *httpmetrics.Metrics
	users         userCache
	skipUserCheck bool

	loginThrottle LoginThrottle
	pwSlots       *auth.Slots
	// uncached holds organizations whose last cache invalidation failed
	// (bson.ObjectID -> time.Time until which reads bypass the cache).
	uncached sync.Map
	// pending retries the invalidations that failed.
	pending pendingInvalidations
}

type routeKey struct{}

// routeHolder carries the matched route template from the outer middleware
// (which knows the mux) to the metrics and log middleware.
type routeHolder struct{ route string }

// NewServer wires the API.
func NewServer(d Deps) http.Handler {
	logger := d.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &server{
		store:    d.Store,
		tokens:   d.Tokens,
		hasher:   d.Hasher,
		log:      slog.New(requestIDHandler{logger.Handler()}),
		cache:    d.Cache,
		cacheTTL: d.CacheTTL,
		maxBody:  d.MaxBodyBytes,
		mux:      http.NewServeMux(),

		skipUserCheck: d.skipUserCheck,
		loginThrottle: d.LoginThrottle,
		pwSlots:       d.PasswordSlots,
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.cacheTTL <= 0 {
		s.cacheTTL = time.Minute
	}
	m := d.Metrics
	if m == nil {
		m = httpmetrics.New(time.Second)
	}
	s.metrics = m
	s.routes(m.Handler(), d.Health)

	// Outermost first: every response (429s, 404s, panics) gets the
	// security headers and a request id, and is logged and counted.
	// The index gate before the password slots: a write refused until the
	// indexes exist must not hold (or wait for) a bcrypt slot.
	var h http.Handler = s.withRecover(s.withBodyLimit(s.withIndexGate(s.withPasswordWork(http.HandlerFunc(s.serveMux)))))
	if d.RateLimit != nil {
		h = d.RateLimit(h)
	}
	h = m.Middleware(s.route, h)
	h = s.withAccessLog(h)
	h = s.withRoute(h)
	h = withRequestID(h)
	return withSecurityHeaders(h)
}

func (s *server) routes(metrics, health http.Handler) {
	if health == nil {
		health = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
		})
	}
	m := s.mux
	m.Handle("GET /api/health", s.healthRoute(health))
	// Liveness: the process serves HTTP. Unlike /api/health it does not
	// depend on MongoDB, so an orchestrator restarting on it does not
	// restart every replica during a database outage.
	m.HandleFunc("GET /api/health/live", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	m.Handle("GET /api/metrics", metrics)

	m.HandleFunc("POST /api/auth/register", s.register)
	m.HandleFunc("POST /api/auth/login", s.login)
	m.HandleFunc("POST /api/auth/refresh", s.refresh)
	m.HandleFunc("POST /api/auth/logout", s.logout)
	m.Handle("POST /api/auth/logout-all", s.authed(s.logoutAll))

	m.Handle("GET /api/users/me", s.authed(s.me))
	m.Handle("GET /api/users", s.authed(s.listUsers))
	m.Handle("POST /api/users", s.authed(s.createUser))
	m.Handle("PATCH /api/users/me", s.authed(s.updateMe))
	m.Handle("POST /api/users/me/password", s.authed(s.changePassword))
	m.Handle("GET /api/users/{id}", s.authed(s.getUser))
	m.Handle("PATCH /api/users/{id}", s.authed(s.updateUser))
	m.Handle("DELETE /api/users/{id}", s.authed(s.removeUser))

	m.Handle("POST /api/projects", s.authed(s.createProject))
	m.Handle("GET /api/projects", s.authed(s.listProjects))
	m.Handle("GET /api/projects/{id}", s.authed(s.getProject))
	m.Handle("PATCH /api/projects/{id}", s.authed(s.updateProject))
	m.Handle("DELETE /api/projects/{id}", s.authed(s.deleteProject))

	m.Handle("POST /api/projects/{id}/tasks", s.authed(s.createTask))
	m.Handle("GET /api/projects/{id}/tasks", s.authed(s.listTasks))
	m.Handle("GET /api/tasks/{id}", s.authed(s.getTask))
	m.Handle("PATCH /api/tasks/{id}", s.authed(s.updateTask))
	m.Handle("DELETE /api/tasks/{id}", s.authed(s.deleteTask))

	m.Handle("POST /api/time-entries", s.authed(s.createTimeEntry))
	m.Handle("GET /api/time-entries", s.authed(s.listTimeEntries))
	m.Handle("GET /api/time-entries/{id}", s.authed(s.getTimeEntry))
	m.Handle("PATCH /api/time-entries/{id}", s.authed(s.updateTimeEntry))
	m.Handle("DELETE /api/time-entries/{id}", s.authed(s.deleteTimeEntry))
}

// withRoute resolves the route template once, before any middleware needs
// it: the mux's pattern without its method, or "unmatched".
func (s *server) withRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := s.mux.Handler(r)
		route := "unmatched"
		if pattern != "" {
			if _, path, ok := strings.Cut(pattern, " "); ok {
				pattern = path
			}
			route = pattern
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, &routeHolder{route})))
	})
}

func (s *server) route(r *http.Request) string {
	if h, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
		return h.route
	}
	return "unmatched"
}

// serveMux dispatches, answering the mux's own 404 and 405 in JSON.
func (s *server) serveMux(w http.ResponseWriter, r *http.Request) {
	if s.route(r) == "unmatched" {
		w = &jsonMuxErrors{ResponseWriter: w}
	}
	s.mux.ServeHTTP(w, r)
}

// principal is the authenticated caller.
type principal struct {
	User, Org bson.ObjectID
	Role      string // the stored role, not the token's
	Token     auth.Identity
}

func (p principal) admin() bool { return p.Role == auth.RoleAdmin }

type principalKey struct{}

func caller(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// authed requires a valid access token.
func (s *server) authed(h http.HandlerFunc) http.Handler { return s.authedOr(h, nil) }

// authedOr is authed, except that a valid token whose user cannot be
// checked because MongoDB does not answer (down or busy) is served by
// unchecked instead of failing: the caller is then treated as anonymous,
// never trusted on the token's word alone.
func (s *server) authedOr(h http.HandlerFunc, unchecked http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			s.fail(w, r, errUnauthorized)
			return
		}
		id, err := s.tokens.VerifyAccess(strings.TrimSpace(token))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			s.fail(w, r, errUnauthorized)
			return
		}
		user, err1 := bson.ObjectIDFromHex(id.UserID)
		org, err2 := bson.ObjectIDFromHex(id.OrgID)
		if err1 != nil || err2 != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			s.fail(w, r, errUnauthorized)
			return
		}
		role, err := s.currentUser(r.Context(), id, user, org)
		if errors.Is(err, errRevoked) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			err = errUnauthorized
		}
		if unchecked != nil && (errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrBusy)) {
			unchecked.ServeHTTP(w, r)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p := principal{User: user, Org: org, Role: role, Token: id}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}
