package collectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/auth"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/vigil-sh/vigil/internal/agent/config"
)

func init() { register(config.KindMongoDB, newMongoDB) }

const (
	mongoPoolSize = 2

	helpMongoUp   = "1 if the MongoDB server answered ping."
	helpMongoPing = "Round trip of the ping command of the last probe, in seconds."

	helpMemberHealth = "1 if the replica set member is healthy and its heartbeat is fresh, as seen by the probed member."
	helpMemberState  = "The replica set member's state (1 primary, 2 secondary, 7 arbiter, 8 down, ...)."
	helpMemberLag    = "Seconds the member's last applied operation is behind the primary's."
)

// Replica set member states (MongoDB's rs.status() stateStr).
const (
	memberStatePrimary = 1
)

// mongoStatusMetric maps a serverStatus path to the metric Percona's
// mongodb_exporter derives from it (its "ss" prefix: serverStatus), so its
// dashboards work unchanged. Values are exported as the server reports
// them: mem.resident is in MiB, uptime in seconds.
type mongoStatusMetric struct {
	path []string
	name string
	help string
	// label and values: one series per listed subfield of path, labelled
	// label=subfield. Only listed subfields, so labels stay bounded.
	label  string
	values []string
}

// mongoStatusMetrics is the serverStatus → metric table. Connections and
// opcounters are untyped, as in the Percona exporter, because a family
// mixes gauges (current) and counters (totalCreated) under one name.
var mongoStatusMetrics = []mongoStatusMetric{
	{path: []string{"uptime"}, name: "mongodb_ss_uptime", help: "serverStatus.uptime: seconds since the server started."},
	{path: []string{"mem", "resident"}, name: "mongodb_ss_mem_resident", help: "serverStatus.mem.resident: resident memory in MiB."},
	{
		path: []string{"connections"}, name: "mongodb_ss_connections", help: "serverStatus.connections by conn_type.",
		label: "conn_type", values: []string{"current", "available", "totalCreated", "active"},
	},
	{
		path: []string{"opcounters"}, name: "mongodb_ss_opcounters", help: "serverStatus.opcounters: operations since start by legacy_op_type.",
		label: "legacy_op_type", values: []string{"insert", "query", "update", "delete", "getmore", "command"},
	},
}

// serverStatusCommand leaves out the sections the probe does not read: on
// a busy mongod, wiredTiger, metrics and locks are most of a reply of tens
// of kilobytes, fetched every probe.
var serverStatusCommand = bson.D{
	{Key: "serverStatus", Value: 1},
	{Key: "wiredTiger", Value: 0},
	{Key: "metrics", Value: 0},
	{Key: "locks", Value: 0},
	{Key: "tcmalloc", Value: 0},
	{Key: "repl", Value: 0},
	{Key: "transactions", Value: 0},
	{Key: "flowControl", Value: 0},
	{Key: "storageEngine", Value: 0},
}

// mongoProber keeps one mongo.Client (a small pool plus the driver's own
// server monitoring) per target for the life of the target. The driver
// reconnects by itself after an outage, so unlike a client per scrape it
// neither floods the server's logs with connection churn nor pays a
// handshake and SCRAM exchange every probe.
type mongoProber struct {
	name    string
	uri     string
	safeURI string // for errors and logs
	secret  string // the URI's password, scrubbed from driver errors
	direct  bool   // connect to the one host only, not its replica set
	timeout time.Duration
	logger  *slog.Logger

	mu      sync.Mutex
	client  *mongo.Client
	pending *mongoConnect
	closed  bool
}

func newMongoDB(t config.Target, logger *slog.Logger) (Prober, error) {
	if t.MongoDB == nil {
		return nil, fmt.Errorf("target %q: missing mongodb block", t.Name)
	}
	uri := t.MongoDB.URI
	if t.MongoDB.URIFile != "" {
		b, err := os.ReadFile(t.MongoDB.URIFile)
		if err != nil {
			return nil, fmt.Errorf("target %q: reading mongodb uri_file %s: %w", t.Name, t.MongoDB.URIFile, err)
		}
		uri = strings.TrimSpace(string(b))
	}
	if uri == "" {
		return nil, fmt.Errorf("target %q: mongodb uri is empty", t.Name)
	}
	safe, secret := redactMongoURI(uri)
	direct := false
	switch {
	case strings.HasPrefix(uri, "mongodb+srv://"):
		// Parsing an SRV URI resolves it: that waits for the first probe,
		// which bounds it by its deadline.
	case strings.HasPrefix(uri, "mongodb://"):
		cs, err := connstring.ParseAndValidate(uri)
		if err != nil {
			return nil, fmt.Errorf("target %q: parsing mongodb uri %s: %w", t.Name, safe, scrub(err, secret))
		}
		// A single host is probed as that member, as Percona's exporter
		// does by default, not as a door to its replica set's primary.
		direct = len(cs.Hosts) == 1 && cs.ReplicaSet == "" && !cs.DirectConnectionSet && !cs.ConnectSet && !cs.LoadBalanced
	default:
		return nil, fmt.Errorf("target %q: parsing mongodb uri %s: scheme must be mongodb:// or mongodb+srv://", t.Name, safe)
	}
	timeout := time.Duration(t.Timeout)
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &mongoProber{name: t.Name, uri: uri, safeURI: safe, secret: secret, direct: direct, timeout: timeout, logger: logger}, nil
}

