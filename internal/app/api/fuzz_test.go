package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPI sends arbitrary requests through the whole handler, on a real
// FerretDB: no input may produce a 5xx, a panic, or a non-JSON answer.
func FuzzAPI(f *testing.F) {
	e := newEnv(f)
	admin := e.register("Fuzz", "admin@fuzz.test")
	member := e.member(admin, "member@fuzz.test")
	project := e.id(e.must(http.StatusCreated, "POST", "/api/projects", admin.token, map[string]any{"name": "P"}))
	task := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+project+"/tasks", admin.token, map[string]any{"title": "T"}))
	entry := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", member.token, map[string]any{"project": project, "date": "2026-01-01", "duration": 5}))
	handler := e.srv.Config.Handler
	tokens := []string{"", admin.token, member.token, "garbage"}
	methods := []string{"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"}
	expand := strings.NewReplacer("{p}", project, "{t}", task, "{e}", entry, "{u}", member.userID)

	seeds := []struct {
		method, token uint8
		path, body    string
	}{
		{1, 0, "/api/auth/register", `{"organization":"o","name":"n","email":"n@o.test","password":"password1"}`},
		{1, 0, "/api/auth/login", `{"email":"admin@fuzz.test","password":"correct horse"}`},
		{1, 0, "/api/auth/refresh", `{"refreshToken":"x.y.z"}`},
		{1, 1, "/api/users", `{"name":"x","email":"x@fuzz.test","password":"password1","role":"member"}`},
		{1, 1, "/api/projects", `{"name":"p","status":"active","teamMembers":["{u}"],"startDate":"2026-01-01","endDate":"2026-02-01"}`},
		{2, 2, "/api/projects/{p}", `{"name":"renamed","endDate":"2025-01-01"}`},
		{0, 1, "/api/projects?page=2&limit=1000&status=active&member={u}", ``},
		{1, 2, "/api/projects/{p}/tasks", `{"title":"t","priority":"high","tags":["a","b"],"assignedTo":"{u}","dueDate":"2026-01-01T10:00:00Z"}`},
		{0, 2, "/api/projects/{p}/tasks?status=todo&assignee={u}&due_before=2027-01-01&tag=a", ``},
		{2, 1, "/api/tasks/{t}", `{"status":"done","tags":[]}`},
		{1, 2, "/api/time-entries", `{"project":"{p}","task":"{t}","date":"2026-01-01","duration":30}`},
		{0, 1, "/api/time-entries?user=me&from=2026-01-01&to=2026-12-31&project={p}", ``},
		{2, 2, "/api/time-entries/{e}", `{"duration":99999}`},
		{3, 2, "/api/projects/{p}", ``},
		{0, 3, "/api/users/me", ``},
		{0, 0, "/api/health", ``},
		{1, 1, "/api/projects", `{"name":"x"} trailing`},
		{1, 1, "/api/projects", `{"name":1e999}`},
		{1, 1, "/api/time-entries", `{"project":"{p}","date":"0000-01-01","duration":-1}`},
		{2, 1, "/api/users/{u}", `{"role":"member","name":"m"}`},
		{0, 2, "/api/users/{u}", ``},
		{2, 2, "/api/users/me", `{"name":"renamed"}`},
		{1, 2, "/api/users/me/password", `{"currentPassword":"wrong","newPassword":"x"}`},
		{1, 0, "/api/auth/logout", `{"refreshToken":"x.y.z"}`},
		{2, 1, "/api/tasks/{t}", `{"assignedTo":null,"dueDate":null,"title":null}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.token, s.path, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, token uint8, path string, body []byte) {
		path = "/api/" + strings.TrimPrefix(expand.Replace(path), "/api/")
		req, err := http.NewRequest(methods[int(method)%len(methods)], "http://app"+path, strings.NewReader(expand.Replace(string(body))))
		if err != nil {
			return // not a URL a client could send
		}
		req.RemoteAddr = "192.0.2.1:1234"
		if tok := tokens[int(token)%len(tokens)]; tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q -> %d: %s", req.Method, path, body, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusNoContent || req.Method == "HEAD" || strings.HasPrefix(path, "/api/metrics") {
			return
		}
		// ServeMux redirects unclean paths ("/api/." → "/api/") to their
		// canonical form, with no body: a client follows the Location.
		if rec.Code/100 == 3 && rec.Header().Get("Location") != "" {
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s -> %d with a non-JSON body: %q", req.Method, path, rec.Code, rec.Body)
		}
	})
}

// FuzzDecode feeds arbitrary bodies to every request decoder: they answer
// 4xx with a JSON error, never 5xx or a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"name":"x"}`, `{"name":`, `[]`, `null`, `{"a":1}`, `{"duration":"x"}`, `{"teamMembers":[1]}`, "{\"name\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	a := e.register("Fuzz", "admin@fuzz.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))
	routes := []struct{ method, path string }{
		{"POST", "/api/auth/register"}, {"POST", "/api/auth/login"}, {"POST", "/api/auth/refresh"},
		{"POST", "/api/users"}, {"POST", "/api/projects"}, {"PATCH", "/api/projects/" + p},
		{"POST", "/api/projects/" + p + "/tasks"}, {"POST", "/api/time-entries"},
		{"POST", "/api/auth/logout"}, {"PATCH", "/api/users/me"}, {"POST", "/api/users/me/password"},
		{"PATCH", "/api/users/" + a.userID},
	}
	handler := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range routes {
			req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+a.token)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code >= 500 || !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s %q -> %d: %s", rt.method, rt.path, body, rec.Code, rec.Body)
			}
		}
	})
}

// FuzzPatch applies arbitrary merge-patch bodies to a project, a task and
// a time entry: a PATCH answers 2xx or 4xx with JSON, never 5xx, and
// whatever it stored still reads back, alone and in its list (no date or
// value it accepted can poison a later read).
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `{"name":null}`, `{"assignedTo":null,"dueDate":null}`, `{"task":null}`,
		`{"endDate":"9999-12-31T23:30:00-01:00"}`, `{"dueDate":"0001-01-01T00:00:00+01:00"}`, `{"date":"2999-12-31T23:59:59.999Z"}`,
		`{"startDate":"1900-01-01","endDate":null}`, `{"tags":null,"description":null}`, `{"teamMembers":null}`,
		`{"status":"done","priority":null}`, `{"duration":1440,"description":"\u0000"}`, `{"dueDate":null,"dueDate":"2026-01-01"}`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	a := e.register("Fuzz", "admin@fuzz.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P", "teamMembers": []string{a.userID}}))
	task := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+p+"/tasks", a.token, map[string]any{"title": "T", "assignedTo": a.userID}))
	entry := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", a.token, map[string]any{"project": p, "task": task, "date": "2026-01-01", "duration": 5}))
	targets := []struct{ patch, list string }{
		{"/api/projects/" + p, "/api/projects"},
		{"/api/tasks/" + task, "/api/projects/" + p + "/tasks"},
		{"/api/time-entries/" + entry, "/api/time-entries"},
	}
	handler := e.srv.Config.Handler
	serve := func(method, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.token)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, tg := range targets {
			rec := serve("PATCH", tg.patch, body)
			if rec.Code >= 500 || !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("PATCH %s %q -> %d: %s", tg.patch, body, rec.Code, rec.Body)
			}
			for _, path := range []string{tg.patch, tg.list} {
				if rec := serve("GET", path, nil); rec.Code != http.StatusOK {
					t.Fatalf("after PATCH %s %q (%d): GET %s -> %d: %s", tg.patch, body, rec.Code, path, rec.Code, rec.Body)
				}
			}
		}
	})
}
