package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatabaseURL: database.url selects PostgreSQL (database_path is then
// empty), the password file is read, and the choice is exactly one backend.
func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const u = "postgres://vpo:hunter2@db.example:5432/vpo?sslmode=disable"

	cfg, err := Load(Flags{}, Options{Home: home, Getenv: envFrom(map[string]string{
		"VPO_DATABASE_URL": u, "VPO_DATABASE_PASSWORD_FILE": pw})})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Postgres() || cfg.Database.URL != u || cfg.DatabasePath != "" || cfg.Database.Password != "s3cret pass" {
		t.Fatalf("got postgres=%v url=%q path=%q password=%q", cfg.Postgres(), cfg.Database.URL, cfg.DatabasePath, cfg.Database.Password)
	}
	for _, s := range cfg.Settings() {
		if text := strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(fmtValue(s.Value), "\n", " "), " ")), " "); strings.Contains(text, "hunter2") || strings.Contains(text, "s3cret") {
			t.Errorf("setting %s shows a password: %s", s.Key, text)
		}
		if s.Key == "database.url" && s.Value != "postgres://vpo:redacted@db.example:5432/vpo?sslmode=disable" {
			t.Errorf("database.url shown as %v", s.Value)
		}
	}

	cfg, err = Load(Flags{}, Options{Home: home, Getenv: envFrom(nil)})
	if err != nil || cfg.Postgres() || cfg.DatabasePath != filepath.Join(home, ".vpo", "library.db") {
		t.Fatalf("default: %v, %+v", err, cfg)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		file string
		want string
	}{
		{"both", map[string]string{"VPO_DATABASE_URL": u, "VPO_DATABASE_PATH": "/srv/x.db"}, "",
			"config environment VPO_DATABASE_URL: database.url: and database_path (environment VPO_DATABASE_PATH) are both set: set database.url for PostgreSQL or database_path for SQLite, not both"},
		{"both in file", nil, "database_path = \"/srv/x.db\"\n[database]\nurl = \"" + u + "\"\n",
			"database.url: and database_path (FILE) are both set"},
		{"scheme", map[string]string{"VPO_DATABASE_URL": "mysql://vpo:hunter2@db/vpo"}, "",
			`config environment VPO_DATABASE_URL: database.url: has scheme "mysql": it must be postgres://`},
		{"not a URL", map[string]string{"VPO_DATABASE_URL": "postgres://vpo:hunter2@db:x/%zz"}, "",
			"config environment VPO_DATABASE_URL: database.url: is not a URL: write it as postgres://user@host:5432/dbname"},
		{"password without url", map[string]string{"VPO_DATABASE_PASSWORD_FILE": pw}, "",
			"database.password_file: is set but database.url is not"},
		{"missing password file", map[string]string{"VPO_DATABASE_URL": u, "VPO_DATABASE_PASSWORD_FILE": pw + ".gone"}, "",
			"config environment VPO_DATABASE_PASSWORD_FILE: database.password_file: " + pw + ".gone: "},
		{"empty password file", map[string]string{"VPO_DATABASE_URL": u, "VPO_DATABASE_PASSWORD_FILE": empty}, "",
			"database.password_file: " + empty + " is empty"},
	} {
		var flags Flags
		want := tc.want
		if tc.file != "" {
			p := writeFile(t, t.TempDir(), tc.file)
			flags.ConfigPath = &p
			want = strings.ReplaceAll(want, "FILE", p)
		}
		_, err := Load(flags, Options{Home: home, Getenv: envFrom(tc.env)})
		if err == nil || !strings.Contains(err.Error(), want) || !IsConfigError(err) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%s: error shows the password or spans lines: %v", tc.name, err)
		}
	}
}

func fmtValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, ",")
	}
	return ""
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                      "",
		"postgres://vpo@db/vpo":                 "postgres://vpo@db/vpo",
		"postgres://vpo:pw@db/vpo":              "postgres://vpo:redacted@db/vpo",
		"postgres://vpo@db/vpo?password=pw&x=1": "postgres://vpo@db/vpo?password=redacted&x=1",
		"postgres://vpo:p%40ss@db/vpo":          "postgres://vpo:redacted@db/vpo",
		"postgres://vpo:pw@db:x/%zz":            "(not a URL, redacted)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDocPostgresExample loads the PostgreSQL example of docs/operations.md:
// it sets every key of [database].
func TestDocPostgresExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- PostgreSQL example -->\n```toml\n")
	if !ok {
		t.Fatal("docs/operations.md has no PostgreSQL example")
	}
	example, _, _ := strings.Cut(rest, "```")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, strings.ReplaceAll(example, "/etc/vpo/db-password", pw))
	cfg, err := Load(Flags{ConfigPath: &path}, Options{Home: dir, Getenv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Specs() {
		if strings.HasPrefix(s.Key, "database.") && cfg.Sources[s.Key] != SourceFile {
			t.Errorf("the PostgreSQL example does not set %s", s.Key)
		}
	}
	if !cfg.Postgres() || cfg.Database.Password != "secret" {
		t.Errorf("the example loads as postgres=%v password=%q", cfg.Postgres(), cfg.Database.Password)
	}
}
