// Package store keeps the tracker's data in MongoDB: organizations, users,
// projects, tasks and time entries. Every read and write of tenant data is
// scoped by organization id, so a caller cannot reach another tenant's
// documents even with a valid id. Driver errors are classified into
// ErrNotFound, ErrDuplicate and ErrUnavailable so that handlers can answer
// 404, 409 and 503 without knowing the driver.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

var (
	// ErrNotFound means no document matched within the caller's organization.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate means a unique index rejected the write.
	ErrDuplicate = errors.New("duplicate")
	// ErrUnavailable means MongoDB could not be reached in time.
	ErrUnavailable = errors.New("database unavailable")
	// ErrBusy means every pooled connection stayed in use until the
	// operation's deadline: the app is overloaded, MongoDB is not down.
	ErrBusy = errors.New("database connection pool exhausted")
)

// Collection names.
const (
	collOrgs        = "organizations"
	collUsers       = "users"
	collProjects    = "projects"
	collTasks       = "tasks"
	collTimeEntries = "timeentries"
)

// Options configure Open.
type Options struct {
	URI string
	// Database defaults to the one in the URI's path, else "vigil".
	Database               string
	MaxPoolSize            uint64
	Timeout                time.Duration // bound of every operation
	ServerSelectionTimeout time.Duration
	CommandMonitor         *event.CommandMonitor
	PoolMonitor            *event.PoolMonitor
}

// Store is the app's MongoDB data access.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	timeout time.Duration
}

// Open connects to MongoDB. It does not wait for the server: an
// unreachable database surfaces as ErrUnavailable on the first operation,
// so the app can start (and report unhealthy) while MongoDB is down.
func Open(o Options) (*Store, error) {
	if o.MaxPoolSize == 0 {
		o.MaxPoolSize = 10
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.ServerSelectionTimeout <= 0 || o.ServerSelectionTimeout > o.Timeout {
		o.ServerSelectionTimeout = min(time.Second, o.Timeout)
	}
	if o.Database == "" {
		// The database named in the URI's path, as every MongoDB tool
		// reads it, else the app's default.
		if cs, err := connstring.Parse(o.URI); err == nil && cs.Database != "" {
			o.Database = cs.Database
		} else {
			o.Database = "vigil"
		}
	}
	opts := options.Client().ApplyURI(o.URI).
		SetAppName("vigil-app").
		SetMaxPoolSize(o.MaxPoolSize).
		SetTimeout(o.Timeout).
		SetServerSelectionTimeout(o.ServerSelectionTimeout).
		SetConnectTimeout(o.ServerSelectionTimeout).
		SetRetryWrites(false) // FerretDB and standalone servers have no retryable writes
	if o.CommandMonitor != nil {
		opts.SetMonitor(o.CommandMonitor)
	}
	if o.PoolMonitor != nil {
		opts.SetPoolMonitor(o.PoolMonitor)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("MongoDB options for %s: %w", redact(o.URI), err)
	}
	c, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to MongoDB %s: %w", redact(o.URI), err)
	}
	return &Store{client: c, db: c.Database(o.Database), timeout: o.Timeout}, nil
}

// Close disconnects, waiting for in-use connections up to ctx.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("disconnecting from MongoDB: %w", err)
	}
	return nil
}

// Ping checks that MongoDB answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if err := s.db.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		return classify("ping", err)
	}
	return nil
}

// Up is the health probe: Ping, except that a saturated connection pool
// counts as up. Its connections are all busy with a server that answers;
// reporting it down would turn overload into unreadiness and move the
// load onto fewer replicas.
func (s *Store) Up(ctx context.Context) error {
	// Give up on the pool a little before the caller's deadline, so that
	// "busy" is reported rather than the caller's "no answer".
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Until(d)/10))
		defer cancel()
	}
	if err := s.Ping(ctx); err != nil && !errors.Is(err, ErrBusy) {
		return err
	}
	return nil
}

