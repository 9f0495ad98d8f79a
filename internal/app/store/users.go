package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/app/auth"
)

// ErrLastAdmin means a change would leave an organization without an
// active admin.
var ErrLastAdmin = errors.New("the organization's last admin")

// UserByID returns a user whatever its organization: the per-request
// token check, which compares the organization itself.
func (s *Store) UserByID(ctx context.Context, id bson.ObjectID) (*User, error) {
	return getOne[User](ctx, s, collUsers, bson.D{{Key: "_id", Value: id}})
}

// UserChange is what an admin or the user may change.
type UserChange struct {
	Name         *string
	Role         *string
	Deactivated  *bool
	PasswordHash *string
	// Revoke bumps the token version: every token issued before stops
	// working.
	Revoke bool
}

// UpdateUser applies c to a user of org. A change that would leave org
// without an active admin is undone and answers ErrLastAdmin.
func (s *Store) UpdateUser(ctx context.Context, org, id bson.ObjectID, c UserChange) (*User, error) {
	set := bson.D{}
	if c.Name != nil {
		set = append(set, bson.E{Key: "name", Value: *c.Name})
	}
	if c.Role != nil {
		set = append(set, bson.E{Key: "role", Value: *c.Role})
	}
	if c.Deactivated != nil {
		set = append(set, bson.E{Key: "deactivated", Value: *c.Deactivated})
	}
	if c.PasswordHash != nil {
		set = append(set, bson.E{Key: "passwordHash", Value: *c.PasswordHash})
	}
	octx, cancel := s.opContext(ctx)
	defer cancel()
	var before User
	if len(set) > 0 {
		err := s.db.Collection(collUsers).FindOneAndUpdate(octx, byID(org, id), bson.D{{Key: "$set", Value: set}},
			options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&before)
		if err != nil {
			return nil, classify("updating user", err)
		}
	} else if _, err := s.User(octx, org, id); err != nil {
		return nil, err
	}
	losesAdmin := before.Role == auth.RoleAdmin && !before.Deactivated &&
		((c.Role != nil && *c.Role != auth.RoleAdmin) || (c.Deactivated != nil && *c.Deactivated))
	if losesAdmin {
		// Check after the write, not before: two admins demoting each
		// other at once then both see no admin left and both undo, rather
		// than both succeeding.
		n, err := s.activeAdmins(octx, org)
		if err == nil && n == 0 {
			undo := bson.D{{Key: "role", Value: before.Role}, {Key: "deactivated", Value: before.Deactivated}}
			if _, err := s.db.Collection(collUsers).UpdateOne(octx, byID(org, id), bson.D{{Key: "$set", Value: undo}}); err != nil {
				return nil, classify("restoring the last admin", err)
			}
			return nil, fmt.Errorf("changing user %s: %w", id.Hex(), ErrLastAdmin)
		}
		if err != nil {
			return nil, err
		}
	}
	if c.Revoke {
		// After the last-admin check, so a refused change revokes nothing.
		if _, err := s.db.Collection(collUsers).UpdateOne(octx, byID(org, id),
			bson.D{{Key: "$inc", Value: bson.D{{Key: "tokenVersion", Value: 1}}}}); err != nil {
			return nil, classify("revoking the user's tokens", err)
		}
	}
	return s.User(ctx, org, id)
}

func (s *Store) activeAdmins(ctx context.Context, org bson.ObjectID) (int64, error) {
	n, err := s.db.Collection(collUsers).CountDocuments(ctx, bson.D{
		{Key: "organization", Value: org},
		{Key: "role", Value: auth.RoleAdmin},
		{Key: "deactivated", Value: bson.D{{Key: "$ne", Value: true}}},
	})
	if err != nil {
		return 0, classify("counting admins", err)
	}
	return n, nil
}

// RemoveUser deletes a user of org. Their time entries stay (reports keep
// the hours); they leave every project team and task assignment. Removing
// the last active admin answers ErrLastAdmin.
func (s *Store) RemoveUser(ctx context.Context, org, id bson.ObjectID) error {
	u, err := s.User(ctx, org, id)
	if err != nil {
		return err
	}
	if u.Role == auth.RoleAdmin && !u.Deactivated {
		// Demote first: that goes through the last-admin check, racing
		// removals included.
		if _, err := s.UpdateUser(ctx, org, id, UserChange{Role: new(auth.RoleMember), Revoke: true}); err != nil {
			return err
		}
	}
	if err := deleteOne(ctx, s, collUsers, byID(org, id)); err != nil {
		return err
	}
	octx, cancel := s.opContext(ctx)
	defer cancel()
	if _, err := s.db.Collection(collProjects).UpdateMany(octx, bson.D{{Key: "organization", Value: org}, {Key: "teamMembers", Value: id}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "teamMembers", Value: id}}}}); err != nil {
		return classify("removing user from teams", err)
	}
	if _, err := s.db.Collection(collTasks).UpdateMany(octx, bson.D{{Key: "organization", Value: org}, {Key: "assignedTo", Value: id}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "assignedTo", Value: ""}}}}); err != nil {
		return classify("unassigning user's tasks", err)
	}
	return nil
}
