package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Session is one login's family of refresh tokens: each refresh replaces
// Current, and presenting any other token of the family (a copy that was
// rotated away, so stolen or replayed) revokes the whole family.
type Session struct {
	ID           bson.ObjectID `bson:"_id"`
	Organization bson.ObjectID `bson:"organization"`
	User         bson.ObjectID `bson:"user"`
	Current      string        `bson:"current"` // id (jti) of the only valid refresh token
	Revoked      bool          `bson:"revoked"`
	CreatedAt    time.Time     `bson:"createdAt"`
	ExpiresAt    time.Time     `bson:"expiresAt"`
}

var (
	// ErrSessionRevoked means the session was logged out or revoked.
	ErrSessionRevoked = errors.New("session revoked")
	// ErrTokenReused means a refresh token that was already rotated away
	// was presented again; the session is now revoked.
	ErrTokenReused = errors.New("refresh token reused")
)

// CreateSession inserts s (its ID must be set), and drops the user's
// expired sessions: FerretDB has no TTL indexes to do it.
func (s *Store) CreateSession(ctx context.Context, sess *Session) error {
	sess.CreatedAt = now()
	if err := insertOne(ctx, s, collSessions, sess); err != nil {
		return err
	}
	octx, cancel := s.opContext(ctx)
	defer cancel()
	if _, err := s.db.Collection(collSessions).DeleteMany(octx, bson.D{
		{Key: "user", Value: sess.User},
		{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: sess.CreatedAt}}},
	}); err != nil {
		s.log.WarnContext(ctx, "dropping expired sessions", "user", sess.User.Hex(), "err", err)
	}
	return nil
}

// RotateSession makes next the session's current refresh token if from is
// the current one. If from was already rotated away, the session is
// revoked and the answer is ErrTokenReused.
func (s *Store) RotateSession(ctx context.Context, id bson.ObjectID, from, next string, expires time.Time) error {
	octx, cancel := s.opContext(ctx)
	defer cancel()
	res, err := s.db.Collection(collSessions).UpdateOne(octx,
		bson.D{{Key: "_id", Value: id}, {Key: "current", Value: from}, {Key: "revoked", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "current", Value: next}, {Key: "expiresAt", Value: expires}}}})
	if err != nil {
		return classify("rotating session", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	sess, err := getOne[Session](ctx, s, collSessions, bson.D{{Key: "_id", Value: id}})
	switch {
	case err != nil:
		return err
	case sess.Revoked:
		return fmt.Errorf("session %s: %w", id.Hex(), ErrSessionRevoked)
	}
	if err := s.RevokeSession(ctx, sess.User, id); err != nil {
		return err
	}
	return fmt.Errorf("session %s: %w", id.Hex(), ErrTokenReused)
}

// RevokeSession revokes one of user's sessions.
func (s *Store) RevokeSession(ctx context.Context, user, id bson.ObjectID) error {
	octx, cancel := s.opContext(ctx)
	defer cancel()
	res, err := s.db.Collection(collSessions).UpdateOne(octx,
		bson.D{{Key: "_id", Value: id}, {Key: "user", Value: user}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	if err != nil {
		return classify("revoking session", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("session %s: %w", id.Hex(), ErrNotFound)
	}
	return nil
}

// RevokeUserSessions revokes every session of user.
func (s *Store) RevokeUserSessions(ctx context.Context, user bson.ObjectID) error {
	octx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := s.db.Collection(collSessions).UpdateMany(octx,
		bson.D{{Key: "user", Value: user}, {Key: "revoked", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	return classify("revoking sessions", err)
}
