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
	"log/slog"
	"net/url"
	"sync/atomic"
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
	// ErrCorrupt means a stored document fails the checks the API applies
	// on input (written by an older version or by hand): lists skip it,
	// a read of it alone fails with this error.
	ErrCorrupt = errors.New("stored document is invalid")
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
	collSessions    = "sessions"
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
	// Logger receives the store's own reports (skipped invalid documents,
	// index problems); default slog.Default().
	Logger *slog.Logger
}

// Store is the app's MongoDB data access.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	timeout time.Duration
	log     *slog.Logger

	indexesReady   atomic.Bool
	indexConflicts atomic.Int64
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
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Store{client: c, db: c.Database(o.Database), timeout: o.Timeout, log: logger}, nil
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
// no-op, so this runs at every start. It tries every index even when one
// fails, and marks the store ready (IndexesReady) only once all exist. A
// unique index that existing documents violate is ErrIndexConflict, logged
// with the ids of the offending documents.
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
		collSessions: {
			{Keys: asc("user")},
		},
	}
	var errs []error
	conflicts := 0
	// One at a time: FerretDB v1 drops the connection on a createIndexes
	// of several indexes that all exist already.
	for _, coll := range []string{collUsers, collProjects, collTasks, collTimeEntries, collSessions} {
		for _, spec := range specs[coll] {
			ctx, cancel := s.opContext(ctx)
			_, err := s.db.Collection(coll).Indexes().CreateOne(ctx, spec)
			if err != nil && spec.Options != nil && !unavailable(err) {
				// A unique index refused: find out whether existing data
				// is why, and name the documents.
				dups, derr := s.duplicates(ctx, coll, spec.Keys.(bson.D))
				if derr != nil {
					s.log.WarnContext(ctx, "looking for documents that violate a unique index", "collection", coll, "err", derr)
				}
				if len(dups) > 0 {
					conflicts++
					s.log.ErrorContext(ctx, "unique index cannot be built: existing documents violate it; fix the data, the index is retried",
						"collection", coll, "keys", fmt.Sprint(spec.Keys), "duplicate_ids", dups)
					err = fmt.Errorf("%w: %w", ErrIndexConflict, err)
				}
			}
			cancel()
			if err != nil {
				err = classify(fmt.Sprintf("creating index %v on %s", spec.Keys, coll), err)
				if errors.Is(err, ErrUnavailable) {
					// The others would wait out the same timeout.
					return err
				}
				errs = append(errs, err)
			}
		}
	}
	s.indexConflicts.Store(int64(conflicts))
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.indexesReady.Store(true)
	return nil
}

// ErrIndexConflict means a unique index cannot be built because existing
// documents violate it.
var ErrIndexConflict = errors.New("existing documents violate a unique index")

// maxReportedDuplicates bounds the ids logged per index.
const maxReportedDuplicates = 100

// duplicates returns the ids of documents sharing a value of keys, grouped
// per value (the values themselves, emails, are not returned: they are
// personal data and the ids suffice to find them).
func (s *Store) duplicates(ctx context.Context, coll string, keys bson.D) ([][]string, error) {
	// FerretDB v1 has no $push: find the duplicated values first, then
	// their documents.
	var groupID any = "$" + keys[0].Key
	if len(keys) > 1 {
		d := bson.D{}
		for _, k := range keys {
			d = append(d, bson.E{Key: k.Key, Value: "$" + k.Key})
		}
		groupID = d
	}
	cur, err := s.db.Collection(coll).Aggregate(ctx, mongo.Pipeline{
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: groupID}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
		{{Key: "$match", Value: bson.D{{Key: "n", Value: bson.D{{Key: "$gt", Value: 1}}}}}},
		{{Key: "$limit", Value: maxReportedDuplicates}},
	})
	if err != nil {
		return nil, classify("finding duplicates in "+coll, err)
	}
	var groups []bson.Raw
	if err := cur.All(ctx, &groups); err != nil {
		return nil, classify("reading duplicates in "+coll, err)
	}
	out := make([][]string, 0, len(groups))
	for _, g := range groups {
		value := g.Lookup("_id")
		filter := bson.D{}
		if len(keys) == 1 {
			filter = append(filter, bson.E{Key: keys[0].Key, Value: value})
		} else {
			for _, k := range keys {
				filter = append(filter, bson.E{Key: k.Key, Value: value.Document().Lookup(k.Key)})
			}
		}
		docs, err := s.db.Collection(coll).Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(maxReportedDuplicates))
		if err != nil {
			return nil, classify("finding duplicates in "+coll, err)
		}
		var rows []bson.Raw
		if err := docs.All(ctx, &rows); err != nil {
			return nil, classify("reading duplicates in "+coll, err)
		}
		ids := make([]string, 0, len(rows))
		for _, r := range rows {
			ids = append(ids, docID(r))
		}
		out = append(out, ids)
	}
	return out, nil
}

