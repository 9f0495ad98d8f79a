package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Organization is a tenant.
type Organization struct {
	ID        bson.ObjectID `bson:"_id" json:"id"`
	Name      string        `bson:"name" json:"name"`
	CreatedAt time.Time     `bson:"createdAt" json:"createdAt"`
}

// User belongs to one organization. PasswordHash never leaves the server.
type User struct {
	ID           bson.ObjectID `bson:"_id" json:"id"`
	Organization bson.ObjectID `bson:"organization" json:"organization"`
	Name         string        `bson:"name" json:"name"`
	Email        string        `bson:"email" json:"email"`
	PasswordHash string        `bson:"passwordHash" json:"-"`
	Role         string        `bson:"role" json:"role"`
	// Deactivated users keep their data but cannot log in, and their
	// tokens stop working.
	Deactivated bool `bson:"deactivated,omitempty" json:"deactivated"`
	// TokenVersion is carried in every token issued to the user; bumping
	// it (password or role change, deactivation, logout everywhere)
	// invalidates every token issued before.
	TokenVersion int64     `bson:"tokenVersion,omitempty" json:"-"`
	CreatedAt    time.Time `bson:"createdAt" json:"createdAt"`
}

// Project statuses.
var ProjectStatuses = []string{"planning", "active", "on_hold", "completed", "cancelled"}

// Project groups tasks.
type Project struct {
	ID           bson.ObjectID   `bson:"_id" json:"id"`
	Organization bson.ObjectID   `bson:"organization" json:"organization"`
	Name         string          `bson:"name" json:"name"`
	Description  string          `bson:"description" json:"description"`
	Status       string          `bson:"status" json:"status"`
	TeamMembers  []bson.ObjectID `bson:"teamMembers" json:"teamMembers"`
	StartDate    *time.Time      `bson:"startDate,omitempty" json:"startDate,omitempty"`
	EndDate      *time.Time      `bson:"endDate,omitempty" json:"endDate,omitempty"`
	CreatedBy    bson.ObjectID   `bson:"createdBy" json:"createdBy"`
	CreatedAt    time.Time       `bson:"createdAt" json:"createdAt"`
	UpdatedAt    time.Time       `bson:"updatedAt" json:"updatedAt"`
}

// Task statuses and priorities.
var (
	TaskStatuses   = []string{"todo", "in_progress", "review", "done"}
	TaskPriorities = []string{"low", "medium", "high", "urgent"}
)

// Task is a unit of work in a project.
type Task struct {
	ID           bson.ObjectID  `bson:"_id" json:"id"`
	Organization bson.ObjectID  `bson:"organization" json:"organization"`
	Project      bson.ObjectID  `bson:"project" json:"project"`
	Title        string         `bson:"title" json:"title"`
	Description  string         `bson:"description" json:"description"`
	Status       string         `bson:"status" json:"status"`
	Priority     string         `bson:"priority" json:"priority"`
	AssignedTo   *bson.ObjectID `bson:"assignedTo,omitempty" json:"assignedTo,omitempty"`
	DueDate      *time.Time     `bson:"dueDate,omitempty" json:"dueDate,omitempty"`
	Tags         []string       `bson:"tags" json:"tags"`
	CreatedBy    bson.ObjectID  `bson:"createdBy" json:"createdBy"`
	CreatedAt    time.Time      `bson:"createdAt" json:"createdAt"`
	UpdatedAt    time.Time      `bson:"updatedAt" json:"updatedAt"`
}

