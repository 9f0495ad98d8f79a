package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/app/api"
	"github.com/vigil-sh/vigil/internal/app/auth"
	"github.com/vigil-sh/vigil/internal/app/health"
	"github.com/vigil-sh/vigil/internal/app/httpmetrics"
	"github.com/vigil-sh/vigil/internal/app/store"
	"github.com/vigil-sh/vigil/internal/testserver"
)

// env is one app instance on a real FerretDB, served by httptest.
type env struct {
	t       testing.TB
	mongo   *testserver.MongoServer
	store   *store.Store
	metrics *httpmetrics.Metrics
	srv     *httptest.Server
	logs    *testserver.LogBuffer
}

type envOption func(*api.Deps, *health.Checker)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	m := testserver.Mongo(t)
	return newEnvOn(t, m, m.URI, opts...)
}

// newEnvOn is newEnv with the app reaching mongo through uri (a proxy).
func newEnvOn(t testing.TB, mongo *testserver.MongoServer, uri string, opts ...envOption) *env {
	t.Helper()
	return newEnvStore(t, mongo, store.Options{
		URI: uri, Database: "test", MaxPoolSize: 10,
		Timeout: 3 * time.Second, ServerSelectionTimeout: 500 * time.Millisecond,
	}, opts...)
}

// newEnvStore is newEnvOn with the store's options given.
func newEnvStore(t testing.TB, mongo *testserver.MongoServer, so store.Options, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, mongo: mongo, metrics: httpmetrics.New(time.Second), logs: &testserver.LogBuffer{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	so.CommandMonitor, so.PoolMonitor = e.metrics.MongoMonitors()
	if so.Logger == nil {
		so.Logger = logger
	}
	st, err := store.Open(so)
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatalf("indexes: %v", err)
	}
	e.store = st
	hasher, err := auth.NewHasher(4)
	if err != nil {
		t.Fatal(err)
	}
	checker := &health.Checker{
		Version: "test", Started: time.Now(), Up: e.metrics.DependencyUp, Deadline: 1500 * time.Millisecond,
		// Every call checks afresh, so that a test sees an outage at once;
		// the one-second reuse is the health package's test.
		CacheFor: -1,
		Checks: []health.Check{
			{Name: "mongodb", Probe: st.Up, Critical: true},
			{Name: "redis", Disabled: true},
		},
	}
	deps := api.Deps{
		Store:   st,
		Tokens:  auth.NewTokens(strings.Repeat("a", 32), strings.Repeat("r", 32), 15*time.Minute, 7*24*time.Hour),
		Hasher:  hasher,
		Metrics: e.metrics,
		Logger:  logger,
		Health:  checker,
	}
	for _, o := range opts {
		o(&deps, checker)
	}
	e.srv = httptest.NewServer(api.NewServer(deps))
	t.Cleanup(e.srv.Close)
	return e
}

// db is a direct connection to the app's database, for planting documents
// the API would refuse.
func (e *env) db() *mongo.Database {
	e.t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(e.mongo.URI).SetTimeout(5 * time.Second))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database("test")
}

// waitLog waits up to 2 s for substr in the logs.
func (e *env) waitLog(substr string) bool {
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(e.logs.String(), substr) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// String returns what was logged so far.
// resp is a decoded answer.
type resp struct {
	status int
	header http.Header
	raw    []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.raw, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.raw)
	}
	return m
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.raw, v); err != nil {
		t.Fatalf("decoding %d response: %v: %s", r.status, err, r.raw)
	}
}

// do sends a request; body may be a string (sent raw) or a value (JSON).
func (e *env) do(method, path, token string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	// No answer, whatever the route, ever carries a password hash.
	if bytes.Contains(raw, []byte("$2a$")) || bytes.Contains(raw, []byte("asswordHash")) {
		e.t.Errorf("%s %s leaks a password hash: %s", method, path, raw)
	}
	return resp{status: res.StatusCode, header: res.Header, raw: raw}
}

// must fails unless the answer has the wanted status.
func (e *env) must(want int, method, path, token string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.status != want {
		e.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

// account is a logged-in user.
type account struct {
	token, refresh string
	userID, orgID  string
	email          string
}

func (e *env) register(org, email string) account {
	e.t.Helper()
	r := e.must(http.StatusCreated, "POST", "/api/auth/register", "", map[string]string{
		"organization": org, "name": "Admin of " + org, "email": email, "password": "correct horse",
	})
	var s struct {
		User         struct{ ID, Organization string }
		AccessToken  string
		RefreshToken string
	}
	r.decode(e.t, &s)
	return account{token: s.AccessToken, refresh: s.RefreshToken, userID: s.User.ID, orgID: s.User.Organization, email: email}
}

// member creates a member in admin's organization and logs them in.
func (e *env) member(admin account, email string) account {
	e.t.Helper()
	e.must(http.StatusCreated, "POST", "/api/users", admin.token, map[string]string{
		"name": "Member", "email": email, "password": "member password", "role": "member",
	})
	r := e.must(http.StatusOK, "POST", "/api/auth/login", "", map[string]string{"email": email, "password": "member password"})
	var s struct {
		User        struct{ ID, Organization string }
		AccessToken string
	}
	r.decode(e.t, &s)
	return account{token: s.AccessToken, userID: s.User.ID, orgID: s.User.Organization, email: email}
}

func (e *env) id(r resp) string {
	e.t.Helper()
	id, _ := r.json(e.t)["id"].(string)
	if len(id) != 24 {
		e.t.Fatalf("no id in %s", r.raw)
	}
	return id
}
