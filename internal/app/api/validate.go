package api

import (
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/text/unicode/norm"

	"github.com/vigil-sh/vigil/internal/app/store"
)

// Field limits.
const (
	maxNameLen        = 200
	maxDescriptionLen = 10_000
	maxTags           = 20
	maxTagLen         = 50
	maxTeamMembers    = 100
	minPasswordLen    = 8
	maxPasswordLen    = 72 // bcrypt's limit
	maxDurationMins   = 24 * 60
	defaultLimit      = 20
	maxLimit          = 100
	maxPage           = 1_000_000
)

// text validates a required (or optional) bounded string, trimming it.
func text(f fieldErrors, field string, v *string, required bool, maxLen int) {
	*v = strings.TrimSpace(*v)
	switch {
	case !utf8.ValidString(*v):
		f.add(field, "must be valid UTF-8")
	case strings.ContainsRune(*v, 0):
		f.add(field, "must not contain NUL characters")
	case required && *v == "":
		f.add(field, "is required")
	case utf8.RuneCountInString(*v) > maxLen:
		f.add(field, "must be at most "+strconv.Itoa(maxLen)+" characters")
	}
}

// name validates a required name or title: text without control
// characters (NUL, escapes, line breaks), which have no place in a name and
// can forge lines wherever names are shown.
func name(f fieldErrors, field string, v *string) {
	text(f, field, v, true, maxNameLen)
	if strings.ContainsFunc(*v, unicode.IsControl) {
		f.add(field, "must not contain control characters")
	}
}

// email validates and normalizes an email address. NFKC folds
// compatibility look-alikes (fullwidth letters, ligatures) into their
// plain form, so "ａda@acme.test" and "ada@acme.test" are one account.
func email(f fieldErrors, field string, v *string) {
	*v = strings.ToLower(norm.NFKC.String(strings.TrimSpace(*v)))
	if *v == "" {
		f.add(field, "is required")
		return
	}
	a, err := mail.ParseAddress(*v)
	if err != nil || a.Address != *v || len(*v) > 254 || !strings.Contains((*v)[strings.LastIndexByte(*v, '@'):], ".") {
		f.add(field, "must be a valid email")
	}
}

// password counts characters for the minimum (eight emoji are eight
// characters, not 32 bytes) and bytes for bcrypt's maximum.
func password(f fieldErrors, field, v string) {
	switch {
	case !utf8.ValidString(v):
		f.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(v) < minPasswordLen:
		f.add(field, "must be at least "+strconv.Itoa(minPasswordLen)+" characters")
	case len(v) > maxPasswordLen:
		f.add(field, "must be at most "+strconv.Itoa(maxPasswordLen)+" bytes")
	}
}

func oneOf(f fieldErrors, field, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		f.add(field, "must be one of "+strings.Join(allowed, ", "))
	}
}

// objectID parses a reference given in a body or query.
func objectID(f fieldErrors, field, v string) bson.ObjectID {
	id, err := bson.ObjectIDFromHex(v)
	if err != nil {
		f.add(field, "must be a valid id")
	}
	return id
}

// date parses RFC 3339 timestamps or plain dates (YYYY-MM-DD, midnight
// UTC). The range is checked after the conversion to UTC, on what is
// stored, so a value the API returns is always accepted back.
func date(f fieldErrors, field, v string) *time.Time {
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC().Truncate(time.Millisecond)
			if !store.ValidDate(t) {
				f.add(field, "must be between 1900-01-01 and 2999-12-31 (UTC)")
				return nil
			}
			return &t
		}
	}
	f.add(field, "must be a date (YYYY-MM-DD) or RFC 3339 timestamp")
	return nil
}

func tags(f fieldErrors, field string, in []string) []string {
	if len(in) > maxTags {
		f.add(field, "must have at most "+strconv.Itoa(maxTags)+" tags")
		return nil
	}
	out := make([]string, 0, len(in))
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t == "" || utf8.RuneCountInString(t) > maxTagLen || !utf8.ValidString(t) || strings.ContainsFunc(t, unicode.IsControl) {
			f.add(field, "tags must be 1-"+strconv.Itoa(maxTagLen)+" characters")
			return nil
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// page reads ?page=&limit=; a limit over the maximum is capped.
func page(f fieldErrors, r *http.Request) store.Page {
	p := store.Page{Page: 1, Limit: defaultLimit}
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			f.add("page", "must be an integer between 1 and "+strconv.Itoa(maxPage))
		} else {
			p.Page = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			f.add("limit", "must be a positive integer")
		} else {
			p.Limit = min(n, maxLimit)
		}
	}
	return p
}

// listBody is the shape of every list response.
type listBody[T any] struct {
	Items []T   `json:"items"`
	Page  int   `json:"page"`
	Limit int   `json:"limit"`
	Total int64 `json:"total"`
}
