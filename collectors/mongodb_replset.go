package collectors

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// replMember is one member of a replSetGetStatus reply, as the probed
// member sees it.
type replMember struct {
	Set, Name string
	State     int
	StateStr  string
	Self      bool
	// Healthy is false when the member reports health 0 or its last
	// heartbeat is stale: its optime is then old news.
	Healthy bool
	// Lag behind the primary in seconds, secondaries only; nil when
	// unknown: no primary, an unhealthy member, or no optime.
	Lag *float64
	doc bson.Raw
}

// staleHeartbeats is how many heartbeat intervals may pass before a
// member's status is considered out of date.
const staleHeartbeats = 2

// replSetMembers interprets a replSetGetStatus reply. A secondary's lag is
// the primary's optimeDate minus its own, never negative. Times are
// compared with the reply's own date, so the agent's clock plays no part.
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
		stateStr, _ := m.Lookup("stateStr").StringValueOK()
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
		members = append(members, replMember{Set: set, Name: name, State: int(state), StateStr: stateStr, Self: self, Healthy: healthy, doc: m})
		optimes = append(optimes, optimed{od, hasOptime && healthy})
		if state == memberStatePrimary && healthy && hasOptime && (!hasPrimary || od.After(primary)) {
			primary, hasPrimary = od, true
		}
	}
	if !hasPrimary {
		return members
	}
	for i := range members {
		// Only secondaries lag: the primary is the reference, an arbiter
		// holds no data, a recovering or rolling-back member is not
		// replicating (the mixin's lag alert selects SECONDARY too).
		if !optimes[i].ok || members[i].State != memberStateSecondary {
			continue
		}
		lag := max(primary.Sub(optimes[i].optime).Seconds(), 0)
		members[i].Lag = &lag
	}
	return members
}

// replSetStatusMetrics adds the series of a replSetGetStatus reply: the
// flattened reply (mongodb_rs_*, members labelled member_idx and
// member_state) and the compatible mode's mongodb_mongod_replset_*, whose
// members are labelled name, state, set and self as Percona's.
func replSetStatusMetrics(doc bson.Raw, out *mongoSeries, base []string) {
	f := &mongoFlattener{out: out, compatible: true}
	f.reply("replSetGetStatus", doc, base)

	set, _ := doc.Lookup("set").StringValueOK()
	members := replSetMembers(doc)
	gauge := func(name, help string, v float64, kv ...string) {
		out.add(prometheus.GaugeValue, name, help, v, kv...)
	}
	gauge("mongodb_mongod_replset_number_of_members", "The number of replica set members.", float64(len(members)), "set", set)
	if st, ok := doc.Lookup("myState").AsInt64OK(); ok {
		gauge("mongodb_mongod_replset_my_state", "An integer between 0 and 10 that represents the replica state of the current member", float64(st), "set", set)
	}
	for _, m := range members {
		self := "0"
		if m.Self {
			self = "1"
		}
		l := []string{"name", m.Name, "state", m.StateStr, "set", set, "self", self}
		if m.Self {
			gauge("mongodb_mongod_replset_my_name", "The replica state name of the current member.", 1, l...)
		}
		gauge("mongodb_mongod_replset_member_health", helpMemberHealth, boolToFloat(m.Healthy), l...)
		gauge("mongodb_mongod_replset_member_state", helpMemberState, float64(m.State), l...)
		if t, _, ok := m.doc.Lookup("electionTime").TimestampOK(); ok && t > 0 {
			gauge("mongodb_mongod_replset_member_election_date", "The timestamp the node was elected as replica leader", float64(t), l...)
		}
		if m.Lag != nil {
			gauge("mongodb_mongod_replset_member_replication_lag", helpMemberLag, *m.Lag, l...)
		}
		if ms, ok := m.doc.Lookup("pingMs").AsFloat64OK(); ok {
			gauge("mongodb_mongod_replset_member_ping_ms", "The pingMs represents the number of milliseconds (ms) that a round-trip packet takes to travel between the remote member and the local instance.", ms, l...)
		}
		if t, ok := m.doc.Lookup("lastHeartbeat").TimeOK(); ok {
			gauge("mongodb_mongod_replset_member_last_heartbeat", "The lastHeartbeat value provides an ISODate formatted date and time of the transmission time of last heartbeat received from this member.", float64(t.Unix()), l...)
		}
		if t, ok := m.doc.Lookup("lastHeartbeatRecv").TimeOK(); ok {
			gauge("mongodb_mongod_replset_member_last_heartbeat_recv", "The lastHeartbeatRecv value provides an ISODate formatted date and time that the last heartbeat was received from this member.", float64(t.Unix()), l...)
		}
		if v, ok := m.doc.Lookup("configVersion").AsFloat64OK(); ok && v > 0 {
			gauge("mongodb_mongod_replset_member_config_version", "The configVersion value is the replica set configuration version.", v, l...)
		}
	}
}

// oplogMetrics adds the newest and oldest oplog entry's time, whose
// difference is the oplog window PMM's replica set dashboard plots (one
// find each, reading a single entry's ts). A member without an oplog (an
// arbiter) or a user without read access to local has none.
func (p *mongoProber) oplogMetrics(ctx context.Context, c *mongo.Client, out *mongoSeries) {
	oplog := c.Database("local").Collection("oplog.rs")
	for _, end := range []struct {
		name, help string
		order      int
	}{
		{"mongodb_mongod_replset_oplog_head_timestamp", "The timestamp of the newest change in the oplog", -1},
		{"mongodb_mongod_replset_oplog_tail_timestamp", "The timestamp of the oldest change in the oplog", 1},
	} {
		opts := options.FindOne().SetSort(bson.D{{Key: "$natural", Value: end.order}}).SetProjection(bson.D{{Key: "ts", Value: 1}, {Key: "_id", Value: 0}})
		doc, err := oplog.FindOne(ctx, bson.D{}, opts).Raw()
		if err != nil {
			p.logger.Debug("mongodb oplog not readable", "err", scrub(err, p.secret))
			return
		}
		if t, ok := oplogTime(doc); ok {
			out.add(prometheus.GaugeValue, end.name, end.help, t)
		}
	}
}

// oplogTime is an oplog entry's ts in seconds since the epoch.
func oplogTime(entry bson.Raw) (float64, bool) {
	t, _, ok := entry.Lookup("ts").TimestampOK()
	return float64(t), ok && t > 0
}
