package catalog_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/catalog/storetest"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openPostgres(t *testing.T, url string, mode catalog.Mode) *catalog.Store {
	t.Helper()
	s, err := catalog.OpenPostgres(context.Background(), url, "", logging.Discard(), mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// TestPostgres runs the store conformance suite on PostgreSQL: each store in a
// database of its own on the test binary's throwaway cluster.
func TestPostgres(t *testing.T) {
	c := pgtest.Shared(t)
	var mu sync.Mutex
	urls := map[*catalog.Store]string{}
	storetest.Run(t, storetest.Backend{
		TextIsUTF8: true,
		Open: func(t *testing.T) *catalog.Store {
			u := c.NewDatabase(t)
			s := openPostgres(t, u, catalog.CheckSchema)
			mu.Lock()
			urls[s] = u
			mu.Unlock()
			return s
		},
		HoldWriteLock: func(t *testing.T, s *catalog.Store) {
			// Another client's transaction holding the tables vpo writes:
			// reads go on, writes wait for lock_timeout.
			mu.Lock()
			u := urls[s]
			mu.Unlock()
			db, err := sql.Open("pgx", u)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("LOCK TABLE files, tracks, job_progress IN EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tx.Rollback(); _ = db.Close() })
		},
		OpenReadOnly: func(t *testing.T) error {
			// A database whose transactions are read-only (as on a standby).
			u := c.NewDatabase(t)
			openPostgres(t, u, catalog.CheckSchema).Close(context.Background())
			name := u[strings.LastIndex(u, "/")+1 : strings.Index(u, "?")]
			if _, err := c.Admin().Exec("ALTER DATABASE " + name + " SET default_transaction_read_only = on"); err != nil {
				t.Fatal(err)
			}
			s, err := catalog.OpenPostgres(context.Background(), u, "", logging.Discard(), catalog.CheckSchema)
			if err == nil {
				s.Close(context.Background())
			}
			return err
		},
		OpenCorrupt: func(t *testing.T) error {
			// A database that holds something else under goose's table name.
			u := c.NewDatabase(t)
			db, err := sql.Open("pgx", u)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE goose_db_version (something text)"); err != nil {
				t.Fatal(err)
			}
			s, err := catalog.OpenPostgres(context.Background(), u, "", logging.Discard(), catalog.CheckSchema)
			if err == nil {
				s.Close(context.Background())
			}
			return err
		},
	})
}

// TestPostgresUnavailable: a server that is not there, a wrong password and a
// database that does not exist are each one line, ErrUnavailable, without the
// password.
func TestPostgresUnavailable(t *testing.T) {
	c := pgtest.Shared(t)
	ctx := context.Background()
	u := c.NewDatabase(t)
	name := u[strings.LastIndex(u, "/")+1 : strings.Index(u, "?")]
	for _, tc := range []struct {
		what, url, want string
	}{
		{"wrong password", c.TCPURL(name, pgtest.Superuser, "hunter2"), "the server refused the login"},
		{"no such database", c.TCPURL("nothere", pgtest.Superuser, pgtest.Password), "does not exist on the server"},
		{"no server", "postgres://vpo:hunter2@127.0.0.1:1/vpo?sslmode=disable&connect_timeout=5", "cannot connect to the server"},
	} {
		s, err := catalog.OpenPostgres(ctx, tc.url, "", logging.Discard(), catalog.ApplyMigrations)
		if err == nil {
			s.Close(ctx)
			t.Errorf("%s: opened", tc.what)
			continue
		}
		if !errors.Is(err, catalog.ErrUnavailable) || !strings.Contains(err.Error(), tc.want) ||
			strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line with %q, ErrUnavailable, no password", tc.what, err, tc.want)
		}
	}
	// The password given apart from the URL (database.password_file) is used.
	s, err := catalog.OpenPostgres(ctx, c.TCPURL(name, pgtest.Superuser, ""), pgtest.Password, logging.Discard(), catalog.ApplyMigrations)
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
}
