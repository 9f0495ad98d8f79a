package collectors

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// This file turns server documents (serverStatus, replSetGetStatus, dbStats,
// $collStats, $indexStats) into series named exactly as Percona's
// mongodb_exporter names them (exporter/metrics.go): every numeric field
// becomes mongodb_<path>, with the path shortened by mongoPrefixes, some
// subdocuments turned into one family with a label (mongoLabelNodes), and,
// as its compatible mode does, the names of its v1 exporter added beside them
// (mongoCompatConversions, in mongodb_compat.go). Its dashboards and the
// mongodb-mixin select these names, camelCase and all, so they are kept as
// they are rather than linted into new ones.

// mongoPrefixes shorten a path's head, first match wins (Percona's order).
var mongoPrefixes = [][2]string{
	{"serverStatus.wiredTiger.transaction", "ss_wt_txn"},
	{"serverStatus.wiredTiger", "ss_wt"},
	{"serverStatus.queues.execution", "ss_wt_concurrentTransactions"},
	{"serverStatus", "ss"},
	{"replSetGetStatus", "rs"},
	{"systemMetrics", "sys"},
	{"local.oplog.rs.stats.wiredTiger", "oplog_stats_wt"},
	{"local.oplog.rs.stats.storageStats.wiredTiger", "oplog_stats_wt"},
	{"local.oplog.rs.stats", "oplog_stats"},
	{"local.oplog.rs.stats.storageStats", "oplog_stats"},
	{"collstats_storage.wiredTiger", "collstats_storage_wt"},
	{"collstats_storage.indexDetails", "collstats_storage_idx"},
	{"collStats.storageStats", "collstats_storage"},
	{"collStats.latencyStats", "collstats_latency"},
}

// mongoLabelNodes: the scalar fields directly under these paths are one
// family named for the path, the field name becoming the label's value
// (serverStatus.opcounters.insert → mongodb_ss_opcounters{legacy_op_type="insert"}).
var mongoLabelNodes = map[string]string{
	"collStats.storageStats.indexDetails.":                   "index_name",
	"globalLock.activeQueue.":                                "count_type",
	"globalLock.locks.":                                      "lock_type",
	"serverStatus.asserts.":                                  "assert_type",
	"serverStatus.connections.":                              "conn_type",
	"serverStatus.globalLock.currentQueue.":                  "count_type",
	"serverStatus.metrics.commands.":                         "cmd_name",
	"serverStatus.metrics.cursor.open.":                      "csr_type",
	"serverStatus.metrics.document.":                         "doc_op_type",
	"serverStatus.opLatencies.":                              "op_type",
	"serverStatus.opReadConcernCounters.":                    "concern_type",
	"serverStatus.opcounters.":                               "legacy_op_type",
	"serverStatus.opcountersRepl.":                           "legacy_op_type",
	"serverStatus.transactions.commitTypes.":                 "commit_type",
	"serverStatus.wiredTiger.concurrentTransactions.":        "txn_rw_type",
	"serverStatus.queues.execution.":                         "txn_rw_type",
	"serverStatus.wiredTiger.perf.":                          "perf_bucket",
	"systemMetrics.disks.":                                   "device_name",
	"collstats.storageStats.indexSizes.":                     "index_name",
	"config.transactions.stats.storageStats.indexSizes.":     "index_name",
	"config.image_collection.stats.storageStats.indexSizes.": "index_name",
}

// mongoKeyNodes: the subdocuments directly under these paths are folded
// into one set of families, their key becoming a label.
var mongoKeyNodes = map[string]string{
	"storageStats.indexDetails.":                               "index_name",
	"config.image_collection.stats.storageStats.indexDetails.": "index_name",
	"config.transactions.stats.storageStats.indexDetails.":     "index_name",
	"collstats.storageStats.indexDetails.":                     "index_name",
}

// mongoNotCounters hold fields ending in "count" that are not counters.
var mongoNotCounters = map[string]bool{"collstats.storageStats.indexSizes.": true}

