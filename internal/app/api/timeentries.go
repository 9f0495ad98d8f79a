package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vigil-sh/vigil/internal/app/store"
)

type timeEntryRequest struct {
	Project     *string `json:"project"`
	Task        *string `json:"task"`
	User        *string `json:"user"`
	Date        *string `json:"date"`
	Duration    *int    `json:"duration"` // minutes
	Description *string `json:"description"`
}

// timeEntryFields validates a create or patch. Projects and tasks must be
// the caller's organization's; a member may log time only for themselves.
func (s *server) timeEntryFields(ctx context.Context, p principal, req timeEntryRequest, create bool, current *store.TimeEntry, nulls map[string]bool) (bson.D, error) {
	f := fieldErrors{}
	set := clears(f, nulls, map[string]any{"task": noID, "description": ""}, "project", "user", "date", "duration")
	var project, task, user *bson.ObjectID
	if create || req.Project != nil {
		if req.Project == nil {
			f.add("project", "is required")
		} else {
			id := objectID(f, "project", *req.Project)
			project = &id
			set = append(set, bson.E{Key: "project", Value: id})
		}
	}
	if req.Task != nil {
		id := objectID(f, "task", *req.Task)
		task = &id
		set = append(set, bson.E{Key: "task", Value: task})
	}
	if req.User != nil {
		id := objectID(f, "user", *req.User)
		user = &id
		set = append(set, bson.E{Key: "user", Value: id})
	}
	if create || req.Date != nil {
		if req.Date == nil {
			f.add("date", "is required")
		} else if d := date(f, "date", *req.Date); d != nil {
			set = append(set, bson.E{Key: "date", Value: *d})
		}
	}
	if create || req.Duration != nil {
		switch {
		case req.Duration == nil:
			f.add("duration", "is required")
		case *req.Duration < 1 || *req.Duration > maxDurationMins:
			f.add("duration", "must be between 1 and 1440 minutes")
		default:
			set = append(set, bson.E{Key: "duration", Value: *req.Duration})
		}
	}
	if req.Description != nil {
		text(f, "description", req.Description, false, maxDescriptionLen)
		set = append(set, bson.E{Key: "description", Value: *req.Description})
	}
	if len(f) > 0 {
		return nil, errValidation(f)
	}
	if user != nil && *user != p.User && !p.admin() {
		return nil, errStatus(http.StatusForbidden, "members may log time only for themselves")
	}
	// References must exist in the caller's organization.
	if user != nil {
		if err := s.checkUsers(ctx, f, p.Org, "user", []bson.ObjectID{*user}); err != nil {
			return nil, err
		}
	}
	if project == nil && current != nil {
		project = &current.Project
	}
	if task == nil && current != nil && req.Project != nil && !nulls["task"] {
		// Moving an entry to another project: its task must follow.
		task = current.Task
	}
	if project != nil && req.Project != nil {
		if err := s.store.ProjectExists(ctx, p.Org, *project); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			f.add("project", "no such project")
		}
	}
	if task != nil && project != nil && len(f) == 0 {
		tp, err := s.store.TaskProject(ctx, p.Org, *task)
		switch {
		case errors.Is(err, store.ErrNotFound):
			f.add("task", "no such task")
		case err != nil:
			return nil, err
		case tp != *project:
			f.add("task", "must belong to the project")
		}
	}
	if len(f) > 0 {
		return nil, errValidation(f)
	}
	if !create && len(set) == 0 {
		return nil, errStatus(http.StatusBadRequest, "no fields to update")
	}
	return set, nil
}

func (s *server) createTimeEntry(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	var req timeEntryRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	set, err := s.timeEntryFields(r.Context(), p, req, true, nil, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e := &store.TimeEntry{Organization: p.Org, User: p.User}
	for _, kv := range set {
		switch kv.Key {
		case "project":
			e.Project = kv.Value.(bson.ObjectID)
		case "task":
			e.Task = kv.Value.(*bson.ObjectID)
		case "user":
			e.User = kv.Value.(bson.ObjectID)
		case "date":
			e.Date = kv.Value.(time.Time)
		case "duration":
			e.Duration = kv.Value.(int)
		case "description":
			e.Description = kv.Value.(string)
		}
	}
	if err := s.store.CreateTimeEntry(r.Context(), e); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

func (s *server) listTimeEntries(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	f := fieldErrors{}
	pg := page(f, r)
	q := r.URL.Query()
	var filter store.TimeEntryFilter
	if v := q.Get("user"); v != "" {
		if strings.EqualFold(v, "me") {
			filter.User = &p.User
		} else {
			id := objectID(f, "user", v)
			filter.User = &id
		}
	}
	if v := q.Get("project"); v != "" {
		id := objectID(f, "project", v)
		filter.Project = &id
	}
	if v := q.Get("from"); v != "" {
		filter.From = date(f, "from", v)
	}
	if v := q.Get("to"); v != "" {
		filter.To = date(f, "to", v)
	}
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	items, total, err := s.store.TimeEntries(r.Context(), p.Org, filter, pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listBody[store.TimeEntry]{Items: items, Page: pg.Page, Limit: pg.Limit, Total: total})
}

func (s *server) getTimeEntry(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := s.store.TimeEntry(r.Context(), p.Org, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// ownEntry loads an entry the caller may change: 404 outside the
// organization, 403 for a member touching someone else's entry.
func (s *server) ownEntry(r *http.Request, p principal, id bson.ObjectID) (*store.TimeEntry, *bson.ObjectID, error) {
	e, err := s.store.TimeEntry(r.Context(), p.Org, id)
	if err != nil {
		return nil, nil, err
	}
	if p.admin() {
		return e, nil, nil
	}
	if e.User != p.User {
		return nil, nil, errStatus(http.StatusForbidden, "members may change only their own time entries")
	}
	return e, &p.User, nil
}

func (s *server) updateTimeEntry(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req timeEntryRequest
	nulls, err := decodePatch(r, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cur, owner, err := s.ownEntry(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	set, err := s.timeEntryFields(r.Context(), p, req, false, cur, nulls)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := s.store.UpdateTimeEntry(r.Context(), p.Org, id, owner, set)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *server) deleteTimeEntry(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_, owner, err := s.ownEntry(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.DeleteTimeEntry(r.Context(), p.Org, id, owner); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
