package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/app/store"
)

// errorBody is every error response: a message, and for validation errors
// the offending fields.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// fieldErrors collects validation problems by JSON field name.
type fieldErrors map[string]string

func (f fieldErrors) add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// httpError is an error that knows its response.
type httpError struct {
	status int
	body   errorBody
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.status, e.body.Error) }

func errStatus(status int, msg string) *httpError {
	return &httpError{status: status, body: errorBody{Error: msg}}
}

func errValidation(f fieldErrors) *httpError {
	return &httpError{status: http.StatusBadRequest, body: errorBody{Error: "validation failed", Fields: f}}
}

// statusClientClosedRequest is nginx's code for a request whose client
// disconnected before the answer.
const statusClientClosedRequest = 499

var (
	errNotFound     = errStatus(http.StatusNotFound, "not found")
	errForbidden    = errStatus(http.StatusForbidden, "forbidden")
	errUnauthorized = errStatus(http.StatusUnauthorized, "missing or invalid token")
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are encoded here; failing is a bug, and the
		// access log line of this request says which.
		noteCause(w, fmt.Errorf("encoding %T response: %w", v, err))
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	writeRaw(w, status, b)
}

// noteCause records why a request failed on every statusWriter wrapping w,
// so the access log names the cause of a 500 written outside fail.
func noteCause(w http.ResponseWriter, err error) {
	for {
		if sw, ok := w.(*statusWriter); ok && sw.cause == nil {
			sw.cause = err
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

// fail answers err: its own response for an *httpError, the matching status
// for store errors, 500 (logged) for anything else.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, store.ErrNotFound):
		he = errNotFound
	case errors.Is(err, store.ErrDuplicate):
		he = errStatus(http.StatusConflict, "already exists")
	case errors.Is(err, store.ErrBusy):
		s.busy(w, r, httpmetrics.BusyMongoPool, err)
		return
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.log.WarnContext(r.Context(), "database unavailable", "err", err)
		noteCause(w, err)
		he = errStatus(http.StatusServiceUnavailable, "database unavailable")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads this answer. 499 (nginx's
		// "client closed request") keeps it out of the server error rate.
		he = errStatus(statusClientClosedRequest, "client closed request")
	default:
		s.log.ErrorContext(r.Context(), "request failed", "err", err)
		noteCause(w, err)
		he = errStatus(http.StatusInternalServerError, "internal error")
	}
	writeJSON(w, he.status, he.body)
}

// decode reads exactly one JSON object into dst, rejecting unknown fields,
// trailing data and bodies over the limit, with a message naming the
// problem.
func decode(r *http.Request, dst any) error { return decodeFrom(r.Body, dst) }

func decodeFrom(body io.Reader, dst any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			var mbe *http.MaxBytesError
			if errors.As(terr, &mbe) {
				err = terr
			} else {
				return errStatus(http.StatusBadRequest, "request body must contain a single JSON object")
			}
		} else {
			return nil
		}
	}
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large (limit %d bytes)", mbe.Limit))
	case errors.Is(err, io.EOF):
		return errStatus(http.StatusBadRequest, "request body must not be empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errStatus(http.StatusBadRequest, "malformed JSON: unexpected end of input")
	case errors.As(err, &syntax):
		return errStatus(http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error()))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errStatus(http.StatusBadRequest, "request body must be a JSON object")
		}
		return &httpError{status: http.StatusBadRequest, body: errorBody{
			Error:  "validation failed",
			Fields: fieldErrors{typ.Field: "must be " + jsonType(typ.Type.Kind().String())},
		}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errStatus(http.StatusBadRequest, "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errStatus(http.StatusBadRequest, "malformed JSON: "+err.Error())
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value of another type"
	}
	return "a number"
}
