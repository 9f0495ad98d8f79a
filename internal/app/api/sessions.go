package api

import (
	"context"
	"errors"
	"net/http"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/store"
)

// Sessions: every login starts a refresh-token family recorded in MongoDB.
// A refresh rotates the family's one valid refresh token; presenting a
// rotated-away token again (someone kept a copy) revokes the family, so
// the thief and the victim are both logged out of it. Logout revokes one
// family, logout everywhere all of a user's families and, through the
// token version, every access token at once.

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

var errBadRefresh = errStatus(http.StatusUnauthorized, "invalid or expired refresh token")

// startSession issues a pair in a new family.
func (s *server) startSession(ctx context.Context, u *store.User) (auth.Pair, error) {
	family := bson.NewObjectID()
	pair, err := s.tokens.Issue(auth.Identity{UserID: u.ID.Hex(), OrgID: u.Organization.Hex(), Role: u.Role, Version: u.TokenVersion, Session: family.Hex()})
	if err != nil {
		return auth.Pair{}, err
	}
	err = s.store.CreateSession(ctx, &store.Session{
		ID: family, Organization: u.Organization, User: u.ID, Current: pair.RefreshID, ExpiresAt: pair.RefreshExpires,
	})
	return pair, err
}

// verifyRefresh checks a refresh request's token and returns its identity
// and parsed ids.
func (s *server) verifyRefresh(r *http.Request) (auth.Identity, bson.ObjectID, bson.ObjectID, bson.ObjectID, error) {
	var req refreshRequest
	if err := decode(r, &req); err != nil {
		return auth.Identity{}, bson.ObjectID{}, bson.ObjectID{}, bson.ObjectID{}, err
	}
	if req.RefreshToken == "" {
		return auth.Identity{}, bson.ObjectID{}, bson.ObjectID{}, bson.ObjectID{}, errValidation(fieldErrors{"refreshToken": "is required"})
	}
	id, err := s.tokens.VerifyRefresh(req.RefreshToken)
	if err != nil {
		return id, bson.ObjectID{}, bson.ObjectID{}, bson.ObjectID{}, errBadRefresh
	}
	user, err1 := bson.ObjectIDFromHex(id.UserID)
	org, err2 := bson.ObjectIDFromHex(id.OrgID)
	// Tokens from before sessions existed have no family: log in again.
	family, err3 := bson.ObjectIDFromHex(id.Session)
	if err1 != nil || err2 != nil || err3 != nil {
		return id, bson.ObjectID{}, bson.ObjectID{}, bson.ObjectID{}, errBadRefresh
	}
	return id, user, org, family, nil
}

func (s *server) refresh(w http.ResponseWriter, r *http.Request) {
	id, userID, orgID, family, err := s.verifyRefresh(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Re-read the user: the new tokens carry the current role, and a
	// removed, deactivated or revoked user cannot refresh.
	u, err := s.store.User(r.Context(), orgID, userID)
	if errors.Is(err, store.ErrNotFound) {
		err = errBadRefresh
	}
	if err == nil && (u.Deactivated || u.TokenVersion != id.Version) {
		err = errBadRefresh
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pair, err := s.tokens.Issue(auth.Identity{UserID: u.ID.Hex(), OrgID: u.Organization.Hex(), Role: u.Role, Version: u.TokenVersion, Session: id.Session})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.store.RotateSession(r.Context(), family, id.TokenID, pair.RefreshID, pair.RefreshExpires)
	switch {
	case errors.Is(err, store.ErrTokenReused):
		s.log.WarnContext(r.Context(), "refresh token reused; session revoked", "user", userID.Hex(), "session", family.Hex())
		err = errStatus(http.StatusUnauthorized, "refresh token already used; the session is revoked, log in again")
	case errors.Is(err, store.ErrSessionRevoked), errors.Is(err, store.ErrNotFound):
		err = errBadRefresh
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pair)
}

// logout revokes the session of the refresh token given. Access tokens
// already issued to it stay valid until they expire (ACCESS_TOKEN_TTL);
// logout everywhere ends those too.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	_, userID, _, family, err := s.verifyRefresh(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.RevokeSession(r.Context(), userID, family); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// logoutAll revokes every session of the caller and every token issued
// to them, this one included.
func (s *server) logoutAll(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	if err := s.store.RevokeUserSessions(r.Context(), p.User); err != nil {
		s.fail(w, r, err)
		return
	}
	_, err := s.store.UpdateUser(r.Context(), p.Org, p.User, store.UserChange{Revoke: true})
	s.users.forget(p.User)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
