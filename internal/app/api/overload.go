package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/app/ratelimit"
)

// LoginThrottle slows password guessing (ratelimit.LoginThrottle): Check
// refuses an attempt with a *ratelimit.Throttled error while the account or
// the client is locked out; Failed and Succeeded record the outcome.
type LoginThrottle interface {
	Check(ctx context.Context, r *http.Request, account string) error
	Failed(ctx context.Context, r *http.Request, account string)
	Succeeded(ctx context.Context, r *http.Request, account string)
}

// passwordRoutes are the routes that run bcrypt: they take one of the
// password slots for their whole handling (the database work around the
// hash is small beside it). A new route that hashes or checks a password
// belongs here.
var passwordRoutes = map[string]bool{
	"POST /api/auth/login":        true,
	"POST /api/auth/register":     true,
	"POST /api/users":             true,
	"POST /api/users/me/password": true,
}

// busyRetryAfter is what a busy answer tells the client to wait.
const busyRetryAfter = time.Second

// withPasswordWork bounds the bcrypt work of the password routes to the
// password slots; a request that finds no slot within their wait answers
// 503 busy rather than queueing behind a flood of logins.
func (s *server) withPasswordWork(next http.Handler) http.Handler {
	if s.pwSlots == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !passwordRoutes[r.Method+" "+s.route(r)] {
			next.ServeHTTP(w, r)
			return
		}
		release, err := s.pwSlots.Acquire(r.Context())
		if err != nil {
			if errors.Is(err, auth.ErrBusy) {
				s.busy(w, r, httpmetrics.BusyBcrypt, err)
				return
			}
			s.fail(w, r, err) // the client went away
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// busy answers 503 {"error":"busy"} with Retry-After: the app works but a
// bounded resource is saturated, which is not an outage of a dependency.
func (s *server) busy(w http.ResponseWriter, r *http.Request, resource string, cause error) {
	if s.metrics != nil {
		s.metrics.Busy.WithLabelValues(resource).Inc()
	}
	s.log.WarnContext(r.Context(), "overloaded", "resource", resource, "err", cause)
	w.Header().Set("Retry-After", retryAfter(busyRetryAfter))
	writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "busy"})
}

// loginThrottled answers 429 and reports true when the attempt at account
// must wait.
func (s *server) loginThrottled(w http.ResponseWriter, r *http.Request, account string) bool {
	if s.loginThrottle == nil {
		return false
	}
	err := s.loginThrottle.Check(r.Context(), r, account)
	if th, ok := errors.AsType[*ratelimit.Throttled](err); ok {
		s.log.WarnContext(r.Context(), "login throttled", "scope", th.Scope, "retry_after", th.RetryAfter.String())
		w.Header().Set("Retry-After", retryAfter(th.RetryAfter))
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "too many failed logins; retry later"})
		return true
	}
	return false
}

// loginOutcome records whether the attempt at account succeeded.
func (s *server) loginOutcome(r *http.Request, account string, ok bool) {
	if s.loginThrottle == nil {
		return
	}
	if ok {
		s.loginThrottle.Succeeded(r.Context(), r, account)
	} else {
		s.loginThrottle.Failed(r.Context(), r, account)
	}
}

// retryAfter rounds up to whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}
