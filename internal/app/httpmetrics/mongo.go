package httpmetrics

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
)

const (
	poolIdle  = "idle"
	poolInUse = "in_use"
)

// mongoCommands are the label values of the command label, keyed by their
// lower-case form (the driver reports "isMaster" and "ismaster" alike);
// anything else is "other".
var mongoCommands = func() map[string]string {
	names := []string{
		"find", "insert", "update", "delete", "aggregate", "count", "distinct",
		"findAndModify", "getMore", "killCursors", "bulkWrite",
		"createIndexes", "dropIndexes", "listIndexes", "listCollections", "listDatabases",
		"create", "drop", "dropDatabase", "collMod", "renameCollection",
		"ping", "hello", "isMaster", "buildInfo", "serverStatus", "getParameter",
		"endSessions", "commitTransaction", "abortTransaction",
		"explain", "collStats", "dbStats", "saslStart", "saslContinue",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// NormalizeCommand returns the command label value for a MongoDB command name.
func NormalizeCommand(name string) string {
	if c, ok := mongoCommands[name]; ok { // already lower-case
		return c
	}
	if c, ok := mongoCommands[strings.ToLower(name)]; ok {
		return c
	}
	return "other"
}

// maxTrackedCommands bounds the started-command table: an entry is removed
// when its command finishes, so only a driver that never reports the end of
// a command could fill it; past the bound, entries older than
// staleCommandAge are swept and new commands go untracked (their metrics
// are still recorded, only the slow-operation log loses the collection).
const (
	maxTrackedCommands = 10000
	staleCommandAge    = 10 * time.Minute
)

type startedCommand struct {
	at                   time.Time
	database, collection string
}

type poolState struct {
	open, inUse int64
	max         uint64
}

type mongoState struct {
	started   sync.Map // request ID (int64) -> startedCommand
	tracked   atomic.Int64
	lastSweep atomic.Int64 // unix nanoseconds

	mu    sync.Mutex
	pools map[string]*poolState // by server address
}

func (s *mongoState) init() { s.pools = map[string]*poolState{} }

// MongoMonitors returns the monitors to set on the driver's client options
// (SetMonitor, SetPoolMonitor). The command monitor records every command's
// duration and failures and counts and logs those slower than the slow
// threshold; the pool monitor keeps the pool gauges.
func (m *Metrics) MongoMonitors() (*event.CommandMonitor, *event.PoolMonitor) {
	cmd := &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			m.commandStarted(e)
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			m.commandFinished(&e.CommandFinishedEvent, false, nil)
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			m.commandFinished(&e.CommandFinishedEvent, true, e.Failure)
		},
	}
	pool := &event.PoolMonitor{Event: m.poolEvent}
	return cmd, pool
}

func (m *Metrics) commandStarted(e *event.CommandStartedEvent) {
	if m.slowThreshold <= 0 {
		return // the table only serves the slow-operation log
	}
	s := &m.mongo
	now := time.Now()
	if s.tracked.Load() >= maxTrackedCommands {
		// Sweeping is O(table); at most once a minute.
		if last := s.lastSweep.Load(); now.UnixNano()-last > int64(time.Minute) && s.lastSweep.CompareAndSwap(last, now.UnixNano()) {
			s.sweep(now.Add(-staleCommandAge))
		}
		if s.tracked.Load() >= maxTrackedCommands {
			return
		}
	}
	sc := startedCommand{at: now, database: e.DatabaseName}
	// The first element names the command and, for CRUD commands, holds
	// the collection; getMore names it in "collection". The strings are
	// copied: the driver reuses the command's buffer.
	if el, err := e.Command.IndexErr(0); err == nil {
		if c, ok := el.Value().StringValueOK(); ok {
			sc.collection = strings.Clone(c)
		} else if v, err := e.Command.LookupErr("collection"); err == nil {
			if c, ok := v.StringValueOK(); ok {
				sc.collection = strings.Clone(c)
			}
		}
	}
	if _, loaded := s.started.LoadOrStore(e.RequestID, sc); !loaded {
		s.tracked.Add(1)
	}
}

func (s *mongoState) sweep(before time.Time) {
	s.started.Range(func(k, v any) bool {
		if v.(startedCommand).at.Before(before) {
			if _, ok := s.started.LoadAndDelete(k); ok {
				s.tracked.Add(-1)
			}
		}
		return true
	})
}

func (m *Metrics) commandFinished(e *event.CommandFinishedEvent, failed bool, failure error) {
	command := NormalizeCommand(e.CommandName)
	m.MongoCommandDuration.WithLabelValues(command).Observe(e.Duration.Seconds())
	if failed {
		m.MongoCommandFailures.WithLabelValues(command).Inc()
	}
	if m.slowThreshold <= 0 {
		return
	}
	var sc startedCommand
	if v, ok := m.mongo.started.LoadAndDelete(e.RequestID); ok {
		m.mongo.tracked.Add(-1)
		sc = v.(startedCommand)
	}
	if e.Duration < m.slowThreshold {
		return
	}
	m.MongoSlowOperations.WithLabelValues(command).Inc()
	attrs := []any{
		slog.String("command", e.CommandName),
		slog.String("database", e.DatabaseName),
		slog.String("collection", sc.collection),
		slog.Duration("duration", e.Duration),
		slog.Duration("threshold", m.slowThreshold),
		slog.Int64("request_id", e.RequestID),
	}
	if failure != nil {
		attrs = append(attrs, slog.Any("err", failure))
	}
	logger := m.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("slow mongodb command", attrs...)
}

// poolEvent keeps per-server connection counts and publishes their sums:
// open connections (created, not yet closed), of which in use (checked out,
// not yet checked in); idle is the difference.
func (m *Metrics) poolEvent(e *event.PoolEvent) {
	s := &m.mongo
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[e.Address]
	if p == nil {
		if e.Type == event.ConnectionPoolClosed {
			return
		}
		p = &poolState{}
		s.pools[e.Address] = p
	}
	switch e.Type {
	case event.ConnectionPoolCreated:
		if e.PoolOptions != nil {
			p.max = e.PoolOptions.MaxPoolSize
		}
	case event.ConnectionCreated:
		p.open++
	case event.ConnectionClosed:
		p.open = max(p.open-1, 0)
	case event.ConnectionCheckedOut:
		p.inUse++
	case event.ConnectionCheckedIn:
		p.inUse = max(p.inUse-1, 0)
	case event.ConnectionPoolClosed:
		delete(s.pools, e.Address)
	default:
		return
	}
	var open, inUse int64
	var maxConns uint64
	for _, p := range s.pools {
		open += p.open
		inUse += p.inUse
		maxConns += p.max
	}
	m.MongoPoolConnections.WithLabelValues(poolInUse).Set(float64(inUse))
	m.MongoPoolConnections.WithLabelValues(poolIdle).Set(float64(max(open-inUse, 0)))
	m.MongoPoolMax.Set(float64(maxConns))
}