// IndexesReady reports whether every index exists: until then writes that
// rely on a unique index (registrations) could create duplicates.
func (s *Store) IndexesReady() bool { return s.indexesReady.Load() }

// IndexConflicts is the number of unique indexes that existing documents
// kept from being built at the last attempt.
func (s *Store) IndexConflicts() int { return int(s.indexConflicts.Load()) }

// CheckIndexes is a health probe: nil once every index exists.
func (s *Store) CheckIndexes(context.Context) error {
	switch {
	case s.IndexesReady():
		return nil
	case s.IndexConflicts() > 0:
		return fmt.Errorf("%d unique index(es) cannot be built: duplicate documents (ids in the error log)", s.IndexConflicts())
	}
	return errors.New("indexes not yet created")
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

// list runs a paginated find with a count of all matches. A document that
// does not decode or fails its checks is logged with its id and skipped,
// so that one bad document cannot break the whole list (total still
// counts it).
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
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		var v T
		err := cur.Decode(&v)
		if err == nil {
			err = check(&v)
		}
		if err != nil {
			s.log.ErrorContext(ctx, "skipping invalid stored document", "collection", coll, "id", docID(cur.Current), "err", err)
			continue
		}
		items = append(items, v)
	}
	if err := cur.Err(); err != nil {
		return nil, 0, classify("reading "+coll, err)
	}
	return items, total, nil
}

// checker is implemented by documents with invariants beyond decoding.
type checker interface{ check() error }

func check(v any) error {
	if c, ok := v.(checker); ok {
		if err := c.check(); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	return nil
}

func docID(raw bson.Raw) string {
	v, err := raw.LookupErr("_id")
	if err != nil {
		return "<none>"
	}
	if id, ok := v.ObjectIDOK(); ok {
		return id.Hex()
	}
	return truncate(v.String(), 40)
}

func getOne[T any](ctx context.Context, s *Store, coll string, filter bson.D, opts ...options.Lister[options.FindOneOptions]) (*T, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	res := s.db.Collection(coll).FindOne(ctx, filter, opts...)
	var v T
	if err := res.Decode(&v); err != nil {
		return nil, classify("finding in "+coll, err)
	}
	if err := check(&v); err != nil {
		raw, _ := res.Raw()
		return nil, fmt.Errorf("reading %s %s: %w", coll, docID(raw), err)
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
	res := s.db.Collection(coll).FindOneAndUpdate(ctx, filter, setUnset(set),
		options.FindOneAndUpdate().SetReturnDocument(options.After))
	if err := res.Decode(&v); err != nil {
		return nil, classify("updating "+coll, err)
	}
	if err := check(&v); err != nil {
		raw, _ := res.Raw()
		return nil, fmt.Errorf("updated %s %s: %w", coll, docID(raw), err)
	}
	return &v, nil
}

// setUnset turns fields set to a nil pointer (a cleared optional field)
// into $unset, the rest into $set.
func setUnset(fields bson.D) bson.D {
	set, unset := bson.D{}, bson.D{}
	for _, e := range fields {
		switch v := e.Value.(type) {
		case *time.Time:
			if v == nil {
				unset = append(unset, bson.E{Key: e.Key, Value: ""})
				continue
			}
		case *bson.ObjectID:
			if v == nil {
				unset = append(unset, bson.E{Key: e.Key, Value: ""})
				continue
			}
		}
		set = append(set, e)
	}
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	return update
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

// ProjectExists answers nil if org has the project, ErrNotFound if not.
// It reads only the id, so a project with an invalid stored field still
// exists for its tasks and time entries.
func (s *Store) ProjectExists(ctx context.Context, org, id bson.ObjectID) error {
	_, err := getOne[struct {
		ID bson.ObjectID `bson:"_id"`
	}](ctx, s, collProjects, byID(org, id), options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	return err
}

// TaskProject returns the project of one of org's tasks, reading only
// that field (see ProjectExists).
func (s *Store) TaskProject(ctx context.Context, org, id bson.ObjectID) (bson.ObjectID, error) {
	t, err := getOne[struct {
		Project bson.ObjectID `bson:"project"`
	}](ctx, s, collTasks, byID(org, id), options.FindOne().SetProjection(bson.D{{Key: "project", Value: 1}}))
	if err != nil {
		return bson.ObjectID{}, err
	}
	return t.Project, nil
}
