package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

func (e *env) login(email, password string) (account, resp) {
	e.t.Helper()
	r := e.do("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
	var s struct {
		User         struct{ ID, Organization string }
		AccessToken  string
		RefreshToken string
	}
	if r.status == http.StatusOK {
		r.decode(e.t, &s)
	}
	return account{token: s.AccessToken, refresh: s.RefreshToken, userID: s.User.ID, orgID: s.User.Organization, email: email}, r
}

func (e *env) user(admin account, email, role string) account {
	e.t.Helper()
	e.must(http.StatusCreated, "POST", "/api/users", admin.token, map[string]string{
		"name": "User " + email, "email": email, "password": "user password", "role": role,
	})
	a, r := e.login(email, "user password")
	if r.status != http.StatusOK {
		e.t.Fatalf("login %s = %d: %s", email, r.status, r.raw)
	}
	return a
}

// TestDemotedAndRemovedTokensLosePower: the old access token of a demoted
// admin, a removed or a deactivated user is refused on the next request,
// and so is their refresh token.
func TestDemotedAndRemovedTokensLosePower(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	b := e.user(a, "bob@acme.test", "admin")
	c := e.user(a, "cy@acme.test", "member")
	d := e.user(a, "di@acme.test", "member")

	e.must(http.StatusCreated, "POST", "/api/users", b.token, map[string]string{"name": "X", "email": "x1@acme.test", "password": "long enough", "role": "admin"})
	e.must(http.StatusOK, "PATCH", "/api/users/"+b.userID, a.token, map[string]any{"role": "member"})
	for _, req := range []struct{ method, path string }{{"POST", "/api/users"}, {"GET", "/api/users/me"}} {
		r := e.do(req.method, req.path, b.token, map[string]string{"name": "X", "email": "x2@acme.test", "password": "long enough", "role": "admin"})
		if r.status != http.StatusUnauthorized {
			t.Errorf("demoted admin's old token: %s %s = %d, want 401: %s", req.method, req.path, r.status, r.raw)
		}
	}
	e.must(http.StatusUnauthorized, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": b.refresh})
	b2, _ := e.login("bob@acme.test", "user password")
	e.must(http.StatusForbidden, "POST", "/api/users", b2.token, map[string]string{"name": "X", "email": "x3@acme.test", "password": "long enough", "role": "admin"})

	// Removal keeps the user's time entries, revokes everything else.
	p := e.id(e.must(http.StatusCreated, "POST", "/api/projects", a.token, map[string]any{"name": "P", "teamMembers": []string{c.userID}}))
	task := e.id(e.must(http.StatusCreated, "POST", "/api/projects/"+p+"/tasks", a.token, map[string]any{"title": "T", "assignedTo": c.userID}))
	entry := e.id(e.must(http.StatusCreated, "POST", "/api/time-entries", c.token, map[string]any{"project": p, "date": "2026-01-01", "duration": 30}))
	e.must(http.StatusNoContent, "DELETE", "/api/users/"+c.userID, a.token, nil)
	e.must(http.StatusUnauthorized, "GET", "/api/users/me", c.token, nil)
	e.must(http.StatusUnauthorized, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": c.refresh})
	if _, r := e.login(c.email, "user password"); r.status != http.StatusUnauthorized {
		t.Errorf("removed user's login = %d, want 401", r.status)
	}
	if got := e.must(http.StatusOK, "GET", "/api/time-entries/"+entry, a.token, nil).json(t); got["user"] != c.userID || got["duration"] != float64(30) {
		t.Errorf("removed user's time entry = %v", got)
	}
	if got := e.must(http.StatusOK, "GET", "/api/tasks/"+task, a.token, nil).json(t); got["assignedTo"] != nil {
		t.Errorf("task still assigned to the removed user: %v", got)
	}
	if got := e.must(http.StatusOK, "GET", "/api/projects/"+p, a.token, nil).json(t); len(got["teamMembers"].([]any)) != 0 {
		t.Errorf("project team still lists the removed user: %v", got)
	}
	e.must(http.StatusNotFound, "GET", "/api/users/"+c.userID, a.token, nil)

	// Deactivation: the same, reversibly.
	e.must(http.StatusOK, "PATCH", "/api/users/"+d.userID, a.token, map[string]any{"deactivated": true})
	e.must(http.StatusUnauthorized, "GET", "/api/users/me", d.token, nil)
	e.must(http.StatusUnauthorized, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": d.refresh})
	if _, r := e.login(d.email, "user password"); r.status != http.StatusUnauthorized {
		t.Errorf("deactivated user's login = %d, want 401", r.status)
	}
	e.must(http.StatusOK, "PATCH", "/api/users/"+d.userID, a.token, map[string]any{"deactivated": false})
	if d2, r := e.login(d.email, "user password"); r.status != http.StatusOK {
		t.Errorf("reactivated user's login = %d, want 200", r.status)
	} else {
		e.must(http.StatusOK, "GET", "/api/users/me", d2.token, nil)
	}
}

// TestRevocationReachesOtherReplicas: a second app instance on the same
// database refuses the demoted admin's token within the user check's bound.
func TestRevocationReachesOtherReplicas(t *testing.T) {
	e1 := newEnv(t)
	e2 := newEnvOn(t, e1.mongo, e1.mongo.URI)
	a := e1.register("Acme", "ada@acme.test")
	b := e1.user(a, "bob@acme.test", "admin")
	e2.must(http.StatusOK, "GET", "/api/users/me", b.token, nil) // cached on e2
	e1.must(http.StatusOK, "PATCH", "/api/users/"+b.userID, a.token, map[string]any{"role": "member"})
	start := time.Now()
	for e2.do("GET", "/api/users/me", b.token, nil).status != http.StatusUnauthorized {
		if time.Since(start) > 3*time.Second {
			t.Fatal("the other replica still accepts the demoted admin's token after 3s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("the other replica took %s to refuse the token, want within ~1s", took)
	}
}

func TestUserManagement(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	m := e.user(a, "mo@acme.test", "member")
	other := e.register("Other", "oz@other.test")

	cases := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		want   int
	}{
		{"last admin cannot demote themselves", "PATCH", "/api/users/" + a.userID, a.token, map[string]any{"role": "member"}, http.StatusConflict},
		{"last admin cannot deactivate themselves", "PATCH", "/api/users/" + a.userID, a.token, map[string]any{"deactivated": true}, http.StatusConflict},
		{"last admin cannot remove themselves", "DELETE", "/api/users/" + a.userID, a.token, nil, http.StatusConflict},
		{"member cannot change roles", "PATCH", "/api/users/" + m.userID, m.token, map[string]any{"role": "admin"}, http.StatusForbidden},
		{"member cannot remove", "DELETE", "/api/users/" + a.userID, m.token, nil, http.StatusForbidden},
		{"another organization's user", "PATCH", "/api/users/" + other.userID, a.token, map[string]any{"role": "member"}, http.StatusNotFound},
		{"another organization's user: remove", "DELETE", "/api/users/" + other.userID, a.token, nil, http.StatusNotFound},
		{"another organization's user: get", "GET", "/api/users/" + other.userID, a.token, nil, http.StatusNotFound},
		{"bad role", "PATCH", "/api/users/" + m.userID, a.token, map[string]any{"role": "owner"}, http.StatusBadRequest},
		{"empty change", "PATCH", "/api/users/" + m.userID, a.token, map[string]any{}, http.StatusBadRequest},
		{"get a colleague", "GET", "/api/users/" + a.userID, m.token, nil, http.StatusOK},
		{"rename self", "PATCH", "/api/users/me", m.token, map[string]any{"name": "Mo Renamed"}, http.StatusOK},
		{"name with NUL", "PATCH", "/api/users/me", m.token, map[string]any{"name": "Mo\x00"}, http.StatusBadRequest},
		{"name with a line break", "PATCH", "/api/users/me", m.token, map[string]any{"name": "Mo\nINFO forged"}, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.must(tc.want, tc.method, tc.path, tc.token, tc.body)
		})
	}
	if got := e.must(http.StatusOK, "GET", "/api/users/me", m.token, nil).json(t); got["name"] != "Mo Renamed" {
		t.Errorf("name = %v", got["name"])
	}
	// With a second admin, the first may step down.
	e.must(http.StatusOK, "PATCH", "/api/users/"+m.userID, a.token, map[string]any{"role": "admin"})
	e.must(http.StatusOK, "PATCH", "/api/users/"+a.userID, a.token, map[string]any{"role": "member"})
	a2, _ := e.login(a.email, "correct horse")
	if got := e.must(http.StatusOK, "GET", "/api/users/me", a2.token, nil).json(t); got["role"] != "member" {
		t.Errorf("role after stepping down = %v", got["role"])
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	other, _ := e.login(a.email, "correct horse") // another device
	e.must(http.StatusBadRequest, "POST", "/api/users/me/password", a.token, map[string]string{"currentPassword": "wrong password", "newPassword": "new password!"})
	e.must(http.StatusBadRequest, "POST", "/api/users/me/password", a.token, map[string]string{"currentPassword": "correct horse", "newPassword": "short"})
	var s struct{ AccessToken, RefreshToken string }
	e.must(http.StatusOK, "POST", "/api/users/me/password", a.token, map[string]string{"currentPassword": "correct horse", "newPassword": "new password!"}).decode(t, &s)
	for _, tok := range []string{a.token, other.token} {
		e.must(http.StatusUnauthorized, "GET", "/api/users/me", tok, nil)
	}
	for _, rt := range []string{a.refresh, other.refresh} {
		e.must(http.StatusUnauthorized, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": rt})
	}
	e.must(http.StatusOK, "GET", "/api/users/me", s.AccessToken, nil)
	if _, r := e.login(a.email, "correct horse"); r.status != http.StatusUnauthorized {
		t.Errorf("old password login = %d", r.status)
	}
	if _, r := e.login(a.email, "new password!"); r.status != http.StatusOK {
		t.Errorf("new password login = %d", r.status)
	}
}

// TestRacingDemotionsKeepAnAdmin: two admins demoting each other at once
// never leave the organization without an admin.
func TestRacingDemotionsKeepAnAdmin(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		a := e.register(fmt.Sprintf("Org%d", i), fmt.Sprintf("a%d@acme.test", i))
		b := e.user(a, fmt.Sprintf("b%d@acme.test", i), "admin")
		var wg sync.WaitGroup
		for _, pair := range [][2]account{{a, b}, {b, a}} {
			wg.Go(func() {
				e.do("PATCH", "/api/users/"+pair[1].userID, pair[0].token, map[string]any{"role": "member"})
			})
		}
		wg.Wait()
		var l struct{ Items []struct{ Role string } }
		fresh, _ := e.login(a.email, "correct horse")
		e.must(http.StatusOK, "GET", "/api/users", fresh.token, nil).decode(t, &l)
		admins := 0
		for _, u := range l.Items {
			if u.Role == "admin" {
				admins++
			}
		}
		if admins == 0 {
			t.Fatalf("round %d: no admin left after racing demotions", i)
		}
	}
}
