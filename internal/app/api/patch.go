package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// PATCH bodies follow JSON merge patch (RFC 7396): a field absent stays,
// a value replaces, null clears. Optional fields (a task's assignee and due
// date, a time entry's task, a project's dates) are removed; text and list
// fields become empty; required fields cannot be cleared (400).

// decodePatch decodes a PATCH body into dst like decode, and returns the
// top-level fields given as null.
func decodePatch(r *http.Request, dst any) (map[string]bool, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large (limit %d bytes)", mbe.Limit))
		}
		return nil, errStatus(http.StatusBadRequest, "reading request body: "+err.Error())
	}
	if err := decodeFrom(bytes.NewReader(body), dst); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, errStatus(http.StatusBadRequest, "request body must be a JSON object")
	}
	nulls := map[string]bool{}
	for k, v := range fields {
		if string(bytes.TrimSpace(v)) == "null" {
			nulls[k] = true
		}
	}
	return nulls, nil
}

// clears turns the null fields of a patch into what they set: nothing
// (unset) for optional fields, the empty value for text and lists, and a
// validation error for required ones.
func clears(f fieldErrors, nulls map[string]bool, optional map[string]any, required ...string) bson.D {
	set := bson.D{}
	for _, k := range required {
		if nulls[k] {
			f.add(k, "cannot be cleared")
		}
	}
	for k, empty := range optional {
		if nulls[k] {
			set = append(set, bson.E{Key: k, Value: empty})
		}
	}
	return set
}

// Empty values of the clearable fields; nil pointers are unset by the store.
var (
	noDate = (*time.Time)(nil)
	noID   = (*bson.ObjectID)(nil)
)
