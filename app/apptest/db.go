// Package apptest is the test kit: temporary databases on both dialects,
// the fake Shopify and SendGrid servers wired to a real flow and router,
// and signed requests. Imported from _test.go files only.
package apptest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // pgx database/sql driver
)

// Dialects are the databases every store-touching test runs on.
var Dialects = []string{"sqlite", "postgres"}

var (
	pgOnce sync.Once
	pgURL  string
	pgErr  error
)

// postgresURL finds the PostgreSQL to test against: TEST_DATABASE_URL, else
// a server on 127.0.0.1:5432 (database test), as `make test` arranges.
func postgresURL() (string, error) {
	pgOnce.Do(func() {
		pgURL = os.Getenv("TEST_DATABASE_URL")
		if pgURL == "" {
			pgURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		}
		db, err := sql.Open("pgx", pgURL)
		if err != nil {
			pgErr = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		pgErr = db.PingContext(ctx)
	})
	return pgURL, pgErr
}

// DatabaseURL returns a fresh, empty database of the dialect for one test:
// a SQLite file in the test's temp dir, or a new PostgreSQL schema dropped
// at cleanup. Without a reachable PostgreSQL the test is skipped, except
// under CI, where that is a failure.
func DatabaseURL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	case "postgres":
		base, err := postgresURL()
		if err != nil {
			if os.Getenv("CI") != "" || os.Getenv("REQUIRE_POSTGRES") != "" {
				t.Fatalf("PostgreSQL unavailable at %s: %v (make test starts one)", redact(base), err)
			}
			t.Skipf("PostgreSQL unavailable (%v); run make test, or set TEST_DATABASE_URL", err)
		}
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "t_" + hex.EncodeToString(b[:])
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
			db.Close()
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

func redact(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.Index(s, "://"); j > 0 {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}

// ForEachDialect runs fn as a parallel subtest per dialect.
func ForEachDialect(t *testing.T, fn func(t *testing.T, databaseURL string)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, DatabaseURL(t, d))
		})
	}
}

//go:embed testdata
var fixtures embed.FS

// Fixture reads a file of testdata/ (Shopify and SendGrid payload shapes),
// e.g. "shopify/orders_create.json".
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}
