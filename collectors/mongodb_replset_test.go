package collectors

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestReplSetMembers(t *testing.T) {
	lag := func(v float64) *float64 { return &v }
	tests := []struct {
		fixture string
		want    []replMember
	}{
		{"replset_status.json", []replMember{
			// The primary is the reference: no lag series.
			{Set: "rs0", Name: "mongo-0.mongo:27017", State: 1, Healthy: true},
			{Set: "rs0", Name: "mongo-1.mongo:27017", State: 2, Healthy: true, Lag: lag(12)},
			// health 1, but its heartbeat is 30 s old: unhealthy, no lag.
			{Set: "rs0", Name: "mongo-2.mongo:27017", State: 2, Healthy: false},
		}},
		{"replset_status_from_secondary.json", []replMember{
			{Set: "rs0", Name: "mongo-0.mongo:27017", State: 1, Healthy: true},
			// Ahead of the primary's optime as last heard: clamped to 0.
			{Set: "rs0", Name: "mongo-1.mongo:27017", State: 2, Healthy: true, Lag: lag(0)},
			{Set: "rs0", Name: "mongo-2.mongo:27017", State: 2, Healthy: true, Lag: lag(12)},
		}},
		{"replset_status_no_primary.json", []replMember{
			{Set: "rs0", Name: "mongo-0.mongo:27017", State: 8, Healthy: false},
			{Set: "rs0", Name: "mongo-1.mongo:27017", State: 2, Healthy: true},
			{Set: "rs0", Name: "mongo-2.mongo:27017", State: 2, Healthy: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			got := replSetMembers(loadMongoFixture(t, tc.fixture))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d members %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Set != w.Set || g.Name != w.Name || g.State != w.State || g.Healthy != w.Healthy {
					t.Errorf("member %d = %+v, want %+v", i, g, w)
				}
				switch {
				case (g.Lag == nil) != (w.Lag == nil):
					t.Errorf("%s: lag %v, want %v", w.Name, fmtLag(g.Lag), fmtLag(w.Lag))
				case g.Lag != nil && *g.Lag != *w.Lag:
					t.Errorf("%s: lag %v, want %v", w.Name, *g.Lag, *w.Lag)
				}
			}

			// The metrics say the same, and only lag-known members have a
			// lag series.
			s := newSink()
			replSetStatusMetrics(loadMongoFixture(t, tc.fixture), newMongoSeries(s), nil)
			mfs := gatherProbe(t, Result{Families: s.families})
			for _, w := range tc.want {
				sel := []string{"set", w.Set, "name", w.Name}
				if h := mustValue(t, mfs, "mongodb_mongod_replset_member_health", sel...); h != boolToFloat(w.Healthy) {
					t.Errorf("%s: health %v", w.Name, h)
				}
				if st := mustValue(t, mfs, "mongodb_mongod_replset_member_state", sel...); st != float64(w.State) {
					t.Errorf("%s: state %v", w.Name, st)
				}
				v, ok := sampleValue(mfs, "mongodb_mongod_replset_member_replication_lag", sel...)
				if ok != (w.Lag != nil) || (ok && v != *w.Lag) {
					t.Errorf("%s: lag series %v (present %v), want %v", w.Name, v, ok, fmtLag(w.Lag))
				}
			}
		})
	}
}

func fmtLag(l *float64) string {
	if l == nil {
		return "none"
	}
	return model.SampleValue(*l).String()
}

