package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vigil-sh/vigil/internal/testserver"
)

func externalMongoEnv(uri string) map[string]string {
	return map[string]string{
		"PORT": "0", "BCRYPT_COST": "4", "LOG_LEVEL": "debug", "RATE_LIMIT_AUTH": "1000",
		"JWT_SECRET": strings.Repeat("j", 32), "JWT_REFRESH_SECRET": strings.Repeat("k", 32),
		"MONGODB_URI": uri, "MONGODB_DATABASE": "indexes",
	}
}

func register(t *testing.T, a *app, org, email string) (int, string) {
	t.Helper()
	res, err := http.Post("http://"+a.addr+"/api/auth/register", "application/json",
		strings.NewReader(fmt.Sprintf(`{"organization":%q,"name":"N","email":%q,"password":"correct horse"}`, org, email)))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After")
}

// TestStartDuringMongoOutageNoDuplicateEmails: the app starts while MongoDB
// is down; writes are refused (503, Retry-After, health unhealthy) until
// the indexes exist, so concurrent registrations of one email racing
// MongoDB's return yield exactly one account.
func TestStartDuringMongoOutageNoDuplicateEmails(t *testing.T) {
	ms := testserver.Mongo(t)
	ms.Stop()
	a := start(t, externalMongoEnv(ms.URI))

	code, retry := register(t, a, "Early", "early@acme.test")
	if code != http.StatusServiceUnavailable || retry == "" {
		t.Errorf("register during outage = %d (Retry-After %q), want 503 with Retry-After", code, retry)
	}
	// Bring MongoDB back at the start of a long index-retry backoff: the
	// window in which unguarded registrations would all succeed.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(a.logs.String(), `"retry_in":4000000000`) {
		if time.Now().After(deadline) {
			t.Fatalf("no 4s index retry backoff:\n%s", a.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ms.Start()

	// Once MongoDB is back, registrations of one email race the index
	// retry, round after round, until the index has been built.
	counts := map[int]int{}
	deadline = time.Now().Add(45 * time.Second)
	for round := 0; ; round++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				code, _ := register(t, a, fmt.Sprintf("Org %d-%d", round, i), "dup@acme.test")
				mu.Lock()
				counts[code]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if counts[http.StatusConflict] > 0 || counts[http.StatusCreated] > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("indexes not ready 45s after MongoDB came back: %v\n%s", counts, a.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if counts[http.StatusCreated] != 1 {
		t.Errorf("registrations of one email: %v, want exactly one 201", counts)
	}
	for code := range counts {
		if code != http.StatusCreated && code != http.StatusConflict && code != http.StatusServiceUnavailable {
			t.Errorf("unexpected status %d (%d times)", code, counts[code])
		}
	}
	if code, h := a.get(t, "/api/health"); code != http.StatusOK {
		t.Errorf("health after indexes = %d %v", code, h)
	}
}

// TestIndexConflictIsLoud: duplicate emails already stored keep the unique
// index from being built; the app says so (error log with the ids, health
// unhealthy, a metric), refuses writes, and recovers once the data is fixed.
func TestIndexConflictIsLoud(t *testing.T) {
	ms := testserver.Mongo(t)
	c, err := mongo.Connect(options.Client().ApplyURI(ms.URI).SetTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	users := c.Database("indexes").Collection("users")
	ids := []bson.ObjectID{bson.NewObjectID(), bson.NewObjectID()}
	for _, id := range ids {
		if _, err := users.InsertOne(t.Context(), bson.D{{Key: "_id", Value: id}, {Key: "email", Value: "twice@acme.test"}, {Key: "organization", Value: bson.NewObjectID()}}); err != nil {
			t.Fatal(err)
		}
	}
	a := start(t, externalMongoEnv(ms.URI))

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(a.logs.String(), "unique index cannot be built") {
		if time.Now().After(deadline) {
			t.Fatalf("no error log about the duplicates:\n%s", a.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	logs := a.logs.String()
	for _, id := range ids {
		if !strings.Contains(logs, id.Hex()) {
			t.Errorf("the error log does not name duplicate %s", id.Hex())
		}
	}
	code, h := a.get(t, "/api/health")
	checks, _ := h["checks"].(map[string]any)
	idx, _ := checks["mongodb_indexes"].(map[string]any)
	if code != http.StatusServiceUnavailable || h["status"] != "unhealthy" || idx["status"] != "down" {
		t.Errorf("health with an unbuildable index = %d %v", code, h)
	}
	// The public answer says down, not why: the cause is for the logs and
	// an admin's token.
	if len(idx) != 1 {
		t.Errorf("public mongodb_indexes = %v, want only its status", idx)
	}
	metrics := a.metrics(t)
	for _, want := range []string{"\napp_mongodb_index_conflicts 1\n", "\napp_mongodb_indexes_ready 0\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, _ := register(t, a, "O", "new@acme.test"); code != http.StatusServiceUnavailable {
		t.Errorf("register with indexes missing = %d, want 503", code)
	}

	// Fixing the data lets the next retry build the index.
	if _, err := users.DeleteOne(t.Context(), bson.D{{Key: "_id", Value: ids[1]}}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(a.metrics(t), "\napp_mongodb_indexes_ready 1\n") {
		if time.Now().After(deadline) {
			t.Fatalf("index not built 20s after the data was fixed:\n%s", a.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := register(t, a, "O", "new@acme.test"); code != http.StatusCreated {
		t.Errorf("register after the fix = %d, want 201", code)
	}
	if code, _ := register(t, a, "O2", "twice@acme.test"); code != http.StatusConflict {
		t.Errorf("register of the once-duplicated email = %d, want 409", code)
	}
}

func (a *app) metrics(t *testing.T) string {
	t.Helper()
	res, err := http.Get("http://" + a.addr + "/api/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
