package api

import (
	"errors"
	"net/http"

	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/store"
)

type registerRequest struct {
	Organization string `json:"organization"`
	Name         string `json:"name"`
	Email        string `json:"email"`
	Password     string `json:"password"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type createUserRequest struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// session is what register and login answer.
type session struct {
	User         *store.User         `json:"user"`
	Organization *store.Organization `json:"organization,omitempty"`
	auth.Pair
}

var errEmailTaken = errStatus(http.StatusConflict, "email already registered")

func (s *server) issue(w http.ResponseWriter, r *http.Request, status int, u *store.User, org *store.Organization) {
	if u.Deactivated {
		// Checked after the password, so a deactivated account answers
		// exactly like a wrong password.
		s.fail(w, r, errBadCredentials)
		return
	}
	pair, err := s.startSession(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, status, session{User: u, Organization: org, Pair: pair})
}

func (s *server) register(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	f := fieldErrors{}
	name(f, "organization", &req.Organization)
	name(f, "name", &req.Name)
	email(f, "email", &req.Email)
	password(f, "password", req.Password)
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	hash, err := s.hasher.Hash(req.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	org := &store.Organization{Name: req.Organization}
	u := &store.User{Name: req.Name, Email: req.Email, PasswordHash: hash, Role: auth.RoleAdmin}
	if err := s.store.CreateOrganization(r.Context(), org, u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			err = errEmailTaken
		}
		s.fail(w, r, err)
		return
	}
	s.issue(w, r, http.StatusCreated, u, org)
}

var errBadCredentials = errStatus(http.StatusUnauthorized, "invalid email or password")

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	f := fieldErrors{}
	email(f, "email", &req.Email)
	if req.Password == "" {
		f.add("password", "is required")
	}
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	if s.loginThrottled(w, r, req.Email) {
		return
	}
	u, err := s.store.UserByEmail(r.Context(), req.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	// Check even for an unknown user, so timing does not reveal which
	// emails are registered.
	if !s.hasher.Check(hash, req.Password) || u == nil {
		s.loginOutcome(r, req.Email, false)
		s.fail(w, r, errBadCredentials)
		return
	}
	s.loginOutcome(r, req.Email, true)
	s.issue(w, r, http.StatusOK, u, nil)
}

func (s *server) me(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	u, err := s.store.User(r.Context(), p.Org, p.User)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	f := fieldErrors{}
	pg := page(f, r)
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	items, total, err := s.store.Users(r.Context(), p.Org, pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listBody[store.User]{Items: items, Page: pg.Page, Limit: pg.Limit, Total: total})
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	if !p.admin() {
		s.fail(w, r, errForbidden)
		return
	}
	var req createUserRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	f := fieldErrors{}
	name(f, "name", &req.Name)
	email(f, "email", &req.Email)
	password(f, "password", req.Password)
	if req.Role == "" {
		req.Role = auth.RoleMember
	}
	oneOf(f, "role", req.Role, []string{auth.RoleAdmin, auth.RoleMember})
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	hash, err := s.hasher.Hash(req.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u := &store.User{Organization: p.Org, Name: req.Name, Email: req.Email, PasswordHash: hash, Role: req.Role}
	if err := s.store.CreateUser(r.Context(), u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			err = errEmailTaken
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}
