package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/app/store"
	"github.com/vigil-sh/vigil/internal/testserver"
)

func open(t *testing.T, uri string) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{URI: uri, Database: "t", Timeout: 2 * time.Second, ServerSelectionTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

func TestIndexesAndUniqueEmail(t *testing.T) {
	srv := testserver.Mongo(t)
	st := open(t, srv.URI)
	ctx := t.Context()
	for i := range 2 { // idempotent
		if err := st.EnsureIndexes(ctx); err != nil {
			t.Fatalf("EnsureIndexes #%d: %v", i+1, err)
		}
	}
	org := &store.Organization{Name: "A"}
	if err := st.CreateOrganization(ctx, org, &store.User{Email: "x@a.test", Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	err := st.CreateOrganization(ctx, &store.Organization{Name: "B"}, &store.User{Email: "x@a.test", Role: "admin"})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second user with the same email: %v, want ErrDuplicate", err)
	}
	if err := st.CreateUser(ctx, &store.User{Organization: org.ID, Email: "x@a.test"}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("CreateUser duplicate: %v", err)
	}
}

func TestScopedByOrganization(t *testing.T) {
	srv := testserver.Mongo(t)
	st := open(t, srv.URI)
	ctx := t.Context()
	orgA, orgB := bson.NewObjectID(), bson.NewObjectID()
	p := &store.Project{Organization: orgA, Name: "p", Status: "planning"}
	if err := st.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{}
	_, checks["get"] = st.Project(ctx, orgB, p.ID)
	_, checks["update"] = st.UpdateProject(ctx, orgB, p.ID, bson.D{{Key: "name", Value: "x"}})
	checks["delete"] = st.DeleteProject(ctx, orgB, p.ID)
	for op, err := range checks {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s from another organization: %v, want ErrNotFound", op, err)
		}
	}
	got, err := st.Project(ctx, orgA, p.ID)
	if err != nil || got.Name != "p" || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("owner's read: %+v, %v", got, err)
	}
	if _, err := store.ParseID("zzz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ParseID(invalid) = %v, want ErrNotFound", err)
	}
}

func TestOutageIsUnavailableAndFast(t *testing.T) {
	srv := testserver.Mongo(t)
	st := open(t, srv.URI)
	if err := st.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	_, err := st.Project(t.Context(), bson.NewObjectID(), bson.NewObjectID())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("read with MongoDB down: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("read with MongoDB down took %s", took)
	}
	srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	for st.Ping(t.Context()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no recovery after restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOpenErrorRedactsPassword(t *testing.T) {
	_, err := store.Open(store.Options{URI: "mongodb://user:hunter2@127.0.0.1:1/?maxPoolSize=notanumber"})
	if err == nil {
		t.Fatal("invalid URI accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestEmbeddedPersistsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(testserver.FreePort(t))
	for round := range 2 {
		e, err := store.StartEmbedded(t.Context(), addr, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := open(t, e.URI)
		if round == 0 {
			if err := st.CreateOrganization(t.Context(), &store.Organization{Name: "kept"}, &store.User{Email: "k@k.test"}); err != nil {
				t.Fatal(err)
			}
		} else if _, err := st.UserByEmail(t.Context(), "k@k.test"); err != nil {
			t.Fatalf("user lost across restart: %v", err)
		}
		_ = st.Close(context.Background())
		e.Stop()
	}
}

func TestDeleteProjectCascades(t *testing.T) {
	srv := testserver.Mongo(t)
	st := open(t, srv.URI)
	ctx := t.Context()
	org := bson.NewObjectID()
	keep := &store.Project{Organization: org, Name: "keep"}
	gone := &store.Project{Organization: org, Name: "gone"}
	for _, p := range []*store.Project{keep, gone} {
		if err := st.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var tasks []*store.Task
	for _, p := range []*store.Project{keep, gone} {
		tk := &store.Task{Organization: org, Project: p.ID, Title: "t"}
		if err := st.CreateTask(ctx, tk); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, tk)
		if err := st.CreateTimeEntry(ctx, &store.TimeEntry{Organization: org, Project: p.ID, Task: &tk.ID, Duration: 5, Date: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteProject(ctx, org, gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Task(ctx, org, tasks[1].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("task of the deleted project: %v, want ErrNotFound", err)
	}
	if _, err := st.Task(ctx, org, tasks[0].ID); err != nil {
		t.Errorf("task of the kept project: %v", err)
	}
	all := store.Page{Page: 1, Limit: 100}
	entries, total, err := st.TimeEntries(ctx, org, store.TimeEntryFilter{}, all)
	if err != nil || total != 1 || entries[0].Project != keep.ID {
		t.Errorf("time entries after delete: %d %+v %v, want only the kept project's", total, entries, err)
	}
	if err := st.DeleteProject(ctx, org, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

func TestDatabaseFromURI(t *testing.T) {
	srv := testserver.Mongo(t)
	cases := []struct {
		name, uri, database, want string
	}{
		{"path of the URI", srv.URI + "fromuri", "", "fromuri"},
		{"explicit wins", srv.URI + "fromuri", "explicit", "explicit"},
		{"default", srv.URI, "", "vigil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(store.Options{URI: tc.uri, Database: tc.database, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close(context.Background())
			org := &store.Organization{Name: tc.name}
			if err := st.CreateOrganization(t.Context(), org, &store.User{Email: strings.ReplaceAll(tc.name, " ", "") + "@x.test"}); err != nil {
				t.Fatal(err)
			}
			raw, err := mongo.Connect(options.Client().ApplyURI(srv.URI))
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Disconnect(context.Background())
			n, err := raw.Database(tc.want).Collection("organizations").CountDocuments(t.Context(), bson.D{{Key: "_id", Value: org.ID}})
			if err != nil || n != 1 {
				t.Fatalf("organization in database %q: %d, %v", tc.want, n, err)
			}
		})
	}
}
