package config

// MongoDBStats bounds the per-database and per-collection statistics of a
// MongoDB target. Each database costs one dbStats and each collection one
// $collStats and one $indexStats round trip every probe, so on a server
// with thousands of collections they are the probe's whole cost (the
// Percona exporter's best-known problem): collection statistics are opt-in
// and both are capped.
type MongoDBStats struct {
	// DBStats reports dbStats per database (mongodb_dbstats_*); default true.
	DBStats *bool `yaml:"dbstats"`
	// DBStatsLimit caps the databases asked per probe; 0 = the default.
	DBStatsLimit int `yaml:"dbstats_limit"`
	// CollStats reports $collStats per collection (mongodb_collstats_*).
	CollStats bool `yaml:"collstats"`
	// IndexStats reports $indexStats per collection (mongodb_indexstats_*).
	IndexStats bool `yaml:"indexstats"`
	// CollStatsLimit caps the collections asked per probe; 0 = the default.
	CollStatsLimit int `yaml:"collstats_limit"`
}

// Defaults and ceiling of the MongoDB statistics limits.
const (
	DefaultMongoDBStatsLimit = 100
	MaxMongoDBStatsLimit     = 10000
)

// DBStatsEnabled reports whether dbStats is asked (the default).
func (s MongoDBStats) DBStatsEnabled() bool { return s.DBStats == nil || *s.DBStats }

// DatabaseLimit is the effective dbstats_limit.
func (s MongoDBStats) DatabaseLimit() int { return orLimit(s.DBStatsLimit) }

// CollectionLimit is the effective collstats_limit.
func (s MongoDBStats) CollectionLimit() int { return orLimit(s.CollStatsLimit) }

func orLimit(n int) int {
	if n <= 0 {
		return DefaultMongoDBStatsLimit
	}
	return n
}

func (v *validator) mongodbStats(p string, s MongoDBStats) {
	limit := func(field string, n int, enabled bool, needs string) {
		switch {
		case n < 0 || n > MaxMongoDBStatsLimit:
			v.at(p+"."+field, "must be between 1 and %d (0 or unset: %d), got %d", MaxMongoDBStatsLimit, DefaultMongoDBStatsLimit, n)
		case n > 0 && !enabled:
			v.at(p+"."+field, "has no effect without %s", needs)
		}
	}
	limit("dbstats_limit", s.DBStatsLimit, s.DBStatsEnabled(), "dbstats")
	limit("collstats_limit", s.CollStatsLimit, s.CollStats || s.IndexStats, "collstats or indexstats")
}