// TimeEntry records minutes a user spent on a project (and optionally a task).
type TimeEntry struct {
	ID           bson.ObjectID  `bson:"_id" json:"id"`
	Organization bson.ObjectID  `bson:"organization" json:"organization"`
	User         bson.ObjectID  `bson:"user" json:"user"`
	Project      bson.ObjectID  `bson:"project" json:"project"`
	Task         *bson.ObjectID `bson:"task,omitempty" json:"task,omitempty"`
	Date         time.Time      `bson:"date" json:"date"`
	Duration     int            `bson:"duration" json:"duration"` // minutes
	Description  string         `bson:"description" json:"description"`
	CreatedAt    time.Time      `bson:"createdAt" json:"createdAt"`
	UpdatedAt    time.Time      `bson:"updatedAt" json:"updatedAt"`
}

// The range of dates the API accepts and the store returns, in UTC. JSON
// cannot encode years past 9999 and MongoDB clients disagree before year 1;
// one range both ways means every date the API returns is accepted back.
var (
	MinDate = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxDate = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) // exclusive
)

// ValidDate reports whether t is within [MinDate, MaxDate).
func ValidDate(t time.Time) bool { return !t.Before(MinDate) && t.Before(MaxDate) }

// checkDates returns an error naming the first field out of range; nil
// pointers are absent dates.
func checkDates(fields ...any) error {
	for i := 0; i+1 < len(fields); i += 2 {
		name := fields[i].(string)
		var t *time.Time
		switch v := fields[i+1].(type) {
		case time.Time:
			t = &v
		case *time.Time:
			t = v
		}
		if t != nil && !ValidDate(*t) {
			return fmt.Errorf("%s %s is outside %d-%d", name, t.UTC().Format(time.RFC3339), MinDate.Year(), MaxDate.Year()-1)
		}
	}
	return nil
}

// stamps checks the server-set timestamps: only what JSON can encode (a
// document inserted by hand may have none at all).
func stamps(ts ...time.Time) error {
	for _, t := range ts {
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("timestamp %d is not encodable", y)
		}
	}
	return nil
}

func (p *Project) check() error {
	if err := checkDates("startDate", p.StartDate, "endDate", p.EndDate); err != nil {
		return err
	}
	return stamps(p.CreatedAt, p.UpdatedAt)
}

func (t *Task) check() error {
	if err := checkDates("dueDate", t.DueDate); err != nil {
		return err
	}
	return stamps(t.CreatedAt, t.UpdatedAt)
}

func (e *TimeEntry) check() error {
	if err := checkDates("date", e.Date); err != nil {
		return err
	}
	return stamps(e.CreatedAt, e.UpdatedAt)
}

func (u *User) check() error { return stamps(u.CreatedAt) }

// now is the store's clock, truncated to MongoDB's millisecond precision so
// that what is returned from a write equals what a later read returns.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// CreateOrganization inserts a new organization together with its first
// admin. If the admin cannot be inserted (duplicate email), the
// organization is removed again.
func (s *Store) CreateOrganization(ctx context.Context, org *Organization, admin *User) error {
	org.ID, org.CreatedAt = bson.NewObjectID(), now()
	if err := insertOne(ctx, s, collOrgs, org); err != nil {
		return err
	}
	admin.Organization = org.ID
	if err := s.CreateUser(ctx, admin); err != nil {
		// Best effort: an orphan organization without users is harmless.
		_ = deleteOne(context.WithoutCancel(ctx), s, collOrgs, bson.D{{Key: "_id", Value: org.ID}})
		return err
	}
	return nil
}

// CreateUser inserts u (its Organization must be set).
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	u.ID, u.CreatedAt = bson.NewObjectID(), now()
	return insertOne(ctx, s, collUsers, u)
}

// UserByEmail finds a user by (normalized) email across organizations: the
// email is the login name.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	return getOne[User](ctx, s, collUsers, bson.D{{Key: "email", Value: email}})
}

// User returns one user of org.
func (s *Store) User(ctx context.Context, org, id bson.ObjectID) (*User, error) {
	return getOne[User](ctx, s, collUsers, byID(org, id))
}

// Users lists org's users.
func (s *Store) Users(ctx context.Context, org bson.ObjectID, p Page) ([]User, int64, error) {
	return list[User](ctx, s, collUsers, bson.D{{Key: "organization", Value: org}}, p)
}

