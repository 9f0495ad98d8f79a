package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthFlow(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")

	me := e.must(http.StatusOK, "GET", "/api/users/me", a.token, nil).json(t)
	if me["email"] != "ada@acme.test" || me["role"] != "admin" || me["id"] != a.userID {
		t.Errorf("me = %v", me)
	}

	cases := []struct {
		name       string
		method     string
		path       string
		token      string
		body       any
		wantStatus int
	}{
		{"duplicate email", "POST", "/api/auth/register", "", map[string]string{"organization": "Other", "name": "X", "email": "ADA@acme.test", "password": "long enough"}, http.StatusConflict},
		{"wrong password", "POST", "/api/auth/login", "", map[string]string{"email": "ada@acme.test", "password": "wrong password"}, http.StatusUnauthorized},
		{"unknown user", "POST", "/api/auth/login", "", map[string]string{"email": "nobody@acme.test", "password": "correct horse"}, http.StatusUnauthorized},
		{"login is case-insensitive on email", "POST", "/api/auth/login", "", map[string]string{"email": "Ada@Acme.test", "password": "correct horse"}, http.StatusOK},
		{"no token", "GET", "/api/users/me", "", nil, http.StatusUnauthorized},
		{"garbage token", "GET", "/api/users/me", "not.a.jwt", nil, http.StatusUnauthorized},
		{"refresh token as access token", "GET", "/api/users/me", a.refresh, nil, http.StatusUnauthorized},
		{"access token as refresh token", "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": a.token}, http.StatusUnauthorized},
		{"refresh", "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": a.refresh}, http.StatusOK},
		{"refresh missing", "POST", "/api/auth/refresh", "", map[string]string{}, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.wantStatus, r.raw)
			}
			if strings.Contains(string(r.raw), "$2a$") || strings.Contains(string(r.raw), "asswordHash") {
				t.Fatalf("response leaks a password hash: %s", r.raw)
			}
			if r.status == http.StatusUnauthorized && r.json(t)["error"] == "" {
				t.Fatalf("401 without an error message: %s", r.raw)
			}
		})
	}

	// A refreshed access token works (from a new login: a.refresh was
	// rotated by the case above).
	fresh, _ := e.login(a.email, "correct horse")
	var pair struct{ AccessToken, RefreshToken string }
	e.must(http.StatusOK, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": fresh.refresh}).decode(t, &pair)
	if pair.AccessToken == "" || pair.RefreshToken == "" {
		t.Fatalf("refresh returned %+v", pair)
	}
	e.must(http.StatusOK, "GET", "/api/users/me", pair.AccessToken, nil)
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	admin := e.register("Acme", "admin@acme.test")
	m := e.member(admin, "member@acme.test")

	users := e.must(http.StatusOK, "GET", "/api/users", m.token, nil).json(t)
	if users["total"] != float64(2) {
		t.Errorf("users total = %v, want 2", users["total"])
	}
	if strings.Contains(fmt.Sprint(users), "$2a$") {
		t.Error("user list leaks password hashes")
	}
	e.must(http.StatusForbidden, "POST", "/api/users", m.token, map[string]string{"name": "X", "email": "x@acme.test", "password": "long enough"})

	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", m.token, map[string]any{"name": "Member's project"}))
	e.must(http.StatusForbidden, "DELETE", "/api/projects/"+p, m.token, nil)
	e.must(http.StatusOK, "PATCH", "/api/projects/"+p, m.token, map[string]any{"status": "active"})
	e.must(http.StatusNoContent, "DELETE", "/api/projects/"+p, admin.token, nil)
	e.must(http.StatusNotFound, "GET", "/api/projects/"+p, admin.token, nil)

	// Time entries: a member changes only their own; an admin any.
	p = e.id(e.must(http.StatusCreated, "POST", "/api/projects", admin.token, map[string]any{"name": "Billing"}))
	mine := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", m.token, map[string]any{"project": p, "date": "2026-01-02", "duration": 30}))
	theirs := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", admin.token, map[string]any{"project": p, "date": "2026-01-02", "duration": 60}))
	e.must(http.StatusOK, "PATCH", "/api/time-entries/"+mine, m.token, map[string]any{"duration": 45})
	e.must(http.StatusForbidden, "PATCH", "/api/time-entries/"+theirs, m.token, map[string]any{"duration": 1})
	e.must(http.StatusForbidden, "DELETE", "/api/time-entries/"+theirs, m.token, nil)
	e.must(http.StatusForbidden, "POST", "/api/time-entries", m.token, map[string]any{"project": p, "date": "2026-01-02", "duration": 5, "user": admin.userID})
	e.must(http.StatusOK, "PATCH", "/api/time-entries/"+mine, admin.token, map[string]any{"description": "reviewed"})
	e.must(http.StatusNoContent, "DELETE", "/api/time-entries/"+mine, m.token, nil)
	got := e.must(http.StatusOK, "GET", "/api/time-entries/"+theirs, m.token, nil).json(t)
	if got["duration"] != float64(60) {
		t.Errorf("forbidden PATCH changed the entry: %v", got)
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	a := e.register("A", "a@a.test")
	b := e.register("B", "b@b.test")

	project := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "Secret", "teamMembers": []string{a.userID}}))
	task := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+project+"/tasks", a.token, map[string]any{"title": "Secret task", "assignedTo": a.userID}))
	entry := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", a.token, map[string]any{"project": project, "task": task, "date": "2026-03-01", "duration": 15}))

	for _, res := range []string{"/api/projects/" + project, "/api/tasks/" + task, "/api/time-entries/" + entry} {
		for _, method := range []string{"GET", "PATCH", "DELETE"} {
			t.Run(method+" "+res, func(t *testing.T) {
				var body any
				if method == "PATCH" {
					body = map[string]any{"description": "pwned"}
				}
				r := e.do(method, res, b.token, body)
				if r.status != http.StatusNotFound {
					t.Fatalf("org B %s %s = %d, want 404: %s", method, res, r.status, r.raw)
				}
			})
		}
		// Still intact for its owner.
		if got := e.must(http.StatusOK, "GET", res, a.token, nil).json(t); got["description"] == "pwned" {
			t.Errorf("%s was modified by another organization", res)
		}
	}
	e.must(http.StatusNotFound, "GET", "/api/projects/"+project+"/tasks", b.token, nil)
	e.must(http.StatusNotFound, "POST", "/api/projects/"+project+"/tasks", b.token, map[string]any{"title": "intrude"})

	// Lists never show the other organization's documents.
	for _, path := range []string{"/api/projects", "/api/time-entries", "/api/users", "/api/time-entries?project=" + project} {
		got := e.must(http.StatusOK, "GET", path, b.token, nil)
		if strings.Contains(string(got.raw), project) || strings.Contains(string(got.raw), entry) || strings.Contains(string(got.raw), a.userID) {
			t.Errorf("org B's %s shows org A's data: %s", path, got.raw)
		}
	}

	// References to the other organization's documents are rejected.
	bp := e.id(e.must(http.StatusCreated, "POST", "/api/projects", b.token, map[string]any{"name": "Mine"}))
	refs := []struct {
		method, path, field string
		body                map[string]any
	}{
		{"POST", "/api/projects", "teamMembers", map[string]any{"name": "x", "teamMembers": []string{a.userID}}},
		{"POST", "/api/projects/" + bp + "/tasks", "assignedTo", map[string]any{"title": "x", "assignedTo": a.userID}},
		{"POST", "/api/time-entries", "project", map[string]any{"project": project, "date": "2026-03-01", "duration": 5}},
		{"POST", "/api/time-entries", "task", map[string]any{"project": bp, "task": task, "date": "2026-03-01", "duration": 5}},
		{"POST", "/api/time-entries", "user", map[string]any{"project": bp, "user": a.userID, "date": "2026-03-01", "duration": 5}},
	}
	for _, ref := range refs {
		r := e.must(http.StatusBadRequest, ref.method, ref.path, b.token, ref.body)
		fields, _ := r.json(t)["fields"].(map[string]any)
		if _, ok := fields[ref.field]; !ok {
			t.Errorf("%s %s with org A's %s: fields = %v, want %s named", ref.method, ref.path, ref.field, fields, ref.field)
		}
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	project := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P"}))

	cases := []struct {
		name       string
		method     string
		path       string
		body       any
		wantStatus int
		wantFields []string
		wantError  string
	}{
		{"register: all missing", "POST", "/api/auth/register", map[string]string{}, 400, []string{"organization", "name", "email", "password"}, "validation failed"},
		{"register: bad email", "POST", "/api/auth/register", map[string]string{"organization": "o", "name": "n", "email": "not-an-email", "password": "long enough"}, 400, []string{"email"}, ""},
		{"register: short password", "POST", "/api/auth/register", map[string]string{"organization": "o", "name": "n", "email": "n@o.test", "password": "short"}, 400, []string{"password"}, ""},
		{"malformed JSON", "POST", "/api/projects", `{"name": `, 400, nil, "malformed JSON"},
		{"syntax error", "POST", "/api/projects", `{"name" "x"}`, 400, nil, "malformed JSON"},
		{"unknown field", "POST", "/api/projects", `{"name":"x","owner":"me"}`, 400, nil, `unknown field "owner"`},
		{"wrong type", "POST", "/api/projects", `{"name": 42}`, 400, []string{"name"}, ""},
		{"not an object", "POST", "/api/projects", `[1,2]`, 400, nil, "JSON object"},
		{"trailing data", "POST", "/api/projects", `{"name":"x"} {}`, 400, nil, "single JSON object"},
		{"empty body", "POST", "/api/projects", ``, 400, nil, "must not be empty"},
		{"project: bad status", "POST", "/api/projects", map[string]any{"name": "x", "status": "done"}, 400, []string{"status"}, ""},
		{"project: end before start", "POST", "/api/projects", map[string]any{"name": "x", "startDate": "2026-02-01", "endDate": "2026-01-01"}, 400, []string{"endDate"}, ""},
		{"project: bad date", "POST", "/api/projects", map[string]any{"name": "x", "startDate": "tomorrow"}, 400, []string{"startDate"}, ""},
		{"project: bad member id", "POST", "/api/projects", map[string]any{"name": "x", "teamMembers": []string{"nope"}}, 400, []string{"teamMembers"}, ""},
		{"project: empty patch", "PATCH", "/api/projects/" + project, map[string]any{}, 400, nil, "no fields"},
		{"task: missing title", "POST", "/api/projects/" + project + "/tasks", map[string]any{"priority": "high"}, 400, []string{"title"}, ""},
		{"task: bad priority and tags", "POST", "/api/projects/" + project + "/tasks", map[string]any{"title": "t", "priority": "asap", "tags": []string{""}}, 400, []string{"priority", "tags"}, ""},
		{"time: missing all", "POST", "/api/time-entries", map[string]any{}, 400, []string{"project", "date", "duration"}, ""},
		{"time: duration range", "POST", "/api/time-entries", map[string]any{"project": project, "date": "2026-01-01", "duration": 0}, 400, []string{"duration"}, ""},
		{"list: bad page", "GET", "/api/projects?page=0", nil, 400, []string{"page"}, ""},
		{"list: bad limit", "GET", "/api/projects?limit=x", nil, 400, []string{"limit"}, ""},
		{"list: bad filter", "GET", "/api/projects/" + project + "/tasks?status=nope&assignee=zz&due_before=never", nil, 400, []string{"status", "assignee", "due_before"}, ""},
		{"invalid object id", "GET", "/api/projects/not-an-id", nil, 404, nil, "not found"},
		{"unknown id", "GET", "/api/tasks/000000000000000000000000", nil, 404, nil, "not found"},
		{"unknown route", "GET", "/api/nope", nil, 404, nil, "not found"},
		{"wrong method", "PUT", "/api/projects/" + project, map[string]any{"name": "x"}, 405, nil, "method not allowed"},
		{"body too large", "POST", "/api/projects", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, 413, nil, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, a.token, tc.body)
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.wantStatus, r.raw)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			body := r.json(t)
			msg, _ := body["error"].(string)
			if !strings.Contains(msg, tc.wantError) || msg == "" {
				t.Errorf("error = %q, want it to contain %q", msg, tc.wantError)
			}
			fields, _ := body["fields"].(map[string]any)
			for _, f := range tc.wantFields {
				if fields[f] == nil || fields[f] == "" {
					t.Errorf("fields = %v, want %q named", fields, f)
				}
			}
			if len(tc.wantFields) == 0 && len(fields) > 0 && tc.wantError != "validation failed" {
				t.Errorf("unexpected fields %v", fields)
			}
		})
	}
	if allow := e.do("PUT", "/api/projects/"+project, a.token, nil).header.Get("Allow"); !strings.Contains(allow, "PATCH") {
		t.Errorf("405 Allow = %q, want the allowed methods", allow)
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	const n = 25
	for i := range n {
		e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": fmt.Sprintf("p%02d", i)})
	}
	type page struct {
		Items []struct{ Name string }
		Page  int
		Limit int
		Total int
	}
	cases := []struct {
		query           string
		wantItems       int
		wantPage, limit int
	}{
		{"", 20, 1, 20},
		{"?page=2", 5, 2, 20},
		{"?page=3&limit=10", 5, 3, 10},
		{"?limit=500", 25, 1, 100},
		{"?page=9", 0, 9, 20},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			var p page
			e.must(http.StatusOK, "GET", "/api/projects"+tc.query, a.token, nil).decode(t, &p)
			if len(p.Items) != tc.wantItems || p.Total != n || p.Page != tc.wantPage || p.Limit != tc.limit {
				t.Fatalf("got %d items, page %d, limit %d, total %d; want %d, %d, %d, %d",
					len(p.Items), p.Page, p.Limit, p.Total, tc.wantItems, tc.wantPage, tc.limit, n)
			}
		})
	}
	// Pages partition the list: newest first, no repeats.
	for pg := 1; pg <= 3; pg++ {
		var p page
		e.must(http.StatusOK, "GET", fmt.Sprintf("/api/projects?page=%d&limit=10", pg), a.token, nil).decode(t, &p)
		for _, it := range p.Items {
			if seen[it.Name] {
				t.Errorf("%s on two pages", it.Name)
			}
			seen[it.Name] = true
		}
		if pg == 1 && p.Items[0].Name != "p24" {
			t.Errorf("first item = %s, want newest p24", p.Items[0].Name)
		}
	}
	if len(seen) != n {
		t.Errorf("pages covered %d projects, want %d", len(seen), n)
	}
}

