package collectors

import (
	"context"
	"errors"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// mongoSystemDBs hold no application collections; Percona's exporter
// leaves them out of collection statistics too.
var mongoSystemDBs = []string{"admin", "config", "local"}

// statsMetrics adds the per-database (dbStats) and, when configured,
// per-collection ($collStats, $indexStats) series, within the configured
// limits. Each is one round trip per database or collection; any failure
// here only leaves series out, since the server has already answered
// serverStatus.
func (p *mongoProber) statsMetrics(ctx context.Context, c *mongo.Client, status bson.Raw, out *mongoSeries, base []string) {
	collections := p.stats.CollStats || p.stats.IndexStats
	if !p.stats.DBStatsEnabled() && !collections {
		return
	}
	dbs, err := c.ListDatabaseNames(ctx, bson.D{}, options.ListDatabases().SetNameOnly(true).SetAuthorizedDatabases(true))
	if err != nil {
		p.logger.Debug("mongodb listDatabases failed: no database statistics", "err", scrub(err, p.secret))
		return
	}
	slices.Sort(dbs)
	if p.stats.DBStatsEnabled() {
		p.dbStats(ctx, c, dbs, out, base)
	}
	if collections {
		// FerretDB drops the connection on any stage after $collStats.
		_, ferret := status.Lookup("ferretdbVersion").StringValueOK()
		p.collectionStats(ctx, c, dbs, !ferret, out, base)
	}
}

// dbStats adds mongodb_dbstats_*{database} (and the compatible mode's
// mongodb_mongod_db_*) for the first DatabaseLimit databases by name.
func (p *mongoProber) dbStats(ctx context.Context, c *mongo.Client, dbs []string, out *mongoSeries, base []string) {
	limit := p.stats.DatabaseLimit()
	if len(dbs) > limit {
		p.logger.Debug("mongodb dbstats_limit reached", "databases", len(dbs), "skipped", len(dbs)-limit, "limit", limit)
		dbs = dbs[:limit]
	}
	for _, db := range dbs {
		doc, err := p.command(ctx, c.Database(db), bson.D{{Key: "dbStats", Value: 1}, {Key: "scale", Value: 1}})
		if err != nil {
			p.logger.Debug("mongodb dbStats failed", "database", db, "err", scrub(err, p.secret))
			if giveUp(ctx, err) {
				return
			}
			continue
		}
		if doc != nil {
			dbStatsMetrics(doc, out, withLabel(base, "database", db))
		}
	}
}

// mongoNamespace is one collection whose statistics a probe asks for.
type mongoNamespace struct{ db, coll string }

// collectionStats adds $collStats and $indexStats series for the first
// CollectionLimit collections, in database then collection name order, so
// a probe asks for the same ones every time. Collections beyond the limit
// are counted in a debug log, not probed; listing stops once the limit is
// reached, so a server with thousands of databases costs at most one
// listCollections per database until then.
func (p *mongoProber) collectionStats(ctx context.Context, c *mongo.Client, dbs []string, project bool, out *mongoSeries, base []string) {
	limit := p.stats.CollectionLimit()
	var nss []mongoNamespace
	skipped, unlisted := 0, 0
	// Views and system collections have no storage statistics.
	filter := bson.D{{Key: "type", Value: bson.D{{Key: "$in", Value: bson.A{"collection", "timeseries"}}}}}
	for i, db := range dbs {
		if slices.Contains(mongoSystemDBs, db) {
			continue
		}
		if len(nss) >= limit {
			unlisted = len(dbs) - i
			break
		}
		names, err := c.Database(db).ListCollectionNames(ctx, filter, options.ListCollections().SetNameOnly(true).SetAuthorizedCollections(true))
		if err != nil {
			p.logger.Debug("mongodb listCollections failed", "database", db, "err", scrub(err, p.secret))
			if giveUp(ctx, err) {
				return
			}
			continue
		}
		slices.Sort(names)
		for _, n := range names {
			if strings.HasPrefix(n, "system.") {
				continue
			}
			if len(nss) >= limit {
				skipped++
				continue
			}
			nss = append(nss, mongoNamespace{db, n})
		}
	}
	if skipped > 0 || unlisted > 0 {
		p.logger.Debug("mongodb collstats_limit reached", "limit", limit, "skipped_collections", skipped, "unlisted_databases", unlisted)
	}
	collStats := mongo.Pipeline{{{Key: "$collStats", Value: bson.D{
		{Key: "latencyStats", Value: bson.D{{Key: "histograms", Value: false}}},
		{Key: "storageStats", Value: bson.D{{Key: "scale", Value: 1}}},
	}}}}
	if project {
		// Percona's default: the WiredTiger and per-index details are
		// hundreds of fields per collection.
		collStats = append(collStats, bson.D{{Key: "$project", Value: bson.D{{Key: "storageStats.wiredTiger", Value: 0}, {Key: "storageStats.indexDetails", Value: 0}}}})
	}
	wantColl, wantIndex := p.stats.CollStats, p.stats.IndexStats
	for _, ns := range nss {
		labels := withLabel(withLabel(base, "database", ns.db), "collection", ns.coll)
		coll := c.Database(ns.db).Collection(ns.coll)
		if wantColl {
			docs, err := p.aggregate(ctx, coll, collStats)
			for _, doc := range docs {
				collStatsMetrics(doc, out, labels)
			}
			if giveUp(ctx, err) {
				return
			}
			wantColl = !refused(err)
		}
		if wantIndex {
			docs, err := p.aggregate(ctx, coll, mongo.Pipeline{{{Key: "$indexStats", Value: bson.D{}}}})
			for _, doc := range docs {
				indexStatsMetrics(doc, out, labels)
			}
			if giveUp(ctx, err) {
				return
			}
			wantIndex = !refused(err)
		}
	}
}

// giveUp reports an error after which the probe asks nothing more: its
// deadline has passed, or the connection failed (the driver then waits for
// the server to be rediscovered, which would use up the probe's time).
func giveUp(ctx context.Context, err error) bool {
	return err != nil && (ctx.Err() != nil || mongo.IsNetworkError(err) || mongo.IsTimeout(err))
}

// refused reports a server that cannot answer a statistics stage at all
// (an old or wire-compatible server, a user without the privilege): no use
// asking it again for the next collection.
func refused(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && unsupportedCommand(ce)
}

// aggregate runs a statistics pipeline and returns its documents, and
// the error that cut it short, logged.
func (p *mongoProber) aggregate(ctx context.Context, coll *mongo.Collection, pipeline mongo.Pipeline) ([]bson.Raw, error) {
	cur, err := coll.Aggregate(ctx, pipeline)
	if err != nil {
		p.logger.Debug("mongodb statistics aggregation failed", "collection", coll.Database().Name()+"."+coll.Name(), "stage", pipeline[0][0].Key, "err", scrub(err, p.secret))
		return nil, err
	}
	defer func() { _ = cur.Close(ctx) }()
	var docs []bson.Raw
	for cur.Next(ctx) {
		docs = append(docs, slices.Clone(cur.Current))
	}
	if err := cur.Err(); err != nil {
		p.logger.Debug("mongodb statistics aggregation failed", "collection", coll.Database().Name()+"."+coll.Name(), "stage", pipeline[0][0].Key, "err", scrub(err, p.secret))
		return docs, err
	}
	return docs, nil
}

// dbStatsMetrics adds one database's dbStats reply as mongodb_dbstats_*
// and, in compatible mode, mongodb_mongod_db_*.
func dbStatsMetrics(doc bson.Raw, out *mongoSeries, labels []string) {
	(&mongoFlattener{out: out, compatible: true}).reply("dbstats", doc, labels)
}

// collStatsMetrics adds one $collStats document as mongodb_collstats_*.
func collStatsMetrics(doc bson.Raw, out *mongoSeries, labels []string) {
	(&mongoFlattener{out: out, compatible: true}).doc("collstats", doc, withShard(doc, labels))
}

// withShard labels a statistics document of a sharded collection (through
// mongos, one per shard) with its shard, as Percona's setShardLabel.
func withShard(doc bson.Raw, labels []string) []string {
	if shard, ok := doc.Lookup("shard").StringValueOK(); ok && shard != "" {
		return withLabel(labels, "shard", shard)
	}
	return labels
}

// indexStatsMetrics adds one $indexStats document as Percona does: only
// accesses.ops (0 when absent) and building, labelled key_name.
func indexStatsMetrics(doc bson.Raw, out *mongoSeries, labels []string) {
	name, _ := doc.Lookup("name").StringValueOK()
	ops := 0.0
	if v, ok := mongoFloat(lookupRaw(doc, "accesses", "ops")); ok {
		ops = v
	}
	sanitized := bson.D{{Key: "accesses", Value: bson.D{{Key: "ops", Value: ops}}}}
	if v, ok := mongoFloat(lookupRaw(doc, "building")); ok {
		sanitized = append(sanitized, bson.E{Key: "building", Value: v})
	}
	raw, err := bson.Marshal(sanitized)
	if err != nil {
		return
	}
	f := &mongoFlattener{out: out}
	f.doc("indexstats", raw, withLabel(withShard(doc, labels), "key_name", name))
}
