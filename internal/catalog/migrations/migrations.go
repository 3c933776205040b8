// Package migrations embeds the catalogue's versioned schema migrations, applied in
// order by goose, each in its own transaction: SQLite's in this directory,
// PostgreSQL's in postgres/, version for version (the same numbers and names, so
// that a version means the same schema on both).
package migrations

import "embed"

// FS holds the numbered .sql migration files of SQLite.
//
//go:embed *.sql
var FS embed.FS

// PostgresFS holds PostgreSQL's, under postgres/.
//
//go:embed postgres/*.sql
var PostgresFS embed.FS
