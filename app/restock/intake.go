package restock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// intake records webhooks in shared transactions: deliveries that arrive
// together are inserted with their jobs in one commit (group commit), and
// each is answered once that commit is durable. One transaction per
// delivery would bound intake by the database's commit latency.
type intake struct {
	f        *Flow
	reqs     chan *intakeReq
	maxBatch int
	startMu  sync.Mutex
	started  bool
	quit     chan struct{}
	wg       sync.WaitGroup
	commits  atomic.Int64
	records  atomic.Int64
}

// IntakeStats reports how many intake commits recorded how many deliveries.
func (f *Flow) IntakeStats() (commits, deliveries int64) {
	return f.intake.commits.Load(), f.intake.records.Load()
}

type intakeReq struct {
	in      IncomingWebhook
	hook    *store.Webhook
	outcome string
	done    chan error
}

// intakeCommitters is how many batches may commit at once: two keep one
// batch filling while the other commits; more only shrink the batches.
const intakeCommitters = 2

func newIntake(f *Flow) *intake {
	return &intake{f: f, reqs: make(chan *intakeReq, 4096), maxBatch: 200, quit: make(chan struct{})}
}

func (in *intake) start() {
	in.startMu.Lock()
	defer in.startMu.Unlock()
	if in.started {
		return
	}
	in.started = true
	n := intakeCommitters
	if in.f.db.Dialect == store.SQLite {
		n = 1 // one writer
	}
	for range n {
		in.wg.Add(1)
		go in.loop()
	}
}

func (in *intake) stop() {
	in.startMu.Lock()
	defer in.startMu.Unlock()
	if !in.started {
		return
	}
	close(in.quit)
	in.wg.Wait()
	in.started = false
	in.quit = make(chan struct{})
}

// loop takes whatever is waiting (at least one delivery), up to maxBatch,
// and commits it; under load batches grow by themselves while the previous
// commit is in flight, and a lone delivery never waits for company.
func (in *intake) loop() {
	defer in.wg.Done()
	for {
		var first *intakeReq
		select {
		case first = <-in.reqs:
		case <-in.quit:
			return
		}
		batch := []*intakeReq{first}
	fill:
		for len(batch) < in.maxBatch {
			select {
			case r := <-in.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		err := in.commit(batch)
		if err != nil && len(batch) > 1 {
			// One bad delivery must not fail the others: commit each alone.
			for _, r := range batch {
				r.done <- in.commit([]*intakeReq{r})
			}
			in.commits.Add(int64(len(batch)))
			in.records.Add(int64(len(batch)))
			continue
		}
		in.commits.Add(1)
		in.records.Add(int64(len(batch)))
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (in *intake) commit(batch []*intakeReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := in.f
	now := f.Now()
	// Deliveries repeated inside one batch: the first one stands.
	seen := make(map[string]*intakeReq, len(batch))
	var rows []*store.Webhook
	for _, r := range batch {
		r.outcome = r.hook.Status
		if prev, dup := seen[r.in.WebhookID]; dup {
			r.hook = prev.hook
			r.outcome = IntakeDuplicate
			continue
		}
		seen[r.in.WebhookID] = r
		r.hook.ReceivedAt = now
		rows = append(rows, r.hook)
	}
	return f.tx(ctx, func(tx *txn) error {
		inserted, err := store.RecordWebhooks(ctx, tx.DB, rows)
		if err != nil {
			return fmt.Errorf("record webhooks: %w", err)
		}
		var ids []int64
		for _, r := range batch {
			if r.outcome == IntakeDuplicate {
				continue
			}
			if !inserted[r.in.WebhookID] {
				r.outcome = IntakeDuplicate
				continue
			}
			if r.outcome != store.WebhookQueued {
				continue
			}
			if r.in.Topic == shopify.TopicAppUninstalled && bodyNamesShop(r.in.Body, r.in.Shop) {
				if err := store.MarkUninstalled(ctx, tx.DB, r.in.Shop, r.in.TriggeredAt); err != nil &&
					!errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrStaleUninstall) {
					return fmt.Errorf("mark uninstalled: %w", err)
				}
			}
			ids = append(ids, r.hook.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		// One job for the commit's deliveries: inserting a job per delivery
		// costs more than recording them.
		_, err = tx.insert(ctx, WebhookArgs{WebhookRowIDs: ids}, nil)
		return err
	})
}

// AcceptWebhook records a delivery under its webhook id and enqueues its
// processing in the same transaction. A repeated id changes nothing. A body
// that does not parse is kept for inspection and not processed.
// app/uninstalled takes effect here, before the answer: sending stops at once.
func (f *Flow) AcceptWebhook(ctx context.Context, in IncomingWebhook) (string, error) {
	w := &store.Webhook{WebhookID: in.WebhookID, ShopDomain: in.Shop, Topic: in.Topic, Status: store.WebhookQueued, Body: in.Body}
	if !in.TriggeredAt.IsZero() {
		t := in.TriggeredAt.UTC()
		w.TriggeredAt = &t
	}
	switch {
	case !json.Valid(in.Body):
		w.Status, w.Error = store.WebhookInvalid, "body is not valid JSON"
	case bytes.Contains(in.Body, []byte(`\u0000`)):
		// PostgreSQL text cannot hold NUL; Shopify never sends it.
		w.Status, w.Error = store.WebhookInvalid, "body contains a NUL character"
	case !handledTopics[in.Topic]:
		w.Status, w.Body = store.WebhookIgnored, nil
	}
	f.intake.start()
	r := &intakeReq{in: in, hook: w, done: make(chan error, 1)}
	select {
	case f.intake.reqs <- r:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case err := <-r.done:
		if err != nil {
			return "", err
		}
	case <-ctx.Done():
		return "", ctx.Err()
	}
	switch r.outcome {
	case IntakeDuplicate:
		return IntakeDuplicate, nil
	case store.WebhookInvalid:
		return IntakeInvalid, nil
	case store.WebhookIgnored:
		return IntakeIgnored, nil
	}
	return IntakeQueued, nil
}

// bodyNamesShop reports whether an app/uninstalled body agrees with the
// header's shop (the HMAC covers the body, not the headers). Shopify's
// payload may leave myshopify_domain null; then only the header is known.
func bodyNamesShop(body []byte, shop string) bool {
	var p shopify.ShopPayload
	if shopify.DecodePayload(body, &p) != nil {
		return false
	}
	if p.MyshopifyDomain == "" {
		return true
	}
	d, err := shopify.NormalizeShop(p.MyshopifyDomain)
	return err == nil && d == shop
}