var (
	mongoSpecialCharsRE = regexp.MustCompile(`[^a-zA-Z0-9_]+`)
	mongoUnderscoresRE  = regexp.MustCompile(`__+`)
	mongoTrailingRE     = regexp.MustCompile(`\_$`)
)

// mongoNames caches mongoMetricName: the same few thousand paths recur
// every probe. Bounded, since paths come from the server.
var mongoNames = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

const mongoNameCacheMax = 50000

// mongoMetricName is Percona's prometheusize: shorten the head, replace
// anything outside [a-zA-Z0-9_] by "_", drop one trailing "_", squeeze
// runs of "_", drop one leading "_", prefix "mongodb_".
func mongoMetricName(path string) string {
	mongoNames.Lock()
	name, ok := mongoNames.m[path]
	mongoNames.Unlock()
	if ok {
		return name
	}
	s := path
	for _, p := range mongoPrefixes {
		if strings.HasPrefix(s, p[0]+".") {
			s = p[1] + strings.TrimPrefix(s, p[0])
			break
		}
	}
	s = mongoSpecialCharsRE.ReplaceAllString(s, "_")
	s = mongoTrailingRE.ReplaceAllString(s, "")
	s = mongoUnderscoresRE.ReplaceAllString(s, "_")
	s = "mongodb_" + strings.TrimPrefix(s, "_")
	mongoNames.Lock()
	if len(mongoNames.m) < mongoNameCacheMax {
		mongoNames.m[path] = s
	}
	mongoNames.Unlock()
	return s
}

// mongoRaw is one flattened value before renaming.
type mongoRaw struct {
	name, help string
	labels     []string // name/value pairs
	value      float64
	vt         prometheus.ValueType
}

// mongoSeries adds series to a sink, once each. Percona's exporter fails a
// scrape on a duplicate series, which some servers' documents produce (a
// field reported under two paths that map to one name); here the first
// wins, in document order. A family keeps the label names and the type of
// its first series, as a registry requires (Percona types a field by its
// name's ending, so a labelled family could mix counters and untyped).
type mongoSeries struct {
	s      *sink
	seen   map[string]bool
	labels map[string]string               // family → its label names
	types  map[string]prometheus.ValueType // family → its type
}

func newMongoSeries(s *sink) *mongoSeries {
	// Sized for a MongoDB 7 primary: about 400 series in 300 families.
	return &mongoSeries{s: s, seen: make(map[string]bool, 512), labels: make(map[string]string, 384), types: make(map[string]prometheus.ValueType, 384)}
}

func (m *mongoSeries) add(vt prometheus.ValueType, name, help string, v float64, kv ...string) {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue // an empty label is no label, as in Prometheus
		}
		pairs = append(pairs, pair{kv[i], kv[i+1]})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	var names, key strings.Builder
	key.WriteString(name)
	flat := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		names.WriteString(p.k)
		names.WriteByte(0)
		key.WriteByte(0)
		key.WriteString(p.k)
		key.WriteByte('=')
		key.WriteString(p.v)
		flat = append(flat, p.k, p.v)
	}
	if m.seen[key.String()] {
		return
	}
	if have, ok := m.labels[name]; ok && have != names.String() {
		return
	}
	if have, ok := m.types[name]; ok {
		vt = have
	}
	m.seen[key.String()] = true
	m.labels[name] = names.String()
	m.types[name] = vt
	m.s.add(vt, name, help, v, flat...)
}

// mongoFlattener walks documents as Percona's makeMetrics does.
type mongoFlattener struct {
	out *mongoSeries
	// compatible adds the v1 exporter's names (Percona's
	// --compatible-mode, which its dashboards and the mixin need).
	compatible bool
}

