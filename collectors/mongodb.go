package collectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

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
	helpMemberLag    = "The replication lag that this member has with the primary."
)

// Replica set member states (MongoDB's rs.status() state).
const (
	memberStatePrimary   = 1
	memberStateSecondary = 2
	memberStateArbiter   = 7
)

// serverStatusCommand asks for every section, as Percona's exporter reads
// them all (through getDiagnosticData, which needs more privileges).
var serverStatusCommand = bson.D{{Key: "serverStatus", Value: 1}}

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
	stats   config.MongoDBStats
	logger  *slog.Logger

	mu      sync.Mutex
	client  *mongo.Client
	pending *mongoConnect
	closed  bool

	// build is the last buildInfo answer, asked again only when
	// serverStatus shows another process or version (buildKey).
	build    mongoBuild
	buildKey string
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
	return &mongoProber{name: t.Name, uri: uri, safeURI: safe, secret: secret, direct: direct, timeout: timeout, stats: t.MongoDB.Stats, logger: logger}, nil
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
	res, role := p.probe(ctx, s)
	// Percona's cluster_role, empty (which Prometheus stores as no label)
	// when the server's role is unknown, as after a failed probe.
	var kv []string
	if role != "" {
		kv = []string{"cluster_role", role}
	}
	s.gauge("mongodb_up", helpMongoUp, boolToFloat(res.Success), kv...)
	return finishProbe(s, start, res.Reason, res.Err, p.logger)
}

// probe adds the server's series to s and returns the result and, once
// the server answered serverStatus and replSetGetStatus, its cluster role.
func (p *mongoProber) probe(ctx context.Context, s *sink) (Result, string) {
	c, err := p.conn(ctx)
	if err != nil {
		return Result{Reason: mongoConnectReason(err), Err: err}, ""
	}
	admin := c.Database("admin")
	pingStart := time.Now()
	if _, err := runCommand(ctx, admin, bson.D{{Key: "ping", Value: 1}}); err != nil {
		return p.failure("ping", err), ""
	}
	s.gauge("mongodb_ping_latency_seconds", helpMongoPing, time.Since(pingStart).Seconds())

	status, err := p.command(ctx, admin, serverStatusCommand)
	if err != nil {
		return p.failure("serverStatus", err), ""
	}
	rs, err := p.command(ctx, admin, bson.D{{Key: "replSetGetStatus", Value: 1}})
	if err != nil {
		return p.failure("replSetGetStatus", err), ""
	}
	out := newMongoSeries(s)
	var build *mongoBuild
	if status != nil {
		if b, ok := p.buildInfo(ctx, admin, status); ok {
			build = &b
		}
	}
	base := mongoReplyMetrics(out, status, rs, build)
	if rs != nil {
		p.oplogMetrics(ctx, c, out)
	}
	p.statsMetrics(ctx, c, status, out, base)
	return Result{Success: true}, clusterRole(status, rs)
}

// clusterRole is mongodb_up's cluster_role as Percona's exporter derives
// it from isMaster: "arbiter" for an arbiter, "mongos" for a router,
// "mongod" for anything else (a shard server too, and FerretDB). The
// replies the probe has anyway say the same without another round trip:
// serverStatus names the process, replSetGetStatus the member's state.
func clusterRole(status, rs bson.Raw) string {
	if rs != nil {
		if state, ok := rs.Lookup("myState").AsInt64OK(); ok && state == memberStateArbiter {
			return "arbiter"
		}
	}
	if status != nil {
		if proc, _ := status.Lookup("process").StringValueOK(); strings.HasPrefix(proc, "mongos") {
			return "mongos"
		}
	}
	return "mongod"
}

// mongoReplyMetrics adds the series of the server's replies: serverStatus,
// replSetGetStatus and buildInfo, each nil when the server has none. It
// returns the topology labels, for the statistics' series.
func mongoReplyMetrics(out *mongoSeries, status, rs bson.Raw, build *mongoBuild) []string {
	base := topologyLabels(rs)
	if status != nil {
		serverStatusMetrics(status, out, base)
	}
	if build != nil {
		build.add(out)
	}
	if rs != nil {
		replSetStatusMetrics(rs, out, base)
	}
	return base
}

// buildInfo returns what buildInfo says, asking only when serverStatus
// shows a process or version other than last time's.
func (p *mongoProber) buildInfo(ctx context.Context, admin *mongo.Database, status bson.Raw) (mongoBuild, bool) {
	host, _ := status.Lookup("host").StringValueOK()
	version, _ := status.Lookup("version").StringValueOK()
	pid, _ := status.Lookup("pid").AsInt64OK()
	key := fmt.Sprintf("%s\x00%s\x00%d", host, version, pid)
	p.mu.Lock()
	b, cached := p.build, p.buildKey == key
	p.mu.Unlock()
	if cached {
		return b, true
	}
	doc, err := p.command(ctx, admin, bson.D{{Key: "buildInfo", Value: 1}})
	if err != nil || doc == nil {
		if err != nil {
			p.logger.Debug("mongodb buildInfo failed", "err", scrub(err, p.secret))
		}
		return mongoBuild{}, false
	}
	b = parseBuildInfo(doc)
	p.mu.Lock()
	p.build, p.buildKey = b, key
	p.mu.Unlock()
	return b, true
}

// topologyLabels are the labels Percona's exporter puts on every
// flattened series of a replica set member: its set's name and its state.
// A standalone server (or FerretDB) has none.
func topologyLabels(rs bson.Raw) []string {
	if rs == nil {
		return nil
	}
	set, _ := rs.Lookup("set").StringValueOK()
	state, ok := rs.Lookup("myState").AsInt64OK()
	if set == "" || !ok {
		return nil
	}
	return []string{"rs_nm", set, "rs_state", strconv.FormatInt(state, 10)}
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
