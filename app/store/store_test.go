package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// Regression: a SQLite path with '#' (Go names parallel subtests "x#01")
// was cut at the '#', so two tests shared one database file.
func TestSQLitePathWithSpecialCharacters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"a#01", "a?b", "a%20b"} {
		p := filepath.Join(dir, name, "x.db")
		st, err := Open(context.Background(), "sqlite:"+p, Options{})
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		if err := UpsertShop(context.Background(), st.DB, &Shop{Domain: name + ".myshopify.com"}); err != nil {
			t.Fatal(err)
		}
		var n int64
		st.DB.Model(&Shop{}).Count(&n)
		st.Close()
		if n != 1 {
			t.Fatalf("%s: %d shops, want 1 (database shared with another path?)", name, n)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "a*", "x.db"))
	if len(matches) != 3 {
		t.Fatalf("database files: %v, want one per folder", matches)
	}
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, dialect, dsn string }{
		{"", "sqlite", DefaultSQLitePath},
		{"sqlite:./x.db", "sqlite", "./x.db"},
		{"sqlite:", "sqlite", DefaultSQLitePath},
		{"postgres://u@h/db", "postgres", "postgres://u@h/db"},
		{"postgresql://u@h/db", "postgres", "postgresql://u@h/db"},
	} {
		d, dsn, err := ParseDSN(c.in)
		if err != nil || string(d) != c.dialect || dsn != c.dsn {
			t.Errorf("ParseDSN(%q) = %s %s %v", c.in, d, dsn, err)
		}
	}
	if _, _, err := ParseDSN("mysql://u:secret@h/db"); err == nil || contains(err.Error(), "secret") {
		t.Errorf("bad DSN: err %v (must refuse and not echo the password)", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