// doc flattens d under prefix ("" for the top level) with labels.
func (f *mongoFlattener) doc(prefix string, d bson.Raw, labels []string) {
	if prefix != "" {
		prefix += "."
	}
	elems, err := d.Elements()
	if err != nil {
		return
	}
	for _, e := range elems {
		k := e.Key()
		next := prefix + k
		if mongoHistogramPath(next) {
			continue
		}
		l := labels
		if label, ok := mongoKeyNodes[prefix]; ok {
			l = withLabel(labels, label, k)
			next = prefix + label
		}
		v := e.Value()
		switch v.Type {
		case bson.TypeEmbeddedDocument:
			f.doc(next, v.Document(), l)
		case bson.TypeArray:
			f.array(next, v.Array(), l)
		default:
			f.value(prefix, k, v, l)
		}
	}
}

// reply flattens a command's reply under name, leaving out the reply's
// envelope: Percona reads serverStatus and replSetGetStatus from
// getDiagnosticData, whose sections have none.
func (f *mongoFlattener) reply(name string, d bson.Raw, labels []string) {
	elems, err := d.Elements()
	if err != nil {
		return
	}
	for _, e := range elems {
		switch e.Key() {
		case "$clusterTime", "operationTime", "$gleStats", "lastCommittedOpTime", "$configServerState", "$topologyTime":
			continue
		}
		v := e.Value()
		switch v.Type {
		case bson.TypeEmbeddedDocument:
			f.doc(name+"."+e.Key(), v.Document(), labels)
		case bson.TypeArray:
			f.array(name+"."+e.Key(), v.Array(), labels)
		default:
			f.value(name+".", e.Key(), v, labels)
		}
	}
}

// array flattens the documents of an array (replica set members), each
// labelled by its name or host and state, as Percona's processSlice.
func (f *mongoFlattener) array(prefix string, a bson.RawArray, labels []string) {
	vals, err := a.Values()
	if err != nil {
		return
	}
	for _, v := range vals {
		d, ok := v.DocumentOK()
		if !ok {
			continue
		}
		l := labels
		idx := ""
		if name, ok := d.Lookup("name").StringValueOK(); ok {
			idx = name
		}
		if host, ok := d.Lookup("host").StringValueOK(); ok {
			idx = host
		}
		if idx != "" {
			l = withLabel(l, "member_idx", idx)
		}
		if state, ok := d.Lookup("stateStr").StringValueOK(); ok {
			l = withLabel(l, "member_state", state)
		}
		f.doc(prefix, d, l)
	}
}

func mongoHistogramPath(p string) bool {
	return p == "histograms" || strings.Contains(p, ".histograms.") || strings.HasSuffix(p, ".histograms")
}

// withLabel returns labels plus k=v, replacing an earlier k, never
// sharing the backing array with labels.
func withLabel(labels []string, k, v string) []string {
	out := make([]string, 0, len(labels)+2)
	for i := 0; i+1 < len(labels); i += 2 {
		if labels[i] != k {
			out = append(out, labels[i], labels[i+1])
		}
	}
	return append(out, k, v)
}

// mongoFloat is Percona's asFloat64: numbers, booleans as 0/1, dates in
// milliseconds since the epoch, timestamps as their seconds. Anything else
// (strings, ids, binary, decimals) is no series.
func mongoFloat(v bson.RawValue) (float64, bool) {
	switch v.Type {
	case bson.TypeDouble, bson.TypeInt32, bson.TypeInt64:
		return v.AsFloat64OK()
	case bson.TypeBoolean:
		return boolToFloat(v.Boolean()), true
	case bson.TypeDateTime:
		return float64(v.DateTime()), true
	case bson.TypeTimestamp:
		t, _ := v.Timestamp()
		return float64(t), true
	}
	return 0, false
}

