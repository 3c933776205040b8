package config

import (
	"net/url"
	"strings"
)

// validateDatabase checks the choice of backend: exactly one of database.url
// (PostgreSQL) and database_path (SQLite, by default ~/.vpo/library.db), and
// reads the password file. No message shows the URL's password.
func (c *Config) validateDatabase() error {
	if c.Database.URL == "" {
		if c.Database.PasswordFile != "" {
			return c.fail("database.password_file", "is set but database.url is not: the password is for a PostgreSQL database.url")
		}
		return nil
	}
	if src := c.Sources["database_path"]; src != "" && src != SourceDefault {
		return c.fail("database.url", "and database_path (%s) are both set: set database.url for PostgreSQL or database_path for SQLite, not both", c.origin("database_path"))
	}
	u, err := url.Parse(c.Database.URL)
	switch {
	case err != nil:
		return c.fail("database.url", "is not a URL: write it as postgres://user@host:5432/dbname")
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		return c.fail("database.url", "has scheme %q: it must be postgres:// (for example postgres://vpo@db.example:5432/vpo)", u.Scheme)
	}
	if f := c.Database.PasswordFile; f != "" {
		data, err := readConfig(f)
		if err != nil {
			return c.fail("database.password_file", "%s: %s", f, describeReadError(err))
		}
		c.Database.Password = strings.TrimRight(string(data), "\r\n")
		if c.Database.Password == "" {
			return c.fail("database.password_file", "%s is empty", f)
		}
	}
	c.DatabasePath = ""
	return nil
}

// RedactURL returns a database URL with its password (in the user part or a
// password= parameter) replaced, for logs and `vpo config show`.
func RedactURL(s string) string {
	if s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(not a URL, redacted)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
