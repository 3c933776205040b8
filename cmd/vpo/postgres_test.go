package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/vpo-project/vpo/internal/pgtest"
)

// sqliteOnly matches what makes a script SQLite's: the commands that open the
// SQLite file itself (sqlexec, sqlquery, schemadown, rodir), its path, or its
// settings. Every other script of testdata/script runs on both backends.
var sqliteOnly = regexp.MustCompile(`(?m)^[^#]*\b(sqlexec|sqlquery|schemadown|rodir)\b|library\.db|database_path|VPO_DATABASE_PATH|-wal\b`)

// postgresSkip lists the backend-neutral scripts that do not run on
// PostgreSQL, and why.
var postgresSkip = map[string]string{}

// postgresScripts returns the scripts of dir that run on PostgreSQL.
func postgresScripts(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, skip := postgresSkip[filepath.Base(p)]; skip || sqliteOnly.Match(b) {
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		t.Fatal("no script of " + dir + " runs on PostgreSQL")
	}
	return out
}

// TestScriptsPostgres runs the backend-neutral end-to-end scripts of
// testdata/script against PostgreSQL: each script gets a database of its own
// on the test binary's throwaway cluster (internal/pgtest), named by
// VPO_DATABASE_URL, and BACKEND=postgres; the condition [postgres] is true.
func TestScriptsPostgres(t *testing.T) {
	c := pgtest.Shared(t)
	p := ScriptParams(t, "")
	p.Files = postgresScripts(t, "testdata/script")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		name, err := c.CreateDatabase(context.Background())
		if err != nil {
			return err
		}
		env.Defer(func() {
			if err := c.DropDatabase(context.Background(), name); err != nil {
				env.T().Fatal(err)
			}
		})
		env.Setenv("VPO_DATABASE_URL", c.URL(name))
		env.Setenv("BACKEND", "postgres")
		return nil
	}
	p.Condition = func(cond string) (bool, error) {
		switch cond {
		case "postgres":
			return true, nil
		case "sqlite":
			return false, nil
		}
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	testscript.Run(t, p)
}

type clusterKey struct{}

// TestScriptsPostgresOnly runs the scripts of testdata/postgres, which test what
// only PostgreSQL has (the server going away, logins, node locks): each on a
// cluster of its own, which it may stop and start (pgdown, pgup).
// VPO_DATABASE_URL and PGTEST_URL name its database over the unix socket;
// PGTEST_PORT, PGTEST_DB, PGTEST_USER and PGTEST_PASSWORD reach it over TCP.
func TestScriptsPostgresOnly(t *testing.T) {
	p := ScriptParams(t, "testdata/postgres")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		c, err := pgtest.Start()
		if err != nil {
			return err
		}
		env.Defer(c.Stop)
		name, err := c.CreateDatabase(context.Background())
		if err != nil {
			return err
		}
		env.Values[clusterKey{}] = c
		for k, v := range map[string]string{
			"VPO_DATABASE_URL": c.URL(name), "PGTEST_URL": c.URL(name), "PGTEST_PORT": strconv.Itoa(c.Port),
			"PGTEST_DB": name, "PGTEST_USER": pgtest.Superuser, "PGTEST_PASSWORD": pgtest.Password, "BACKEND": "postgres",
		} {
			env.Setenv(k, v)
		}
		return nil
	}
	p.Condition = func(cond string) (bool, error) {
		return cond == "postgres", nil
	}
	p.Cmds["pgexec"] = cmdPGExec
	p.Cmds["pgdown"] = func(ts *testscript.TestScript, neg bool, args []string) {
		ts.Check(ts.Value(clusterKey{}).(*pgtest.Cluster).StopServer())
	}
	p.Cmds["pgup"] = func(ts *testscript.TestScript, neg bool, args []string) {
		ts.Check(ts.Value(clusterKey{}).(*pgtest.Cluster).StartServer())
	}
	testscript.Run(t, p)
}

// pgexec SQL: runs one statement on the script's PostgreSQL database ($PGTEST_URL).
func cmdPGExec(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: pgexec SQL")
	}
	db, err := sql.Open("pgx", ts.Getenv("PGTEST_URL"))
	ts.Check(err)
	defer db.Close()
	_, err = db.Exec(args[0])
	if neg {
		if err == nil {
			ts.Fatalf("statement succeeded")
		}
		return
	}
	ts.Check(err)
}