// redactMongoURI returns the URI without its password and query (whose
// options may carry key passwords or tokens), and the password itself.
// url.URL cannot parse a multi-host mongodb:// URI, hence the hand parsing.
func redactMongoURI(uri string) (safe, password string) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "<unparseable mongodb uri>", ""
	}
	rest, _, _ = strings.Cut(rest, "?")
	hostEnd := strings.Index(rest, "/")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	if at := strings.LastIndex(rest[:hostEnd], "@"); at >= 0 {
		user, pw, hasPW := strings.Cut(rest[:at], ":")
		if hasPW {
			password = pw
			user += ":xxxxx"
		}
		rest = user + "@" + rest[at+1:]
	}
	return scheme + "://" + rest, password
}

// scrubbedError hides a secret the driver may have echoed, keeping the
// chain for errors.Is and errors.As.
type scrubbedError struct {
	err    error
	secret string
}

func (e *scrubbedError) Error() string { return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx") }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrub(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	return &scrubbedError{err: err, secret: secret}
}

// clientOptions are the options of the target's one client: a small pool,
// and server selection and dialing bounded by the probe timeout.
func (p *mongoProber) clientOptions() *options.ClientOptions {
	opts := options.Client().ApplyURI(p.uri).
		SetAppName("vigil-agent").
		SetMaxPoolSize(mongoPoolSize).
		SetMinPoolSize(0).
		SetServerSelectionTimeout(p.timeout).
		SetConnectTimeout(p.timeout)
	if p.direct {
		opts.SetDirect(true)
	}
	return opts
}

// mongoConnect is one creation of the client, which the probes waiting
// for it share.
type mongoConnect struct {
	done   chan struct{}
	client *mongo.Client
	err    error
}

// conn returns the target's client, creating it on first use. Creating it
// does no network I/O except resolving a mongodb+srv:// URI, which may
// hang: it runs aside so the probe still returns by its deadline.
func (p *mongoProber) conn(ctx context.Context) (*mongo.Client, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("mongodb %s: prober closed", p.safeURI)
	}
	if p.client != nil {
		c := p.client
		p.mu.Unlock()
		return c, nil
	}
	pending := p.pending
	if pending == nil {
		pending = &mongoConnect{done: make(chan struct{})}
		p.pending = pending
		go p.connect(pending)
	}
	p.mu.Unlock()

	select {
	case <-pending.done:
		if pending.err != nil {
			return nil, fmt.Errorf("mongodb %s: creating client: %w", p.safeURI, scrub(pending.err, p.secret))
		}
		return pending.client, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("mongodb %s: creating client: %w", p.safeURI, ctx.Err())
	}
}

func (p *mongoProber) connect(pending *mongoConnect) {
	c, err := mongo.Connect(p.clientOptions())
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = nil
	pending.client, pending.err = c, err
	if err == nil {
		if p.closed {
			// Closed meanwhile: nobody will use or release it but us.
			pending.client, pending.err = nil, fmt.Errorf("prober closed")
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
				defer cancel()
				_ = c.Disconnect(ctx)
			}()
		} else {
			p.client = c
		}
	}
	close(pending.done)
}

func (p *mongoProber) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	err := p.client.Disconnect(ctx)
	p.client = nil
	if err != nil {
		return fmt.Errorf("closing mongodb %s: %w", p.safeURI, scrub(err, p.secret))
	}
	return nil
}

func (p *mongoProber) Probe(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	s := newSink()
	res := p.probe(ctx, s)
	s.gauge("mongodb_up", helpMongoUp, boolToFloat(res.Success))
	return finishProbe(s, start, res.Reason, res.Err, p.logger)
}

