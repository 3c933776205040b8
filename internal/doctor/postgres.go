package doctor

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
)

// CheckPostgres is CheckDatabase for a PostgreSQL database.url: the server
// answers (its version and the database's size), the catalogue's and the job
// queue's schema versions, and whether a vpo serve runs as this node. It only
// reads; it creates nothing.
func CheckPostgres(ctx context.Context, cfg *config.Config, node string) []Result {
	const name = "database"
	db := catalog.DescribeURL(cfg.Database.URL)
	pc, err := catalog.PostgresConfig(cfg.Database.URL, cfg.Database.Password)
	if err != nil {
		return []Result{fail(name, "%v", err)}
	}
	pc.RuntimeParams["default_transaction_read_only"] = "on"
	pool := sql.OpenDB(stdlib.GetConnector(*pc))
	defer pool.Close()
	pool.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var version string
	var size int64
	err = pool.QueryRowContext(ctx, "SELECT current_setting('server_version'), pg_database_size(current_database())").Scan(&version, &size)
	if err != nil {
		return []Result{fail(name, "%v", catalog.DescribePostgresError(db, err))}
	}
	out := []Result{ok(name, "%s: PostgreSQL %s, %s", db, version, humanSize(size))}

	known, err := KnownCatalogueVersion()
	if err != nil {
		out = append(out, fail("catalogue schema", "%v", err))
	} else {
		cur, err := pgVersion(ctx, pool, "goose_db_version", "SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied")
		if err != nil {
			out = append(out, fail("catalogue schema", "read goose_db_version: %v", catalog.DescribePostgresError(db, err)))
		} else {
			out = append(out, compareVersions("catalogue schema", cur, known))
		}
	}
	knownQ, err := KnownJobQueueVersion()
	if err != nil {
		out = append(out, fail("job queue schema", "%v", err))
	} else {
		cur, err := pgVersion(ctx, pool, "river_migration", "SELECT coalesce(max(version), 0) FROM river_migration WHERE line = 'main'")
		if err != nil {
			out = append(out, fail("job queue schema", "read river_migration: %v", catalog.DescribePostgresError(db, err)))
		} else {
			out = append(out, compareVersions("job queue schema", cur, int64(knownQ)))
		}
	}
	return append(out, nodeLock(ctx, pool, node))
}

func pgVersion(ctx context.Context, db *sql.DB, table, q string) (int64, error) {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1", table).Scan(&n); err != nil || n == 0 {
		return 0, err
	}
	var v int64
	err := db.QueryRowContext(ctx, q).Scan(&v)
	return v, err
}

// nodeLock reports whether a vpo serve holds this node's advisory lock: the
// lock is tried on a connection of its own and released at once.
func nodeLock(ctx context.Context, db *sql.DB, node string) Result {
	const name = "daemon"
	conn, err := db.Conn(ctx)
	if err != nil {
		return warn(name, "cannot tell whether vpo serve runs as node %q: %v", node, err)
	}
	defer conn.Close()
	key := catalog.NodeLockKey(node)
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		return warn(name, "cannot tell whether vpo serve runs as node %q: %v", node, err)
	}
	if !got {
		return ok(name, "a vpo serve runs as node %q (it holds the node's lock)", node)
	}
	_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", key)
	return ok(name, "no vpo serve runs as node %q", node)
}
