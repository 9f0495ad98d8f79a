package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestDatePoison: dates are range-checked after the conversion to UTC, so
// a value that would be stored as year 10000 (or 0) is refused with a 400
// naming the field, and nothing is stored.
func TestDatePoison(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))
	task := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+p+"/tasks", a.token, map[string]any{"title": "T"}))
	entry := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", a.token, map[string]any{"project": p, "date": "2026-01-01", "duration": 5}))

	poison := []string{
		"9999-12-31T23:30:00-01:00", // year 10000 in UTC
		"0001-01-01T00:00:00+01:00", // year 0 in UTC
		"2999-12-31T23:30:00-01:00", // year 3000 in UTC
		"1900-01-01T00:30:00+01:00", // 1899 in UTC
		"1899-12-31",
		"3000-01-01",
	}
	for _, v := range poison {
		for _, tc := range []struct {
			method, path, field string
			body                map[string]any
		}{
			{"POST", "/api/projects", "endDate", map[string]any{"name": "x", "endDate": v}},
			{"POST", "/api/projects", "startDate", map[string]any{"name": "x", "startDate": v}},
			{"PATCH", "/api/projects/" + p, "endDate", map[string]any{"endDate": v}},
			{"POST", "/api/projects/" + p + "/tasks", "dueDate", map[string]any{"title": "x", "dueDate": v}},
			{"PATCH", "/api/tasks/" + task, "dueDate", map[string]any{"dueDate": v}},
			{"POST", "/api/time-entries", "date", map[string]any{"project": p, "date": v, "duration": 5}},
			{"PATCH", "/api/time-entries/" + entry, "date", map[string]any{"date": v}},
			{"GET", "/api/projects/" + p + "/tasks?due_before=" + strings.ReplaceAll(v, "+", "%2B"), "due_before", nil},
		} {
			r := e.must(http.StatusBadRequest, tc.method, tc.path, a.token, tc.body)
			if fields, _ := r.json(t)["fields"].(map[string]any); fields[tc.field] == nil {
				t.Errorf("%s %s with %s: fields = %s, want %s named", tc.method, tc.path, v, r.raw, tc.field)
			}
		}
	}
	for _, path := range []string{"/api/projects", "/api/projects/" + p + "/tasks", "/api/time-entries"} {
		var l struct{ Total int }
		e.must(http.StatusOK, "GET", path, a.token, nil).decode(t, &l)
		if l.Total != 1 {
			t.Errorf("%s total = %d after refused writes, want 1", path, l.Total)
		}
	}
}

// TestDateRoundTrip: the range's edges are accepted, and every date the
// API returns is accepted back unchanged.
func TestDateRoundTrip(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	for _, v := range []string{"1900-01-01T00:00:00Z", "2999-12-31T23:59:59.999Z", "1900-01-01T01:00:00+01:00", "2999-12-31", "2026-06-01T12:34:56.789123+02:00"} {
		r := e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P", "startDate": v, "endDate": v}).json(t)
		returned, _ := r["endDate"].(string)
		id, _ := r["id"].(string)
		back := e.must(http.StatusOK, "PATCH", "/api/projects/"+id, a.token, map[string]any{"startDate": returned, "endDate": returned}).json(t)
		if back["endDate"] != returned || back["startDate"] != returned {
			t.Errorf("%s: returned %s, sent back, got %v/%v", v, returned, back["startDate"], back["endDate"])
		}
	}
}

// TestStoredBadDocumentsDoNotBreakLists: documents the API would refuse,
// planted directly in MongoDB, are logged with their id and skipped; the
// lists stay 200 for the whole organization.
func TestStoredBadDocumentsDoNotBreakLists(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "Good"}))
	e.must(http.StatusCreated, "POST", "/api/projects/"+p+"/tasks", a.token, map[string]any{"title": "Good"})
	e.must(http.StatusCreated, "POST", "/api/time-entries", a.token, map[string]any{"project": p, "date": "2026-01-01", "duration": 5})

	org, _ := bson.ObjectIDFromHex(a.orgID)
	user, _ := bson.ObjectIDFromHex(a.userID)
	project, _ := bson.ObjectIDFromHex(p)
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Now().UTC()
	db := e.db()
	ctx := context.Background()
	bad := map[string]bson.D{
		"projects": {{Key: "_id", Value: bson.NewObjectID()}, {Key: "organization", Value: org}, {Key: "name", Value: "Poison"}, {Key: "status", Value: "active"},
			{Key: "teamMembers", Value: bson.A{}}, {Key: "endDate", Value: year10000}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}},
		"tasks": {{Key: "_id", Value: bson.NewObjectID()}, {Key: "organization", Value: org}, {Key: "project", Value: project}, {Key: "title", Value: "Poison"},
			{Key: "status", Value: "todo"}, {Key: "priority", Value: "low"}, {Key: "tags", Value: bson.A{}}, {Key: "dueDate", Value: year10000}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}},
		"timeentries": {{Key: "_id", Value: bson.NewObjectID()}, {Key: "organization", Value: org}, {Key: "user", Value: user}, {Key: "project", Value: project},
			{Key: "date", Value: year10000}, {Key: "duration", Value: 5}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}},
	}
	// A document of the wrong shape altogether.
	wrongType := bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "organization", Value: org}, {Key: "name", Value: 42}, {Key: "createdAt", Value: now}}
	for coll, doc := range bad {
		if _, err := db.Collection(coll).InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Collection("projects").InsertOne(ctx, wrongType); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/api/projects", "/api/projects?status=planning", "/api/projects/" + p + "/tasks", "/api/time-entries", "/api/time-entries?user=me"} {
		r := e.must(http.StatusOK, "GET", path, a.token, nil)
		if strings.Contains(string(r.raw), "Poison") || strings.Contains(string(r.raw), "10000") {
			t.Errorf("%s serves the bad document: %s", path, r.raw)
		}
		if !strings.Contains(string(r.raw), `"id"`) {
			t.Errorf("%s lost the good documents: %s", path, r.raw)
		}
	}
	for _, doc := range []bson.D{bad["projects"], bad["tasks"], bad["timeentries"], wrongType} {
		id := doc[0].Value.(bson.ObjectID).Hex()
		if !e.waitLog(`"id":"` + id + `"`) {
			t.Errorf("no log line names bad document %s:\n%s", id, e.logs)
		}
	}
	// Read alone, a bad document is a 500 whose cause is logged.
	badProject := bad["projects"][0].Value.(bson.ObjectID).Hex()
	e.must(http.StatusInternalServerError, "GET", "/api/projects/"+badProject, a.token, nil)
	if !e.waitLog(`"err":"reading projects ` + badProject) {
		t.Errorf("500 without its cause in the log:\n%s", e.logs)
	}
	// It still exists for what hangs off it, and so does a bad task.
	e.must(http.StatusOK, "GET", "/api/projects/"+badProject+"/tasks", a.token, nil)
	e.must(http.StatusCreated, "POST", "/api/projects/"+badProject+"/tasks", a.token, map[string]any{"title": "T"})
	badTask := bad["tasks"][0].Value.(bson.ObjectID).Hex()
	e.must(http.StatusCreated, "POST", "/api/time-entries", a.token, map[string]any{"project": p, "task": badTask, "date": "2026-01-02", "duration": 5})
	// It can still be repaired through the API.
	e.must(http.StatusOK, "PATCH", "/api/projects/"+badProject, a.token, map[string]any{"endDate": "2026-12-31"})
}
