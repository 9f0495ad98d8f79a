package api

import (
	"context"
	"net/http"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vigil-sh/vigil/internal/app/store"
)

type taskRequest struct {
	Title       *string   `json:"title"`
	Description *string   `json:"description"`
	Status      *string   `json:"status"`
	Priority    *string   `json:"priority"`
	AssignedTo  *string   `json:"assignedTo"`
	DueDate     *string   `json:"dueDate"`
	Tags        *[]string `json:"tags"`
}

func (s *server) taskFields(ctx context.Context, p principal, req taskRequest, create bool, nulls map[string]bool) (bson.D, error) {
	f := fieldErrors{}
	set := clears(f, nulls, map[string]any{"assignedTo": noID, "dueDate": noDate, "description": "", "tags": []string{}},
		"title", "status", "priority")
	if req.Title != nil || create {
		if req.Title == nil {
			req.Title = new(string)
		}
		name(f, "title", req.Title)
		set = append(set, bson.E{Key: "title", Value: *req.Title})
	}
	if req.Description != nil {
		text(f, "description", req.Description, false, maxDescriptionLen)
		set = append(set, bson.E{Key: "description", Value: *req.Description})
	}
	if req.Status != nil {
		oneOf(f, "status", *req.Status, store.TaskStatuses)
		set = append(set, bson.E{Key: "status", Value: *req.Status})
	}
	if req.Priority != nil {
		oneOf(f, "priority", *req.Priority, store.TaskPriorities)
		set = append(set, bson.E{Key: "priority", Value: *req.Priority})
	}
	var assignee *bson.ObjectID
	if req.AssignedTo != nil {
		id := objectID(f, "assignedTo", *req.AssignedTo)
		assignee = &id
		set = append(set, bson.E{Key: "assignedTo", Value: assignee})
	}
	if req.DueDate != nil {
		set = append(set, bson.E{Key: "dueDate", Value: date(f, "dueDate", *req.DueDate)})
	}
	if req.Tags != nil {
		set = append(set, bson.E{Key: "tags", Value: tags(f, "tags", *req.Tags)})
	}
	if len(f) == 0 && assignee != nil {
		if err := s.checkUsers(ctx, f, p.Org, "assignedTo", []bson.ObjectID{*assignee}); err != nil {
			return nil, err
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

func applyTask(t *store.Task, set bson.D) {
	for _, e := range set {
		switch e.Key {
		case "title":
			t.Title = e.Value.(string)
		case "description":
			t.Description = e.Value.(string)
		case "status":
			t.Status = e.Value.(string)
		case "priority":
			t.Priority = e.Value.(string)
		case "assignedTo":
			t.AssignedTo = e.Value.(*bson.ObjectID)
		case "dueDate":
			t.DueDate = e.Value.(*time.Time)
		case "tags":
			t.Tags = e.Value.([]string)
		}
	}
}

func (s *server) createTask(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	projectID, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req taskRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.ProjectExists(r.Context(), p.Org, projectID); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Status == nil {
		req.Status = new("todo")
	}
	if req.Priority == nil {
		req.Priority = new("medium")
	}
	set, err := s.taskFields(r.Context(), p, req, true, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t := &store.Task{Organization: p.Org, Project: projectID, CreatedBy: p.User}
	applyTask(t, set)
	if err := s.store.CreateTask(r.Context(), t); err != nil {
		s.fail(w, r, err)
		return
	}
	s.invalidate(r.Context(), p.Org)
	writeJSON(w, http.StatusCreated, t)
}

func (s *server) listTasks(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	projectID, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := fieldErrors{}
	pg := page(f, r)
	q := r.URL.Query()
	var filter store.TaskFilter
	if v := q.Get("status"); v != "" {
		oneOf(f, "status", v, store.TaskStatuses)
		filter.Status = v
	}
	if v := q.Get("assignee"); v != "" {
		id := objectID(f, "assignee", v)
		filter.Assignee = &id
	}
	if v := q.Get("due_before"); v != "" {
		filter.DueBefore = date(f, "due_before", v)
	}
	if v := q.Get("tag"); v != "" {
		if utf8.RuneCountInString(v) > maxTagLen || !utf8.ValidString(v) {
			f.add("tag", "must be at most 50 characters of UTF-8")
		}
		filter.Tag = v
	}
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	// A project of another organization is not found, rather than an
	// empty list that would confirm the id exists.
	if err := s.store.ProjectExists(r.Context(), p.Org, projectID); err != nil {
		s.fail(w, r, err)
		return
	}
	items, total, err := s.store.Tasks(r.Context(), p.Org, projectID, filter, pg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listBody[store.Task]{Items: items, Page: pg.Page, Limit: pg.Limit, Total: total})
}

func (s *server) getTask(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cachedJSON(w, r, p.Org, "task:"+id.Hex(), func(ctx context.Context) (any, error) {
		return s.store.Task(ctx, p.Org, id)
	})
}

func (s *server) updateTask(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req taskRequest
	nulls, err := decodePatch(r, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	set, err := s.taskFields(r.Context(), p, req, false, nulls)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.store.UpdateTask(r.Context(), p.Org, id, set)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.invalidate(r.Context(), p.Org)
	writeJSON(w, http.StatusOK, t)
}

func (s *server) deleteTask(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.DeleteTask(r.Context(), p.Org, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.invalidate(r.Context(), p.Org)
	w.WriteHeader(http.StatusNoContent)
}
