package pgtest_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vpo-project/vpo/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestSharedCluster: a database of the shared cluster answers over the unix
// socket and, with the password, over TCP; a wrong password is refused.
func TestSharedCluster(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Shared(t)
	u := c.NewDatabase(t)
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "vpo_test_") {
		t.Fatalf("current_database() = %q", v)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "data", "postmaster.pid")); err != nil {
		t.Fatal(err)
	}

	tcp, err := sql.Open("pgx", c.TCPURL(v, pgtest.Superuser, pgtest.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if err := tcp.PingContext(ctx); err != nil {
		t.Fatalf("TCP with the password: %v", err)
	}
	bad, err := sql.Open("pgx", c.TCPURL(v, pgtest.Superuser, "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.PingContext(ctx)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("TCP with a wrong password: %v, want SQLSTATE 28P01", err)
	}
}

// TestStartStop: a cluster of its own starts and Stop removes its directory.
func TestStartStop(t *testing.T) {
	c, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Admin().Ping(); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Stop, %s: %v", c.Dir, err)
	}
}
