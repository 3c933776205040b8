// Package migrations embeds the catalogue's versioned schema migrations, applied in
// order by goose, each in its own transaction.
package migrations

import "embed"

// FS holds the numbered .sql migration files.
//
//go:embed *.sql
var FS embed.FS
