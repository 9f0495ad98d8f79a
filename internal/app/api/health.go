package api

import "net/http"

// detailedHealth is a health handler that also has an operator's view
// (health.Checker).
type detailedHealth interface {
	ServeDetails(http.ResponseWriter, *http.Request)
}

// healthRoute serves the public health answer to anonymous callers (probes,
// load balancers) and the details to an admin's token; any other token is
// refused as on every authenticated route. While MongoDB cannot confirm
// that the token's user is still an admin (the per-request user check), a
// valid token gets the public answer: health must still answer in an
// outage, and a revoked admin must not see the details.
func (s *server) healthRoute(public http.Handler) http.Handler {
	d, ok := public.(detailedHealth)
	if !ok {
		return public
	}
	details := s.authedOr(func(w http.ResponseWriter, r *http.Request) {
		if !caller(r).admin() {
			s.fail(w, r, errForbidden)
			return
		}
		d.ServeDetails(w, r)
	}, public)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			public.ServeHTTP(w, r)
			return
		}
		details.ServeHTTP(w, r)
	})
}