func (p *mongoProber) probe(ctx context.Context, s *sink) Result {
	c, err := p.conn(ctx)
	if err != nil {
		return Result{Reason: mongoConnectReason(err), Err: err}
	}
	admin := c.Database("admin")
	pingStart := time.Now()
	if _, err := runCommand(ctx, admin, bson.D{{Key: "ping", Value: 1}}); err != nil {
		return p.failure("ping", err)
	}
	s.gauge("mongodb_ping_latency_seconds", helpMongoPing, time.Since(pingStart).Seconds())

	status, err := p.command(ctx, admin, serverStatusCommand)
	if err != nil {
		return p.failure("serverStatus", err)
	}
	if status != nil {
		serverStatusMetrics(status, s)
	}
	rs, err := p.command(ctx, admin, bson.D{{Key: "replSetGetStatus", Value: 1}})
	if err != nil {
		return p.failure("replSetGetStatus", err)
	}
	if rs != nil {
		replSetMetrics(replSetMembers(rs), s)
	}
	return Result{Success: true}
}

func (p *mongoProber) failure(cmd string, err error) Result {
	return Result{Reason: mongoReason(err), Err: fmt.Errorf("mongodb %s: %s: %w", p.safeURI, cmd, scrub(err, p.secret))}
}

// command runs an admin command. A server that lacks it — FerretDB and
// standalone servers have no replica set, a monitoring user may lack the
// role — yields nil and no error: the probe reports fewer series, not a
// failure.
func (p *mongoProber) command(ctx context.Context, db *mongo.Database, cmd bson.D) (bson.Raw, error) {
	raw, err := runCommand(ctx, db, cmd)
	if err == nil {
		return raw, nil
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) && unsupportedCommand(ce) {
		p.logger.Debug("mongodb command unavailable", "command", cmd[0].Key, "code", ce.Code, "err", scrub(err, p.secret))
		return nil, nil
	}
	return nil, err
}

// runCommand runs cmd, once more if a pooled connection turns out to
// be dead (the server restarted since the last probe): the driver has then
// cleared its pool and the retry dials afresh. The client's stale
// connection is not an outage; a second network error is.
func runCommand(ctx context.Context, db *mongo.Database, cmd bson.D) (bson.Raw, error) {
	raw, err := db.RunCommand(ctx, cmd).Raw()
	if err != nil && mongo.IsNetworkError(err) && !mongo.IsTimeout(err) && ctx.Err() == nil {
		raw, err = db.RunCommand(ctx, cmd).Raw()
	}
	return raw, err
}

// unsupportedCommand reports errors that mean "this server cannot answer
// that command", as opposed to the server failing.
func unsupportedCommand(ce mongo.CommandError) bool {
	switch ce.Code {
	case 13, // Unauthorized: the monitoring user lacks clusterMonitor
		59,  // CommandNotFound
		76,  // NoReplicationEnabled: "not running with --replSet"
		94,  // NotYetInitialized: replica set not initiated
		115, // CommandNotSupported
		238: // NotImplemented (FerretDB)
		return true
	}
	return ce.Name == "CommandNotFound" || ce.Name == "NotImplemented" ||
		strings.Contains(ce.Message, "not running with --replSet") ||
		strings.Contains(strings.ToLower(ce.Message), "not implemented")
}

// mongoConnectReason classifies a failure to create the client: a
// deadline or an unresolvable SRV name, else a bad URI.
func mongoConnectReason(err error) string {
	if r := classify(err); r == ReasonTimeout || r == ReasonDNS {
		return r
	}
	return ReasonConfig
}

// mongoReason classifies a driver error. A server selection timeout says
// little by itself; the topology's last heartbeat error says why.
func mongoReason(err error) string {
	var authErr *auth.Error
	if errors.As(err, &authErr) {
		return ReasonAuth
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) && (ce.Code == 18 || ce.Code == 13) { // AuthenticationFailed, Unauthorized
		return ReasonAuth
	}
	var sse topology.ServerSelectionError
	if errors.As(err, &sse) {
		for _, srv := range sse.Desc.Servers {
			if srv.LastError == nil {
				continue
			}
			if r := mongoReason(srv.LastError); r != ReasonTimeout && r != ReasonOther {
				return r
			}
		}
	}
	if r := classify(err); r != ReasonOther {
		return r
	}
	switch {
	case mongo.IsTimeout(err):
		return ReasonTimeout
	case mongo.IsNetworkError(err):
		return ReasonConnect
	case errors.As(err, &ce):
		return ReasonProtocol
	}
	return ReasonOther
}

