package api

import (
	"errors"
	"net/http"

	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/store"
)

// User management: admins change roles, deactivate and remove members;
// everyone changes their own name and password. Every change that takes
// power away bumps the user's token version, and this replica forgets
// what it cached of the user, so the user's tokens lose that power on the
// next request.

type updateUserRequest struct {
	Name        *string `json:"name"`
	Role        *string `json:"role"`
	Deactivated *bool   `json:"deactivated"`
}

type updateMeRequest struct {
	Name *string `json:"name"`
}

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

var errLastAdmin = errStatus(http.StatusConflict, "an organization needs at least one active admin")

func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.store.User(r.Context(), p.Org, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *server) updateUser(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req updateUserRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	// Tenant isolation first: another organization's user is 404.
	if _, err := s.store.User(r.Context(), p.Org, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if !p.admin() {
		s.fail(w, r, errForbidden)
		return
	}
	f := fieldErrors{}
	var c store.UserChange
	if req.Name != nil {
		name(f, "name", req.Name)
		c.Name = req.Name
	}
	if req.Role != nil {
		oneOf(f, "role", *req.Role, []string{auth.RoleAdmin, auth.RoleMember})
		c.Role, c.Revoke = req.Role, true
	}
	if req.Deactivated != nil {
		c.Deactivated, c.Revoke = req.Deactivated, c.Revoke || *req.Deactivated
	}
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	if req.Name == nil && req.Role == nil && req.Deactivated == nil {
		s.fail(w, r, errStatus(http.StatusBadRequest, "no fields to update"))
		return
	}
	u, err := s.store.UpdateUser(r.Context(), p.Org, id, c)
	s.users.forget(id)
	if errors.Is(err, store.ErrLastAdmin) {
		err = errLastAdmin
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *server) removeUser(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.store.User(r.Context(), p.Org, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if !p.admin() {
		s.fail(w, r, errForbidden)
		return
	}
	err = s.store.RemoveUser(r.Context(), p.Org, id)
	s.users.forget(id)
	if errors.Is(err, store.ErrLastAdmin) {
		err = errLastAdmin
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Cached projects and tasks named the user as member or assignee.
	s.invalidate(r.Context(), p.Org)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) updateMe(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	var req updateMeRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Name == nil {
		s.fail(w, r, errStatus(http.StatusBadRequest, "no fields to update"))
		return
	}
	f := fieldErrors{}
	name(f, "name", req.Name)
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	u, err := s.store.UpdateUser(r.Context(), p.Org, p.User, store.UserChange{Name: req.Name})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// changePassword revokes every token of the user (other devices included)
// and answers a new session for the caller.
func (s *server) changePassword(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	var req changePasswordRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	f := fieldErrors{}
	if req.CurrentPassword == "" {
		f.add("currentPassword", "is required")
	}
	password(f, "newPassword", req.NewPassword)
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	u, err := s.store.User(r.Context(), p.Org, p.User)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The current password is guessed like a login's (with a stolen access
	// token), so it shares the account's failed-login budget.
	if s.loginThrottled(w, r, u.Email) {
		return
	}
	if !s.hasher.Check(u.PasswordHash, req.CurrentPassword) {
		s.loginOutcome(r, u.Email, false)
		s.fail(w, r, errValidation(fieldErrors{"currentPassword": "is wrong"}))
		return
	}
	s.loginOutcome(r, u.Email, true)
	hash, err := s.hasher.Hash(req.NewPassword)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err = s.store.UpdateUser(r.Context(), p.Org, p.User, store.UserChange{PasswordHash: &hash, Revoke: true})
	s.users.forget(p.User)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.issue(w, r, http.StatusOK, u, nil)
}