// value adds the series of one scalar field, as Percona's
// appendMetricValue: its own name (or the special conversion's), then in
// compatible mode the v1 names.
func (f *mongoFlattener) value(prefix, name string, v bson.RawValue, labels []string) {
	val, ok := mongoFloat(v)
	if !ok {
		return
	}
	rm := mongoRaw{value: val, vt: prometheus.UntypedValue}
	if label, ok := mongoLabelNodes[prefix]; ok {
		rm.name = mongoMetricName(prefix)
		rm.help = strings.TrimSuffix(prefix, ".")
		rm.labels = withLabel(labels, label, name)
	} else {
		rm.name = mongoMetricName(prefix + name)
		rm.help = prefix + name
		rm.labels = labels
	}
	if !mongoNotCounters[prefix] && strings.HasSuffix(strings.ToLower(name), "count") {
		rm.vt = prometheus.CounterValue
	}
	raws := []mongoRaw{rm}
	if renamed := mongoRename(rm, mongoSpecialConversions); len(renamed) > 0 {
		raws = renamed
	}
	for _, r := range raws {
		f.out.add(r.vt, r.name, r.help, r.value, r.labels...)
		if f.compatible {
			for _, c := range mongoRename(r, mongoCompatConversions) {
				f.out.add(c.vt, c.name, c.help, c.value, c.labels...)
			}
		}
	}
}

// mongoConversion renames a flattened series, as Percona's conversion:
// either a series named newName gets oldName (its labels renamed by
// labelConversions and their values by labelValueConversions), or a series
// whose name starts with prefix and ends in one of suffixMapping's keys
// becomes oldName{suffixLabel=<mapped suffix>}.
type mongoConversion struct {
	oldName, newName      string
	labelConversions      map[string]string
	labelValueConversions map[string]string
	prefix, suffixLabel   string
	suffixMapping         map[string]string
}

func mongoRename(rm mongoRaw, convs []mongoConversion) []mongoRaw {
	var out []mongoRaw
	for _, c := range convs {
		switch {
		case c.newName != "" && rm.name == c.newName:
			labels := make([]string, 0, len(rm.labels))
			for i := 0; i+1 < len(rm.labels); i += 2 {
				k, v := rm.labels[i], rm.labels[i+1]
				if nk, ok := c.labelConversions[k]; ok {
					k = nk
				}
				if nv, ok := c.labelValueConversions[v]; ok {
					v = nv
				}
				labels = append(labels, k, v)
			}
			out = append(out, mongoRaw{name: c.oldName, help: rm.help, labels: labels, value: rm.value, vt: rm.vt})
		case c.prefix != "" && strings.HasPrefix(rm.name, c.prefix):
			suffix := strings.TrimPrefix(strings.TrimPrefix(rm.name, c.prefix), "_")
			if mapped, ok := c.suffixMapping[suffix]; ok {
				out = append(out, mongoRaw{name: c.oldName, help: c.oldName, labels: []string{c.suffixLabel, mapped}, value: rm.value, vt: rm.vt})
			}
		}
	}
	return out
}

// mongoSpecialConversions replace the flattened series they match, in
// every mode (Percona's specialConversions, PMM-6506).
var mongoSpecialConversions = []mongoConversion{
	{oldName: "mongodb_ss_opLatencies_ops", prefix: "mongodb_ss_opLatencies", suffixLabel: "op_type", suffixMapping: map[string]string{
		"commands_ops": "commands", "reads_ops": "reads", "transactions_ops": "transactions", "writes_ops": "writes",
	}},
	{oldName: "mongodb_ss_opLatencies_latency", prefix: "mongodb_ss_opLatencies", suffixLabel: "op_type", suffixMapping: map[string]string{
		"commands_latency": "commands", "reads_latency": "reads", "transactions_latency": "transactions", "writes_latency": "writes",
	}},
	{oldName: "mongodb_ss_wt_concurrentTransactions_out", prefix: "mongodb_ss_wt_concurrentTransactions", suffixLabel: "txn_rw", suffixMapping: map[string]string{
		"read_out": "read", "write_out": "write",
	}},
	{oldName: "mongodb_ss_wt_concurrentTransactions_available", prefix: "mongodb_ss_wt_concurrentTransactions", suffixLabel: "txn_rw", suffixMapping: map[string]string{
		"read_available": "read", "write_available": "write",
	}},
	{oldName: "mongodb_ss_wt_concurrentTransactions_totalTickets", prefix: "mongodb_ss_wt_concurrentTransactions", suffixLabel: "txn_rw", suffixMapping: map[string]string{
		"read_totalTickets": "read", "write_totalTickets": "write",
	}},
}