// TestReplSetMembersEdges covers replies no fixture has: they must yield
// sensible series, never a panic or a negative lag.
func TestReplSetMembersEdges(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	member := func(name string, state int, health float64, optime, heartbeat time.Time, self bool) bson.D {
		d := bson.D{{Key: "name", Value: name}, {Key: "state", Value: int32(state)}, {Key: "health", Value: health}}
		if !optime.IsZero() {
			d = append(d, bson.E{Key: "optimeDate", Value: bson.NewDateTimeFromTime(optime)})
		}
		if !heartbeat.IsZero() {
			d = append(d, bson.E{Key: "lastHeartbeat", Value: bson.NewDateTimeFromTime(heartbeat)})
		}
		if self {
			d = append(d, bson.E{Key: "self", Value: true})
		}
		return d
	}
	tests := []struct {
		name     string
		doc      bson.D
		wantLags map[string]float64 // members with a lag series
		healthy  map[string]bool
	}{
		{
			name:    "no members",
			doc:     bson.D{{Key: "set", Value: "rs0"}, {Key: "date", Value: bson.NewDateTimeFromTime(now)}},
			healthy: map[string]bool{},
		},
		{
			name: "arbiter has no optime",
			doc: bson.D{{Key: "set", Value: "rs0"}, {Key: "date", Value: bson.NewDateTimeFromTime(now)}, {Key: "members", Value: bson.A{
				member("a", 1, 1, now.Add(-time.Second), time.Time{}, true),
				member("b", 7, 1, time.Time{}, now.Add(-time.Second), false),
			}}},
			healthy: map[string]bool{"a": true, "b": true},
		},
		{
			name: "default heartbeat interval 2s: 3s is fresh, 5s is stale",
			doc: bson.D{{Key: "set", Value: "rs0"}, {Key: "date", Value: bson.NewDateTimeFromTime(now)}, {Key: "members", Value: bson.A{
				member("p", 1, 1, now, time.Time{}, true),
				member("fresh", 2, 1, now.Add(-1500*time.Millisecond), now.Add(-3*time.Second), false),
				member("stale", 2, 1, now.Add(-time.Second), now.Add(-5*time.Second), false),
				member("never", 2, 1, now, time.Time{}, false),
			}}},
			wantLags: map[string]float64{"fresh": 1.5},
			healthy:  map[string]bool{"p": true, "fresh": true, "stale": false, "never": false},
		},
		{
			name: "longer heartbeat interval widens freshness",
			doc: bson.D{{Key: "set", Value: "rs0"}, {Key: "date", Value: bson.NewDateTimeFromTime(now)}, {Key: "heartbeatIntervalMillis", Value: int64(10000)}, {Key: "members", Value: bson.A{
				member("p", 1, 1, now, time.Time{}, true),
				member("s", 2, 1, now.Add(-4*time.Second), now.Add(-15*time.Second), false),
			}}},
			wantLags: map[string]float64{"s": 4},
			healthy:  map[string]bool{"p": true, "s": true},
		},
		{
			name: "unhealthy primary gives no lag",
			doc: bson.D{{Key: "set", Value: "rs0"}, {Key: "date", Value: bson.NewDateTimeFromTime(now)}, {Key: "members", Value: bson.A{
				member("p", 1, 0, now, now.Add(-time.Second), false),
				member("s", 2, 1, now.Add(-4*time.Second), time.Time{}, true),
			}}},
			healthy: map[string]bool{"p": false, "s": true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := bson.Marshal(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			got := replSetMembers(raw)
			if len(got) != len(tc.healthy) {
				t.Fatalf("got %d members %+v, want %d", len(got), got, len(tc.healthy))
			}
			for _, m := range got {
				if m.Healthy != tc.healthy[m.Name] {
					t.Errorf("%s: healthy %v, want %v", m.Name, m.Healthy, tc.healthy[m.Name])
				}
				want, wantLag := tc.wantLags[m.Name]
				switch {
				case wantLag != (m.Lag != nil):
					t.Errorf("%s: lag %s, want present=%v", m.Name, fmtLag(m.Lag), wantLag)
				case wantLag && *m.Lag != want:
					t.Errorf("%s: lag %v, want %v", m.Name, *m.Lag, want)
				}
			}
		})
	}
}

func TestOplogTime(t *testing.T) {
	tests := []struct {
		name   string
		entry  bson.D
		want   float64
		wantOK bool
	}{
		{"entry", bson.D{{Key: "ts", Value: bson.Timestamp{T: 1795607999, I: 3}}}, 1795607999, true},
		{"no ts", bson.D{{Key: "op", Value: "n"}}, 0, false},
		{"zero ts", bson.D{{Key: "ts", Value: bson.Timestamp{}}}, 0, false},
		{"ts of another type", bson.D{{Key: "ts", Value: int64(1795607999)}}, 0, false},
	}
	for _, tc := range tests {
		raw, err := bson.Marshal(tc.entry)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := oplogTime(raw); got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: oplogTime = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}
