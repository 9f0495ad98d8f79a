package api

import (
	"net/http"
	"strconv"
)

// indexRetryAfter is the Retry-After of writes refused before the indexes
// exist: about the first index retry after MongoDB comes back.
const indexRetryAfter = 5

// sessionRoutes change only sessions, which no unique index guards: they
// stay open while the indexes are missing, so users can still log in.
var sessionRoutes = map[string]bool{
	"/api/auth/login":   true,
	"/api/auth/refresh": true,
	"/api/auth/logout":  true,
}

// withIndexGate refuses writes until MongoDB's indexes exist. Without the
// unique index on users' emails, concurrent registrations of one address
// would all succeed, and the index could then never be built.
func (s *server) withIndexGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !sessionRoutes[s.route(r)] && !s.store.IndexesReady() {
				w.Header().Set("Retry-After", strconv.Itoa(indexRetryAfter))
				writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "database not ready: indexes are being created"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