// opContext bounds one operation, in addition to the client-wide timeout,
// so that a caller without a deadline still gets one.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// EnsureIndexes creates the app's indexes; creating an existing index is a
// no-op, so this runs at every start.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	asc := func(keys ...string) bson.D {
		d := bson.D{}
		for _, k := range keys {
			d = append(d, bson.E{Key: k, Value: 1})
		}
		return d
	}
	specs := map[string][]mongo.IndexModel{
		collUsers: {
			{Keys: asc("email"), Options: options.Index().SetUnique(true)},
			{Keys: asc("organization")},
		},
		collProjects: {
			{Keys: asc("organization", "status")},
			{Keys: asc("createdBy")},
			{Keys: asc("teamMembers")},
		},
		collTasks: {
			{Keys: asc("project", "status")},
			{Keys: asc("assignedTo")},
			{Keys: asc("dueDate")},
			{Keys: asc("tags")},
		},
		collTimeEntries: {
			{Keys: asc("user", "date")},
			{Keys: asc("project", "date")},
			{Keys: asc("task")},
		},
	}
	// One at a time: FerretDB v1 drops the connection on a createIndexes
	// of several indexes that all exist already.
	for _, coll := range []string{collUsers, collProjects, collTasks, collTimeEntries} {
		for _, spec := range specs[coll] {
			ctx, cancel := s.opContext(ctx)
			_, err := s.db.Collection(coll).Indexes().CreateOne(ctx, spec)
			cancel()
			if err != nil {
				return classify(fmt.Sprintf("creating index %v on %s", spec.Keys, coll), err)
			}
		}
	}
	return nil
}

// classify wraps a driver error into one of the package's sentinel errors
// (keeping the original for logs).
func classify(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%s: %w: %w", op, ErrDuplicate, err)
	case poolExhausted(err):
		return fmt.Errorf("%s: %w: %w", op, ErrBusy, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// poolExhausted: the wait for a pooled connection timed out (it wraps
// context.DeadlineExceeded, so it is told apart before unavailable).
func poolExhausted(err error) bool {
	var wq topology.WaitQueueTimeoutError
	return errors.As(err, &wq) && !errors.Is(err, context.Canceled)
}

func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, topology.ErrTopologyClosed) || errors.Is(err, mongo.ErrClientDisconnected) {
		return true
	}
	var sel topology.ServerSelectionError
	if errors.As(err, &sel) {
		return true
	}
	var conn topology.ConnectionError
	if errors.As(err, &conn) {
		return true
	}
	return mongo.IsTimeout(err) || mongo.IsNetworkError(err)
}

// ParseID parses a hex object id; any invalid id is ErrNotFound, since no
// document can have it.
func ParseID(s string) (bson.ObjectID, error) {
	id, err := bson.ObjectIDFromHex(s)
	if err != nil {
		return bson.ObjectID{}, fmt.Errorf("id %q: %w", truncate(s, 40), ErrNotFound)
	}
	return id, nil
}

// redact strips the password from a URI for errors and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URI>"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Page selects one page of a list.
type Page struct {
	Page  int // 1-based
	Limit int
}

func (p Page) findOptions() *options.FindOptionsBuilder {
	return options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(int64((p.Page - 1) * p.Limit)).
		SetLimit(int64(p.Limit))
}

// list runs a paginated find with a count of all matches.
func list[T any](ctx context.Context, s *Store, coll string, filter bson.D, p Page) ([]T, int64, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	c := s.db.Collection(coll)
	total, err := c.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, classify("counting "+coll, err)
	}
	items := []T{}
	if total == 0 || int64((p.Page-1)*p.Limit) >= total {
		return items, total, nil
	}
	cur, err := c.Find(ctx, filter, p.findOptions())
	if err != nil {
		return nil, 0, classify("listing "+coll, err)
	}
	if err := cur.All(ctx, &items); err != nil {
		return nil, 0, classify("reading "+coll, err)
	}
	return items, total, nil
}

func getOne[T any](ctx context.Context, s *Store, coll string, filter bson.D) (*T, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var v T
	if err := s.db.Collection(coll).FindOne(ctx, filter).Decode(&v); err != nil {
		return nil, classify("finding in "+coll, err)
	}
	return &v, nil
}

func insertOne(ctx context.Context, s *Store, coll string, doc any) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := s.db.Collection(coll).InsertOne(ctx, doc)
	return classify("inserting into "+coll, err)
}

func updateOne[T any](ctx context.Context, s *Store, coll string, filter, set bson.D) (*T, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var v T
	err := s.db.Collection(coll).FindOneAndUpdate(ctx, filter, bson.D{{Key: "$set", Value: set}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&v)
	if err != nil {
		return nil, classify("updating "+coll, err)
	}
	return &v, nil
}

func deleteOne(ctx context.Context, s *Store, coll string, filter bson.D) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	res, err := s.db.Collection(coll).DeleteOne(ctx, filter)
	if err != nil {
		return classify("deleting from "+coll, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("deleting from %s: %w", coll, ErrNotFound)
	}
	return nil
}

func byID(org, id bson.ObjectID) bson.D {
	return bson.D{{Key: "_id", Value: id}, {Key: "organization", Value: org}}
}
