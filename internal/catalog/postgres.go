package catalog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/zeebo/xxh3"

	"github.com/vpo-project/vpo/internal/catalog/migrations"
)

// PostgresConfig parses a PostgreSQL connection URL (libpq's rules: PG*
// variables and ~/.pgpass apply) and sets password when not empty, with the
// settings the store's connections use. The error never shows the URL.
func PostgresConfig(rawURL, password string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", DescribeURL(rawURL), parseErrorOf(err))
	}
	if password != "" {
		cfg.Password = password
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "vpo"
	}
	// A writer waits for another's row or table lock as long as SQLite's busy
	// timeout, then fails with lock_not_available (ErrBusy).
	if _, ok := cfg.RuntimeParams["lock_timeout"]; !ok {
		cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(BusyTimeout.Milliseconds(), 10)
	}
	return cfg, nil
}

// parseErrorOf keeps pgx's reason for a bad URL without the URL, which may
// hold a password.
func parseErrorOf(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return fmt.Errorf("bad connection URL: %w", pe.Unwrap())
	}
	return errors.New("bad connection URL")
}

// DescribeURL is a PostgreSQL URL as vpo's messages name the database:
// postgres://user@host:port/dbname, without password or parameters.
func DescribeURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(PostgreSQL URL)"
	}
	d := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		d.User = url.User(u.User.Username())
	}
	if d.Host == "" {
		if h := u.Query().Get("host"); h != "" {
			return d.String() + " (host " + h + ")"
		}
	}
	return d.String()
}

// OpenPostgres opens the catalogue in the PostgreSQL database of rawURL (with
// password, when not empty, instead of the URL's), doing what mode says about
// its schema. Each error is one line naming the database (never its password).
func OpenPostgres(ctx context.Context, rawURL, password string, logger *slog.Logger, mode Mode) (*Store, error) {
	cfg, err := PostgresConfig(rawURL, password)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	s := &Store{db: db, path: DescribeURL(rawURL), logger: logger, q: &postgresQueries, pg: cfg}
	if err := s.initPostgres(ctx, mode); err != nil {
		db.Close()
		return nil, err
	}
	probe := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	probe.SetMaxOpenConns(1)
	probe.SetMaxIdleConns(1)
	s.probe = probe
	return s, nil
}

func (s *Store) initPostgres(ctx context.Context, mode Mode) error {
	if err := s.db.PingContext(ctx); err != nil {
		return s.describePostgresError(err)
	}
	var readOnly string
	if err := s.db.QueryRowContext(ctx, "SHOW transaction_read_only").Scan(&readOnly); err != nil {
		return s.describePostgresError(err)
	}
	if readOnly == "on" && mode != InspectSchema {
		return fmt.Errorf("database %s is read-only (a standby, or default_transaction_read_only): point database.url at the primary%w",
			s.path, hide(ErrReadOnly))
	}
	if err := s.db.QueryRowContext(ctx, s.q.countSchemaObjects).Scan(&s.objects); err != nil {
		return s.describePostgresError(err)
	}
	return s.migrate(ctx, mode)
}

// describePostgresError is one line for a failure to reach or use the server.
func (s *Store) describePostgresError(err error) error { return DescribePostgresError(s.path, err) }

// DescribePostgresError is one line for a failure to reach or use the
// PostgreSQL database named name (DescribeURL), wrapping the sentinel it
// means (ErrUnavailable for an unreachable server or a refused login).
func DescribePostgresError(name string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return fmt.Errorf("database %s: the server refused the login: %s (check database.password_file, the URL or PGPASSWORD)%w",
				name, pe.Message, hide(ErrUnavailable))
		case "3D000":
			return fmt.Errorf("database %s does not exist on the server: create it (CREATE DATABASE ... OWNER ...)%w", name, hide(ErrUnavailable))
		case "42501":
			return fmt.Errorf("database %s: permission denied: %s%w", name, pe.Message, hide(ErrReadOnly))
		case "42P01", "42703", "42804":
			// goose_db_version is there but is not goose's: not a vpo catalogue.
			return fmt.Errorf("database %s does not hold a vpo catalogue (%s)%w", name, pe.Message, hide(ErrCorrupt))
		}
		return fmt.Errorf("database %s: %s (SQLSTATE %s)%w", name, pe.Message, pe.Code, hide(Classify(err)))
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("database %s: cannot connect to the server: %w%w", name, innermost(ce), hide(ErrUnavailable))
	}
	if c := Classify(err); errors.Is(c, ErrUnavailable) {
		return fmt.Errorf("database %s: cannot reach the server: %w%w", name, err, hide(ErrUnavailable))
	}
	return fmt.Errorf("database %s: %w", name, Classify(err))
}

