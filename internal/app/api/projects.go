package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/vigil-sh/vigil/internal/app/store"
)

type projectRequest struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Status      *string   `json:"status"`
	TeamMembers *[]string `json:"teamMembers"`
	StartDate   *string   `json:"startDate"`
	EndDate     *string   `json:"endDate"`
}

// projectFields validates a create (all required fields present) or a
// patch (only what is given) and returns the fields to set.
func (s *server) projectFields(ctx context.Context, p principal, req projectRequest, create bool, nulls map[string]bool) (bson.D, error) {
	f := fieldErrors{}
	set := clears(f, nulls, map[string]any{"startDate": noDate, "endDate": noDate, "description": "", "teamMembers": []bson.ObjectID{}},
		"name", "status")
	if req.Name != nil || create {
		if req.Name == nil {
			req.Name = new(string)
		}
		name(f, "name", req.Name)
		set = append(set, bson.E{Key: "name", Value: *req.Name})
	}
	if req.Description != nil {
		text(f, "description", req.Description, false, maxDescriptionLen)
		set = append(set, bson.E{Key: "description", Value: *req.Description})
	}
	if req.Status != nil {
		oneOf(f, "status", *req.Status, store.ProjectStatuses)
		set = append(set, bson.E{Key: "status", Value: *req.Status})
	}
	var team []bson.ObjectID
	if req.TeamMembers != nil {
		team = s.members(f, "teamMembers", *req.TeamMembers)
		set = append(set, bson.E{Key: "teamMembers", Value: team})
	}
	var start, end *time.Time
	if req.StartDate != nil {
		start = date(f, "startDate", *req.StartDate)
		set = append(set, bson.E{Key: "startDate", Value: start})
	}
	if req.EndDate != nil {
		end = date(f, "endDate", *req.EndDate)
		set = append(set, bson.E{Key: "endDate", Value: end})
	}
	if start != nil && end != nil && end.Before(*start) {
		f.add("endDate", "must not be before startDate")
	}
	if len(f) == 0 && req.TeamMembers != nil {
		if err := s.checkUsers(ctx, f, p.Org, "teamMembers", team); err != nil {
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

func (s *server) members(f fieldErrors, field string, in []string) []bson.ObjectID {
	if len(in) > maxTeamMembers {
		f.add(field, "must have at most 100 members")
		return nil
	}
	ids := make([]bson.ObjectID, 0, len(in))
	for _, v := range in {
		id, err := bson.ObjectIDFromHex(v)
		if err != nil {
			f.add(field, "must be user ids")
			return nil
		}
		dup := false
		for _, have := range ids {
			dup = dup || have == id
		}
		if !dup {
			ids = append(ids, id)
		}
	}
	return ids
}

// checkUsers verifies that every id is a user of the caller's organization:
// a reference to another tenant's user is a validation error.
func (s *server) checkUsers(ctx context.Context, f fieldErrors, org bson.ObjectID, field string, ids []bson.ObjectID) error {
	n, err := s.store.CountUsers(ctx, org, ids)
	if err != nil {
		return err
	}
	if n != len(ids) {
		f.add(field, "must be users of your organization")
	}
	return nil
}

func (s *server) createProject(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	var req projectRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Status == nil {
		req.Status = new("planning")
	}
	set, err := s.projectFields(r.Context(), p, req, true, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	proj := &store.Project{Organization: p.Org, CreatedBy: p.User}
	applyProject(proj, set)
	if err := s.store.CreateProject(r.Context(), proj); err != nil {
		s.fail(w, r, err)
		return
	}
	s.invalidate(r.Context(), p.Org)
	writeJSON(w, http.StatusCreated, proj)
}

func applyProject(p *store.Project, set bson.D) {
	for _, e := range set {
		switch e.Key {
		case "name":
			p.Name = e.Value.(string)
		case "description":
			p.Description = e.Value.(string)
		case "status":
			p.Status = e.Value.(string)
		case "teamMembers":
			p.TeamMembers = e.Value.([]bson.ObjectID)
		case "startDate":
			p.StartDate = e.Value.(*time.Time)
		case "endDate":
			p.EndDate = e.Value.(*time.Time)
		}
	}
}

func (s *server) listProjects(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	f := fieldErrors{}
	pg := page(f, r)
	q := r.URL.Query()
	var filter store.ProjectFilter
	if v := q.Get("status"); v != "" {
		oneOf(f, "status", v, store.ProjectStatuses)
		filter.Status = v
	}
	if v := q.Get("member"); v != "" {
		id := objectID(f, "member", v)
		filter.Member = &id
	}
	if len(f) > 0 {
		s.fail(w, r, errValidation(f))
		return
	}
	// The key is built from the validated values only, so it is bounded
	// and cannot collide across different queries.
	key := "projects?" + url.Values{
		"status": {filter.Status}, "member": {q.Get("member")},
		"page": {strconv.Itoa(pg.Page)}, "limit": {strconv.Itoa(pg.Limit)},
	}.Encode()
	s.cachedJSON(w, r, p.Org, key, func(ctx context.Context) (any, error) {
		items, total, err := s.store.Projects(ctx, p.Org, filter, pg)
		if err != nil {
			return nil, err
		}
		return listBody[store.Project]{Items: items, Page: pg.Page, Limit: pg.Limit, Total: total}, nil
	})
}

func (s *server) getProject(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cachedJSON(w, r, p.Org, "project:"+id.Hex(), func(ctx context.Context) (any, error) {
		return s.store.Project(ctx, p.Org, id)
	})
}

func (s *server) updateProject(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req projectRequest
	nulls, err := decodePatch(r, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	set, err := s.projectFields(r.Context(), p, req, false, nulls)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.StartDate != nil || req.EndDate != nil {
		// One date given: check it against the stored other one.
		cur, err := s.store.Project(r.Context(), p.Org, id)
		if errors.Is(err, store.ErrCorrupt) {
			// A stored date out of range is being replaced: compare
			// only what is given, so the document can be repaired.
			cur, err = &store.Project{}, nil
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		merged := *cur
		applyProject(&merged, set)
		if merged.StartDate != nil && merged.EndDate != nil && merged.EndDate.Before(*merged.StartDate) {
			s.fail(w, r, errValidation(fieldErrors{"endDate": "must not be before startDate"}))
			return
		}
	}
	proj, err := s.store.UpdateProject(r.Context(), p.Org, id, set)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.invalidate(r.Context(), p.Org)
	writeJSON(w, http.StatusOK, proj)
}

func (s *server) deleteProject(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !p.admin() {
		// Tenant isolation first: a member asking about another
		// organization's project learns nothing, not even a 403.
		if err := s.store.ProjectExists(r.Context(), p.Org, id); err != nil {
			s.fail(w, r, err)
			return
		}
		s.fail(w, r, errForbidden)
		return
	}
	if err := s.store.DeleteProject(r.Context(), p.Org, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.invalidate(r.Context(), p.Org)
	w.WriteHeader(http.StatusNoContent)
}