// CountUsers counts how many of ids are users of org, to validate
// references (assignees, team members) against the tenant.
func (s *Store) CountUsers(ctx context.Context, org bson.ObjectID, ids []bson.ObjectID) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	n, err := s.db.Collection(collUsers).CountDocuments(ctx, bson.D{
		{Key: "organization", Value: org},
		{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
	})
	if err != nil {
		return 0, classify("counting users", err)
	}
	return int(n), nil
}

// CreateProject inserts p.
func (s *Store) CreateProject(ctx context.Context, p *Project) error {
	p.ID = bson.NewObjectID()
	p.CreatedAt = now()
	p.UpdatedAt = p.CreatedAt
	if p.TeamMembers == nil {
		p.TeamMembers = []bson.ObjectID{}
	}
	return insertOne(ctx, s, collProjects, p)
}

// Project returns one project of org.
func (s *Store) Project(ctx context.Context, org, id bson.ObjectID) (*Project, error) {
	return getOne[Project](ctx, s, collProjects, byID(org, id))
}

// ProjectFilter narrows Projects.
type ProjectFilter struct {
	Status string
	Member *bson.ObjectID
}

// Projects lists org's projects.
func (s *Store) Projects(ctx context.Context, org bson.ObjectID, f ProjectFilter, p Page) ([]Project, int64, error) {
	filter := bson.D{{Key: "organization", Value: org}}
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: f.Status})
	}
	if f.Member != nil {
		filter = append(filter, bson.E{Key: "teamMembers", Value: *f.Member})
	}
	return list[Project](ctx, s, collProjects, filter, p)
}

// UpdateProject sets the given fields and returns the updated project.
func (s *Store) UpdateProject(ctx context.Context, org, id bson.ObjectID, set bson.D) (*Project, error) {
	set = append(set, bson.E{Key: "updatedAt", Value: now()})
	return updateOne[Project](ctx, s, collProjects, byID(org, id), set)
}

// DeleteProject removes a project with its tasks and time entries.
func (s *Store) DeleteProject(ctx context.Context, org, id bson.ObjectID) error {
	if err := deleteOne(ctx, s, collProjects, byID(org, id)); err != nil {
		return err
	}
	for _, coll := range []string{collTasks, collTimeEntries} {
		ctx, cancel := s.opContext(ctx)
		_, err := s.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "organization", Value: org}, {Key: "project", Value: id}})
		cancel()
		if err != nil {
			return classify(fmt.Sprintf("deleting %s of project %s", coll, id.Hex()), err)
		}
	}
	return nil
}

// CreateTask inserts t.
func (s *Store) CreateTask(ctx context.Context, t *Task) error {
	t.ID = bson.NewObjectID()
	t.CreatedAt = now()
	t.UpdatedAt = t.CreatedAt
	if t.Tags == nil {
		t.Tags = []string{}
	}
	return insertOne(ctx, s, collTasks, t)
}

// Task returns one task of org.
func (s *Store) Task(ctx context.Context, org, id bson.ObjectID) (*Task, error) {
	return getOne[Task](ctx, s, collTasks, byID(org, id))
}

// TaskFilter narrows Tasks.
type TaskFilter struct {
	Status    string
	Assignee  *bson.ObjectID
	DueBefore *time.Time
	Tag       string
}

// Tasks lists the tasks of one project of org.
func (s *Store) Tasks(ctx context.Context, org, project bson.ObjectID, f TaskFilter, p Page) ([]Task, int64, error) {
	filter := bson.D{{Key: "organization", Value: org}, {Key: "project", Value: project}}
	if f.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: f.Status})
	}
	if f.Assignee != nil {
		filter = append(filter, bson.E{Key: "assignedTo", Value: *f.Assignee})
	}
	if f.DueBefore != nil {
		filter = append(filter, bson.E{Key: "dueDate", Value: bson.D{{Key: "$lt", Value: *f.DueBefore}}})
	}
	if f.Tag != "" {
		filter = append(filter, bson.E{Key: "tags", Value: f.Tag})
	}
	return list[Task](ctx, s, collTasks, filter, p)
}