// serverStatusMetrics adds the series of mongoStatusMetrics found in a
// serverStatus reply. Missing fields (FerretDB reports few) are skipped.
func serverStatusMetrics(doc bson.Raw, s *sink) {
	for _, m := range mongoStatusMetrics {
		v, err := doc.LookupErr(m.path...)
		if err != nil {
			continue
		}
		if m.label == "" {
			if f, ok := v.AsFloat64OK(); ok {
				s.gauge(m.name, m.help, f)
			}
			continue
		}
		sub, ok := v.DocumentOK()
		if !ok {
			continue
		}
		for _, k := range m.values {
			if f, ok := sub.Lookup(k).AsFloat64OK(); ok {
				s.add(prometheus.UntypedValue, m.name, m.help, f, m.label, k)
			}
		}
	}
}

// replMember is one member of a replSetGetStatus reply, as the probed
// member sees it.
type replMember struct {
	Set, Name string
	State     int
	// Healthy is false when the member reports health 0 or its last
	// heartbeat is stale: its optime is then old news.
	Healthy bool
	// Lag behind the primary in seconds; nil when unknown: no primary,
	// an unhealthy member, or no optime (arbiters).
	Lag *float64
}

// staleHeartbeats is how many heartbeat intervals may pass before a
// member's status is considered out of date.
const staleHeartbeats = 2

// replSetMembers interprets a replSetGetStatus reply. Lag is the primary's
// optimeDate minus the member's, never negative, 0 for the primary. Times
// are compared with the reply's own date, so the agent's clock plays no
// part.
func replSetMembers(doc bson.Raw) []replMember {
	set, _ := doc.Lookup("set").StringValueOK()
	now, hasNow := doc.Lookup("date").TimeOK()
	interval := 2 * time.Second
	if ms, ok := doc.Lookup("heartbeatIntervalMillis").AsInt64OK(); ok && ms > 0 {
		interval = time.Duration(ms) * time.Millisecond
	}
	arr, ok := doc.Lookup("members").ArrayOK()
	if !ok {
		return nil
	}
	vals, err := arr.Values()
	if err != nil {
		return nil
	}
	type optimed struct {
		optime time.Time
		ok     bool
	}
	members := make([]replMember, 0, len(vals))
	optimes := make([]optimed, 0, len(vals))
	var primary time.Time
	hasPrimary := false
	for _, v := range vals {
		m, ok := v.DocumentOK()
		if !ok {
			continue
		}
		name, _ := m.Lookup("name").StringValueOK()
		state, _ := m.Lookup("state").AsInt64OK()
		health, hasHealth := m.Lookup("health").AsFloat64OK()
		self, _ := m.Lookup("self").BooleanOK()
		healthy := !hasHealth || health == 1
		if !self && hasNow {
			// The probed member answers for itself; others are as fresh
			// as their last heartbeat.
			hb, ok := m.Lookup("lastHeartbeat").TimeOK()
			if !ok || hb.Unix() <= 0 || now.Sub(hb) > staleHeartbeats*interval {
				healthy = false
			}
		}
		od, hasOptime := m.Lookup("optimeDate").TimeOK()
		hasOptime = hasOptime && od.Unix() > 0
		members = append(members, replMember{Set: set, Name: name, State: int(state), Healthy: healthy})
		optimes = append(optimes, optimed{od, hasOptime && healthy})
		if state == memberStatePrimary && healthy && hasOptime && (!hasPrimary || od.After(primary)) {
			primary, hasPrimary = od, true
		}
	}
	if !hasPrimary {
		return members
	}
	for i := range members {
		if !optimes[i].ok {
			continue
		}
		lag := max(primary.Sub(optimes[i].optime).Seconds(), 0)
		if members[i].State == memberStatePrimary {
			lag = 0
		}
		members[i].Lag = &lag
	}
	return members
}

func replSetMetrics(members []replMember, s *sink) {
	for _, m := range members {
		s.gauge("mongodb_mongod_replset_member_health", helpMemberHealth, boolToFloat(m.Healthy), "set", m.Set, "name", m.Name)
		s.gauge("mongodb_mongod_replset_member_state", helpMemberState, float64(m.State), "set", m.Set, "name", m.Name)
		if m.Lag != nil {
			s.gauge("mongodb_mongod_replset_member_replication_lag", helpMemberLag, *m.Lag, "set", m.Set, "name", m.Name)
		}
	}
}
