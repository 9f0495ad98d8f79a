package api_test

import (
	"net/http"
	"testing"
)

// TestPatchClearsWithNull: PATCH is a JSON merge patch: null clears an
// optional field, absent fields stay, required fields cannot be cleared.
func TestPatchClearsWithNull(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{
		"name": "P", "description": "d", "teamMembers": []string{a.userID}, "startDate": "2026-01-01", "endDate": "2026-12-31"}))
	task := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+p+"/tasks", a.token, map[string]any{
		"title": "T", "priority": "high", "assignedTo": a.userID, "dueDate": "2026-02-01", "tags": []string{"x"}, "description": "d"}))
	entry := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", a.token, map[string]any{"project": p, "task": task, "date": "2026-01-05", "duration": 30, "description": "d"}))

	cases := []struct {
		name      string
		path      string
		body      string
		want      int
		gone      []string // fields absent from the answer
		empty     map[string]any
		unchanged map[string]any
	}{
		{"task: clear assignee and due date", "/api/tasks/" + task, `{"assignedTo":null,"dueDate":null}`, 200,
			[]string{"assignedTo", "dueDate"}, nil, map[string]any{"priority": "high", "title": "T"}},
		{"task: clear text and tags", "/api/tasks/" + task, `{"description":null,"tags":null}`, 200,
			nil, map[string]any{"description": ""}, map[string]any{"priority": "high"}},
		{"task: title cannot be cleared", "/api/tasks/" + task, `{"title":null}`, 400, nil, nil, nil},
		{"task: empty string is still not an id", "/api/tasks/" + task, `{"assignedTo":""}`, 400, nil, nil, nil},
		{"project: clear dates", "/api/projects/" + p, `{"startDate":null,"endDate":null}`, 200,
			[]string{"startDate", "endDate"}, nil, map[string]any{"name": "P"}},
		{"project: clear team and description", "/api/projects/" + p, `{"teamMembers":null,"description":null}`, 200,
			nil, map[string]any{"description": ""}, nil},
		{"project: name cannot be cleared", "/api/projects/" + p, `{"name":null,"status":null}`, 400, nil, nil, nil},
		{"entry: clear task", "/api/time-entries/" + entry, `{"task":null}`, 200,
			[]string{"task"}, nil, map[string]any{"duration": float64(30)}},
		{"entry: date cannot be cleared", "/api/time-entries/" + entry, `{"date":null}`, 400, nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(tc.want, "PATCH", tc.path, a.token, tc.body)
			if tc.want != 200 {
				if fields, _ := r.json(t)["fields"].(map[string]any); len(fields) == 0 {
					t.Errorf("400 without the field named: %s", r.raw)
				}
				return
			}
			for _, got := range []map[string]any{r.json(t), e.must(http.StatusOK, "GET", tc.path, a.token, nil).json(t)} {
				for _, k := range tc.gone {
					if v, ok := got[k]; ok {
						t.Errorf("%s = %v after null, want it gone", k, v)
					}
				}
				for k, v := range tc.empty {
					if got[k] != v {
						t.Errorf("%s = %v, want %v", k, got[k], v)
					}
				}
				for k, v := range tc.unchanged {
					if got[k] != v {
						t.Errorf("%s = %v, want unchanged %v", k, got[k], v)
					}
				}
			}
		})
	}
	if got := e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil).json(t); len(got["teamMembers"].([]any)) != 0 {
		t.Errorf("teamMembers = %v after null", got["teamMembers"])
	}
	if got := e.must(http.StatusOK, "GET", "/api/tasks/"+task, a.token, nil).json(t); len(got["tags"].([]any)) != 0 {
		t.Errorf("tags = %v after null", got["tags"])
	}
	var l struct{ Total int }
	e.must(http.StatusOK, "GET", "/api/projects/"+p+"/tasks?assignee="+a.userID, a.token, nil).decode(t, &l)
	if l.Total != 0 {
		t.Errorf("cleared assignee still matches the filter")
	}
}

// TestDeleteTaskClearsReferences: time entries logged on a deleted task
// keep their hours on the project, without a dangling task id.
func TestDeleteTaskClearsReferences(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))
	task := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+p+"/tasks", a.token, map[string]any{"title": "T"}))
	entry := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", a.token, map[string]any{"project": p, "task": task, "date": "2026-01-05", "duration": 30}))
	e.must(http.StatusNoContent, "DELETE", "/api/tasks/"+task, a.token, nil)
	got := e.must(http.StatusOK, "GET", "/api/time-entries/"+entry, a.token, nil).json(t)
	if _, ok := got["task"]; ok || got["duration"] != float64(30) || got["project"] != p {
		t.Errorf("entry after its task was deleted = %v", got)
	}
	// And the entry can still be edited (no "no such task" on a ghost).
	e.must(http.StatusOK, "PATCH", "/api/time-entries/"+entry, a.token, map[string]any{"duration": 45})
}