func TestTaskAndTimeEntryFilters(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	m := e.member(a, "bob@acme.test")
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P", "teamMembers": []string{a.userID, m.userID}}))
	tasks := []map[string]any{
		{"title": "t1", "status": "todo", "assignedTo": m.userID, "dueDate": "2026-01-10", "tags": []string{"backend", "urgent"}},
		{"title": "t2", "status": "done", "assignedTo": a.userID, "dueDate": "2026-02-10", "tags": []string{"backend"}},
		{"title": "t3", "status": "todo", "dueDate": "2026-03-10T12:00:00Z", "tags": []string{"frontend"}},
	}
	for _, tk := range tasks {
		e.must(http.StatusCreated, "POST", "/api/projects/"+p+"/tasks", a.token, tk)
	}
	titles := func(path string) string {
		var l struct{ Items []struct{ Title string } }
		e.must(http.StatusOK, "GET", path, a.token, nil).decode(t, &l)
		var s []string
		for _, it := range l.Items {
			s = append(s, it.Title)
		}
		return strings.Join(s, ",")
	}
	taskCases := map[string]string{
		"":                                   "t3,t2,t1",
		"?status=todo":                       "t3,t1",
		"?assignee=" + m.userID:              "t1",
		"?due_before=2026-02-11":             "t2,t1",
		"?tag=backend":                       "t2,t1",
		"?tag=backend&status=todo":           "t1",
		"?due_before=2026-01-01T00:00:00Z":   "",
		"?assignee=" + a.userID + "&tag=abc": "",
	}
	for q, want := range taskCases {
		if got := titles("/api/projects/" + p + "/tasks" + q); got != want {
			t.Errorf("tasks%s = %q, want %q", q, got, want)
		}
	}

	entries := []struct {
		tok, date string
		dur       int
	}{{a.token, "2026-01-01", 10}, {m.token, "2026-01-15", 20}, {m.token, "2026-02-01", 40}}
	for _, en := range entries {
		e.must(http.StatusCreated, "POST", "/api/time-entries", en.tok, map[string]any{"project": p, "date": en.date, "duration": en.dur})
	}
	sum := func(q string) int {
		var l struct{ Items []struct{ Duration int } }
		e.must(http.StatusOK, "GET", "/api/time-entries"+q, a.token, nil).decode(t, &l)
		total := 0
		for _, it := range l.Items {
			total += it.Duration
		}
		return total
	}
	timeCases := map[string]int{
		"":                                  70,
		"?user=" + m.userID:                 60,
		"?user=me":                          10,
		"?from=2026-01-15":                  60,
		"?to=2026-01-15":                    10,
		"?from=2026-01-02&to=2026-02-01":    20,
		"?project=" + p:                     70,
		"?project=000000000000000000000000": 0,
	}
	for q, want := range timeCases {
		if got := sum(q); got != want {
			t.Errorf("time-entries%s total duration = %d, want %d", q, got, want)
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	want := map[string]string{
		"Content-Security-Policy":   "default-src 'none'; frame-ancestors 'none'",
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
		"X-Frame-Options":           "DENY",
		"X-Content-Type-Options":    "nosniff",
		"Referrer-Policy":           "strict-origin-when-cross-origin",
	}
	for _, req := range []struct{ method, path, token string }{
		{"GET", "/api/health", ""},
		{"GET", "/api/users/me", a.token},
		{"GET", "/api/users/me", ""},
		{"GET", "/nope", ""},
		{"DELETE", "/api/health", ""},
		{"GET", "/api/metrics", ""},
	} {
		r := e.do(req.method, req.path, req.token, nil)
		for k, v := range want {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", req.method, req.path, r.status, k, got, v)
			}
		}
		if r.header.Get("X-Request-ID") == "" {
			t.Errorf("%s %s: no X-Request-ID", req.method, req.path)
		}
	}
}

func TestRequestIDAndAccessLog(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/auth/login", strings.NewReader(`{"email":"x@y.test","password":"hunter2hunter2"}`))
	req.Header.Set("X-Request-ID", "trace-abc-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-ID"); got != "trace-abc-123" {
		t.Errorf("X-Request-ID = %q, want the client's", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(e.logs.String(), `"request_id":"trace-abc-123"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	logs := e.logs.String()
	for _, want := range []string{`"request_id":"trace-abc-123"`, `"route":"/api/auth/login"`, `"status":401`, `"duration_ms"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "hunter2") {
		t.Error("a password reached the logs")
	}
}

func TestTimeEntryTaskMustBelongToProject(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	p1 := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P1"}))
	p2 := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P2"}))
	t1 := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+p1+"/tasks", a.token, map[string]any{"title": "T1"}))
	t2 := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+p2+"/tasks", a.token, map[string]any{"title": "T2"}))
	entry := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", a.token, map[string]any{"project": p1, "task": t1, "date": "2026-01-01", "duration": 5}))
	cases := []struct {
		name   string
		method string
		path   string
		body   map[string]any
		want   int
	}{
		{"create with another project's task", "POST", "/api/time-entries", map[string]any{"project": p1, "task": t2, "date": "2026-01-01", "duration": 5}, 400},
		{"move to another project, task stays behind", "PATCH", "/api/time-entries/" + entry, map[string]any{"project": p2}, 400},
		{"set another project's task", "PATCH", "/api/time-entries/" + entry, map[string]any{"task": t2}, 400},
		{"move with a task of the new project", "PATCH", "/api/time-entries/" + entry, map[string]any{"project": p2, "task": t2}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(tc.want, tc.method, tc.path, a.token, tc.body)
			if tc.want == 400 {
				if fields, _ := r.json(t)["fields"].(map[string]any); fields["task"] == nil {
					t.Errorf("fields = %v, want task named", fields)
				}
			}
		})
	}
	got := e.must(http.StatusOK, "GET", "/api/time-entries/"+entry, a.token, nil).json(t)
	if got["project"] != p2 || got["task"] != t2 {
		t.Errorf("entry = %v", got)
	}
}