// innermost is the deepest single cause of err: the dial error of a connect
// error rather than pgx's description of the whole attempt.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		var pe *pgconn.PgError
		if errors.As(next, &pe) {
			return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
		}
		err = next
	}
}

func (s *Store) postgresProvider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations.PostgresFS, "postgres")
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("database %s: load migrations: %w", s.path, err)
	}
	return p, nil
}

// PostgresConnConfig returns the connection settings of a PostgreSQL store
// (for the job queue's own pool), nil on SQLite.
func (s *Store) PostgresConnConfig() *pgx.ConnConfig {
	if s.pg == nil {
		return nil
	}
	return s.pg.Copy()
}

// Postgres reports whether the store is on PostgreSQL.
func (s *Store) Postgres() bool { return s.pg != nil }

// rebindConnector hands out pgx's database/sql connections whose statements
// have their "?" placeholders numbered ($1, $2, ...), so that the store's
// statements and composed filters are written once for both dialects (sqlx's
// Rebind, done under database/sql).
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn.(*stdlib.Conn)}, nil
}

type rebindConn struct{ *stdlib.Conn }

func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.PrepareContext(ctx, rebind(query))
	if err != nil {
		return nil, err
	}
	return rebindStmt{st.(*stdlib.Stmt)}, nil
}

// rebindStmt is a prepared statement whose text arguments are made valid.
type rebindStmt struct{ *stdlib.Stmt }

func (s rebindStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.ExecContext(ctx, validText(args))
}

func (s rebindStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.QueryContext(ctx, validText(args))
}

func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), validText(args))
}

func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), validText(args))
}

// validText makes the text arguments valid for PostgreSQL's text, which holds
// only UTF-8 without NUL: invalid bytes and NULs become U+FFFD. File paths are
// bytes (bytea) and keep every byte; the text vpo stores comes from ffprobe
// through encoding/json, which already replaced invalid UTF-8 the same way.
func validText(args []driver.NamedValue) []driver.NamedValue {
	for i, a := range args {
		if s, ok := a.Value.(string); ok && (!utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0) {
			args[i].Value = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
		}
	}
	return args
}

// rebind numbers the "?" placeholders of query ($1, $2, ...), leaving those in
// string literals, quoted identifiers and comments alone.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) && query[j] != c {
				j++
			}
			b.WriteString(query[i:min(j+1, len(query))])
			i = j
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// checkPostgres is Check on PostgreSQL: a read query on the probe connection
// before ctx's deadline.
func (s *Store) checkPostgres(ctx context.Context) error {
	var v int64
	if err := s.probe.QueryRowContext(ctx, s.q.probe).Scan(&v); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("database %s did not answer in time%w", s.path, hide(ErrUnavailable))
		}
		return s.describePostgresError(err)
	}
	return nil
}

// NodeLockKey is the PostgreSQL advisory lock key of a node (the daemon holds
// it for its lifetime; vpo doctor tests it): a hash of the node's name in a
// namespace of vpo's own.
func NodeLockKey(node string) int64 { return int64(xxh3.HashString("vpo node " + node)) }

// migrationLockKey is the advisory lock under which vpo migrates a PostgreSQL
// database (catalogue and job queue), so that nodes starting at once migrate
// one after the other instead of racing.
var migrationLockKey = int64(xxh3.HashString("vpo migrate"))

// WithMigrationLock runs fn while holding the database's migration lock (a
// session advisory lock on a connection of its own; fn waits for another
// process's migration to end).
func WithMigrationLock(ctx context.Context, rawURL, password string, fn func() error) error {
	cfg, err := PostgresConfig(rawURL, password)
	if err != nil {
		return err
	}
	name := DescribeURL(rawURL)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return DescribePostgresError(name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return DescribePostgresError(name, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey) //nolint:errcheck // the session's end releases it too
	return fn()
}
