// Package migrations holds the versioned SQL schema of Restock Relay, one
// folder per dialect with the same numbered files in each, embedded into the
// binary and applied in order by the store at start-up.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
