// Package store keeps Restock Relay's state: GORM models and queries, one file
// per table, on PostgreSQL (production) or SQLite (the embedded default). The
// schema comes from the versioned SQL files in migrations/, applied by Open.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/libtnb/sqlite"
	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/restockrelay/restockrelay/migrations"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Dialect names the database engine behind a Store.
type Dialect string

// The two supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Store is the database handle shared by the whole process: GORM for our
// queries and the same *sql.DB for River, so a row and the job it causes
// commit in one transaction.
type Store struct {
	DB      *gorm.DB
	SQL     *sql.DB
	Dialect Dialect
	// DSN is the connection string after defaults were applied.
	DSN string
}

// Options tune Open.
type Options struct {
	// NowFunc is the clock GORM uses for created/updated stamps. Default time.Now.
	NowFunc func() time.Time
	Logger  *slog.Logger
	// MaxOpenConns for PostgreSQL (SQLite always uses one connection).
	MaxOpenConns int
}

// DefaultSQLitePath is where the embedded default database lives.
const DefaultSQLitePath = "./data/restock.db"

// ParseDSN maps DATABASE_URL to a dialect and a driver DSN: empty or
// "sqlite:PATH" is SQLite, "postgres://" or "postgresql://" is PostgreSQL.
func ParseDSN(raw string) (Dialect, string, error) {
	switch {
	case raw == "":
		return SQLite, DefaultSQLitePath, nil
	case strings.HasPrefix(raw, "sqlite:"):
		p := strings.TrimPrefix(raw, "sqlite:")
		p = strings.TrimPrefix(p, "//")
		if p == "" {
			p = DefaultSQLitePath
		}
		return SQLite, p, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return Postgres, raw, nil
	default:
		return "", "", fmt.Errorf("DATABASE_URL must start with postgres://, postgresql:// or sqlite: (got %q)", redactDSN(raw))
	}
}

func redactDSN(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.Index(s, "://"); j > 0 && j < i {
			return s[:j+3] + "***" + s[i:]
		}
	}
	return s
}

// Open connects to the database named by databaseURL, applies the
// migrations and returns the Store.
func Open(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	dialect, dsn, err := ParseDSN(databaseURL)
	if err != nil {
		return nil, err
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	now := func() time.Time { return opts.NowFunc().UTC().Truncate(time.Microsecond) }
	gcfg := &gorm.Config{
		NowFunc:                now,
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		TranslateError:         true,
	}
	var sqlDB *sql.DB
	var gdb *gorm.DB
	switch dialect {
	case SQLite:
		if dir := filepath.Dir(dsn); dir != "." && dir != "" && !strings.HasPrefix(dsn, ":memory:") {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		sqlDB, err = sql.Open("sqlite", sqliteDSN(dsn))
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
		// River's SQLite driver and SQLite itself want a single writer: one
		// connection, always handed down inside transactions.
		sqlDB.SetMaxOpenConns(1)
		gdb, err = gorm.Open(sqlite.New(sqlite.Config{Conn: sqlDB}), gcfg)
	case Postgres:
		sqlDB, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		n := opts.MaxOpenConns
		if n <= 0 {
			n = 40
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		gdb, err = gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gcfg)
	}
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open gorm: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	s := &Store{DB: gdb, SQL: sqlDB, Dialect: dialect, DSN: dsn}
	if err := s.Migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return s, nil
}

func sqliteDSN(path string) string {
	q := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"
	if strings.HasPrefix(path, "file:") {
		if strings.Contains(path, "?") {
			return path + "&" + q
		}
		return path + "?" + q
	}
	// A file: URI, so '?', '#' and '%' in the path must be escaped: a test
	// folder named "x#01" once pointed two databases at one file.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q
}

// Migrate applies every pending migration of the store's dialect, each in
// its own transaction, recorded in goose's version table.
func (s *Store) Migrate(ctx context.Context) error {
	dir := "postgres"
	gd := goose.DialectPostgres
	if s.Dialect == SQLite {
		dir = "sqlite"
		gd = goose.DialectSQLite3
	}
	sub, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return fmt.Errorf("migrations folder %s: %w", dir, err)
	}
	p, err := goose.NewProvider(gd, s.SQL, sub)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.SQL.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.SQL.PingContext(ctx) }

// Tx runs fn in a transaction on db and hands it the *sql.Tx underneath, so
// River can insert jobs in the same transaction.
func Tx(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB, sqlTx *sql.Tx) error) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
		if !ok {
			if p, ok2 := tx.Statement.ConnPool.(*gorm.PreparedStmtTX); ok2 {
				sqlTx, ok = p.Tx.(*sql.Tx)
			}
		}
		if !ok {
			return fmt.Errorf("transaction is %T, not *sql.Tx", tx.Statement.ConnPool)
		}
		return fn(tx, sqlTx)
	})
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// IsUniqueViolation reports whether err is a unique-constraint conflict.
func IsUniqueViolation(err error) bool {
	return errors.Is(err, gorm.ErrDuplicatedKey) || (err != nil && strings.Contains(strings.ToLower(err.Error()), "unique"))
}
