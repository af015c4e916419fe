// Package restock is the product: signup rules, restock detection, the
// email sequence and its River jobs. It owns every rule of DESIGN.md's
// restock flow; the web layer only parses requests and calls it.
package restock

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// Catalog reads variants from a shop's Admin API.
type Catalog interface {
	Variants(ctx context.Context, ids []int64) ([]shopify.Variant, error)
}

// CatalogFunc opens the Admin API of one shop with its (plain) token.
type CatalogFunc func(shop, accessToken string) (Catalog, error)

// Config wires a Flow.
type Config struct {
	Store       *store.Store
	Sender      email.Sender
	Renderer    *email.Renderer
	Links       *Links
	Sealer      *store.Sealer
	CatalogFunc CatalogFunc
	// OAuth exchanges session tokens and refreshes expiring offline tokens;
	// nil for shops registered with a non-expiring token only.
	OAuth    *shopify.OAuth
	Clock    Clock
	Logger   *slog.Logger
	MailFrom string
	// Workers is River's worker count (default 10 on PostgreSQL, 4 on SQLite):
	// more only adds contention on two cores.
	Workers int
	// StockTTL is how long a fresh stock read is reused by send batches
	// (default 30 s), so a 100-batch restock reads Shopify a few times, not 100.
	StockTTL time.Duration
	// CheckDelay debounces stock cues, so a burst of webhooks for one item
	// (a bulk edit, an import) costs one Admin API read; main sets one
	// second. Zero checks at once (bursts
	// still coalesce into one running check).
	CheckDelay time.Duration
}

// Flow runs the restock sequence.
type Flow struct {
	cfg    Config
	db     *store.Store
	river  *river.Client[*sql.Tx]
	log    *slog.Logger
	clock  Clock
	intake *intake
	themes sync.Map // shop domain → themeCacheEntry (admin onboarding)
}

// New prepares the flow and River (its tables are migrated here) without
// starting any worker.
func New(ctx context.Context, cfg Config) (*Flow, error) {
	if cfg.Clock == nil {
		cfg.Clock = WallClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StockTTL == 0 {
		cfg.StockTTL = 30 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 10
		if cfg.Store.Dialect == store.SQLite {
			cfg.Workers = 4
		}
	}
	f := &Flow{cfg: cfg, db: cfg.Store, log: cfg.Logger, clock: cfg.Clock}
	f.intake = newIntake(f)

	workers := river.NewWorkers()
	river.AddWorker(workers, &webhookWorker{f: f})
	river.AddWorker(workers, &checkWorker{f: f})
	river.AddWorker(workers, &stepWorker{f: f})
	river.AddWorker(workers, &batchWorker{f: f})

	rcfg := &river.Config{
		Logger:               cfg.Logger.With("component", "river"),
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		FetchCooldown:        5 * time.Millisecond,
		FetchPollInterval:    50 * time.Millisecond,
		JobTimeout:           5 * time.Minute,
		RescueStuckJobsAfter: 10 * time.Minute,
		MaxAttempts:          12,
	}
	// River keeps to the wall clock: the flow's own clock decides what is
	// due (PromoteDue), and a step that River starts early waits (stepWorker).
	var err error
	if cfg.Store.Dialect == store.SQLite {
		d := riversqlite.New(cfg.Store.SQL)
		if err = migrateRiver(ctx, d); err != nil {
			return nil, err
		}
		f.river, err = river.NewClient[*sql.Tx](d, rcfg)
	} else {
		d := riverdatabasesql.New(cfg.Store.SQL)
		if err = migrateRiver(ctx, d); err != nil {
			return nil, err
		}
		f.river, err = river.NewClient[*sql.Tx](d, rcfg)
	}
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	return f, nil
}

func migrateRiver(ctx context.Context, d riverdriver.Driver[*sql.Tx]) error {
	m, err := rivermigrate.New(d, nil)
	if err == nil {
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		return fmt.Errorf("migrate river tables: %w", err)
	}
	return nil
}

// Start starts River's workers.
func (f *Flow) Start(ctx context.Context) error { return f.river.Start(ctx) }

// Stop lets running jobs finish, then stops. Call it after the web server
// has stopped taking requests.
func (f *Flow) Stop(ctx context.Context) error {
	f.intake.stop()
	return f.river.Stop(ctx)
}

// River exposes the job client (for main's wiring and tests).
func (f *Flow) River() *river.Client[*sql.Tx] { return f.river }

// Now is the flow's clock.
func (f *Flow) Now() time.Time { return f.clock.Now().UTC().Truncate(time.Microsecond) }

// PromoteDue makes every scheduled job that is due by the flow's clock
// available now. River's own scheduler does this every few seconds; tests
// and the demo call it right after moving a fake clock.
func (f *Flow) PromoteDue(ctx context.Context) (int, error) {
	now := f.Now()
	n := 0
	params := river.NewJobListParams().States(rivertype.JobStateScheduled, rivertype.JobStateRetryable).First(10000)
	res, err := f.river.JobList(ctx, params)
	if err != nil {
		return 0, fmt.Errorf("list scheduled jobs: %w", err)
	}
	for _, j := range res.Jobs {
		if j.ScheduledAt.After(now) {
			continue
		}
		if _, err := f.river.JobRetry(ctx, j.ID); err != nil {
			return n, fmt.Errorf("promote job %d: %w", j.ID, err)
		}
		n++
	}
	return n, nil
}

// WaitIdle waits until no job is available, pending or running, checking
// every few milliseconds. Jobs scheduled for later do not count.
func (f *Flow) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	quiet := 0
	for {
		res, err := f.river.JobList(ctx, river.NewJobListParams().
			States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStatePending).First(1))
		if err != nil {
			return err
		}
		if len(res.Jobs) == 0 {
			quiet++
			if quiet >= 2 {
				return nil
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for jobs: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// tx runs fn in one database transaction whose *sql.Tx River shares.
func (f *Flow) tx(ctx context.Context, fn func(tx *txn) error) error {
	return store.Tx(ctx, f.db.DB, func(g *gorm.DB, s *sql.Tx) error {
		return fn(&txn{DB: g, sql: s, f: f})
	})
}

// txn is a GORM transaction with the *sql.Tx River inserts jobs into.
type txn struct {
	*gorm.DB
	sql *sql.Tx
	f   *Flow
}

// insert enqueues a job inside the transaction.
func (t *txn) insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return t.f.river.InsertTx(ctx, t.sql, args, opts)
}

var errNoToken = errors.New("shop has no usable access token")
