package api_test

import (
	"net/http"
	"testing"
)

func (e *env) rotate(refresh string) (access, next string) {
	e.t.Helper()
	var p struct{ AccessToken, RefreshToken string }
	e.must(http.StatusOK, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": refresh}).decode(e.t, &p)
	return p.AccessToken, p.RefreshToken
}

// TestRefreshRotationAndReuse: each refresh token works once; presenting
// a rotated-away one revokes its whole family, not the user's other
// sessions.
func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	other, _ := e.login(a.email, "correct horse") // another device

	_, r1 := e.rotate(a.refresh)
	_, r2 := e.rotate(r1)
	// The thief replays the first token: refused, and the family is gone.
	r := e.must(http.StatusUnauthorized, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": a.refresh})
	if msg, _ := r.json(t)["error"].(string); msg == "" {
		t.Errorf("no error message: %s", r.raw)
	}
	e.must(http.StatusUnauthorized, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": r2})
	if !e.waitLog("refresh token reused") {
		t.Error("reuse not logged")
	}
	// The other device's session is untouched.
	e.rotate(other.refresh)
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	a := e.register("Acme", "ada@acme.test")
	other, _ := e.login(a.email, "correct horse")

	_, r1 := e.rotate(a.refresh)
	e.must(http.StatusNoContent, "POST", "/api/auth/logout", "", map[string]string{"refreshToken": r1})
	e.must(http.StatusUnauthorized, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": r1})
	e.must(http.StatusUnauthorized, "POST", "/api/auth/logout", "", map[string]string{"refreshToken": "garbage"})
	e.must(http.StatusBadRequest, "POST", "/api/auth/logout", "", map[string]string{})
	// One session's logout leaves the other.
	access, r2 := e.rotate(other.refresh)
	e.must(http.StatusOK, "GET", "/api/users/me", access, nil)

	// Logout everywhere: every session and every access token.
	third, _ := e.login(a.email, "correct horse")
	e.must(http.StatusNoContent, "POST", "/api/auth/logout-all", third.token, nil)
	for _, tok := range []string{access, third.token} {
		e.must(http.StatusUnauthorized, "GET", "/api/users/me", tok, nil)
	}
	for _, rt := range []string{r2, third.refresh} {
		e.must(http.StatusUnauthorized, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": rt})
	}
	again, r := e.login(a.email, "correct horse")
	if r.status != http.StatusOK {
		t.Fatalf("login after logout everywhere = %d", r.status)
	}
	e.must(http.StatusOK, "GET", "/api/users/me", again.token, nil)
	e.rotate(again.refresh)
}