// UpdateTask sets the given fields and returns the updated task.
func (s *Store) UpdateTask(ctx context.Context, org, id bson.ObjectID, set bson.D) (*Task, error) {
	set = append(set, bson.E{Key: "updatedAt", Value: now()})
	return updateOne[Task](ctx, s, collTasks, byID(org, id), set)
}

// DeleteTask removes a task; time entries logged on it keep their hours
// on the project, without the task.
func (s *Store) DeleteTask(ctx context.Context, org, id bson.ObjectID) error {
	if err := deleteOne(ctx, s, collTasks, byID(org, id)); err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := s.db.Collection(collTimeEntries).UpdateMany(ctx,
		bson.D{{Key: "organization", Value: org}, {Key: "task", Value: id}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "task", Value: ""}}}})
	return classify("clearing the deleted task from time entries", err)
}

// CreateTimeEntry inserts e.
func (s *Store) CreateTimeEntry(ctx context.Context, e *TimeEntry) error {
	e.ID = bson.NewObjectID()
	e.CreatedAt = now()
	e.UpdatedAt = e.CreatedAt
	return insertOne(ctx, s, collTimeEntries, e)
}

// TimeEntry returns one time entry of org.
func (s *Store) TimeEntry(ctx context.Context, org, id bson.ObjectID) (*TimeEntry, error) {
	return getOne[TimeEntry](ctx, s, collTimeEntries, byID(org, id))
}

// TimeEntryFilter narrows TimeEntries; From is inclusive, To exclusive.
type TimeEntryFilter struct {
	User, Project *bson.ObjectID
	From, To      *time.Time
}

// TimeEntries lists org's time entries.
func (s *Store) TimeEntries(ctx context.Context, org bson.ObjectID, f TimeEntryFilter, p Page) ([]TimeEntry, int64, error) {
	filter := bson.D{{Key: "organization", Value: org}}
	if f.User != nil {
		filter = append(filter, bson.E{Key: "user", Value: *f.User})
	}
	if f.Project != nil {
		filter = append(filter, bson.E{Key: "project", Value: *f.Project})
	}
	if f.From != nil || f.To != nil {
		r := bson.D{}
		if f.From != nil {
			r = append(r, bson.E{Key: "$gte", Value: *f.From})
		}
		if f.To != nil {
			r = append(r, bson.E{Key: "$lt", Value: *f.To})
		}
		filter = append(filter, bson.E{Key: "date", Value: r})
	}
	return list[TimeEntry](ctx, s, collTimeEntries, filter, p)
}

// UpdateTimeEntry sets the given fields and returns the updated entry. A
// non-nil owner restricts the update to that user's entries.
func (s *Store) UpdateTimeEntry(ctx context.Context, org, id bson.ObjectID, owner *bson.ObjectID, set bson.D) (*TimeEntry, error) {
	filter := byID(org, id)
	if owner != nil {
		filter = append(filter, bson.E{Key: "user", Value: *owner})
	}
	set = append(set, bson.E{Key: "updatedAt", Value: now()})
	return updateOne[TimeEntry](ctx, s, collTimeEntries, filter, set)
}

// DeleteTimeEntry removes a time entry; a non-nil owner restricts the
// delete to that user's entries.
func (s *Store) DeleteTimeEntry(ctx context.Context, org, id bson.ObjectID, owner *bson.ObjectID) error {
	filter := byID(org, id)
	if owner != nil {
		filter = append(filter, bson.E{Key: "user", Value: *owner})
	}
	return deleteOne(ctx, s, collTimeEntries, filter)
}
