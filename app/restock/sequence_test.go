package restock_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

func itemID() int64 { return apptest.Variant(variantID).InventoryItemID }

func recipientsTo(e *apptest.Env, step string) map[string]int {
	got := map[string]int{}
	for _, d := range e.SendGrid.Recipients() {
		if d.CustomArgs["step"] == step {
			got[d.To]++
		}
	}
	return got
}

func TestSameWebhookTwiceSendsOnce(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "b@example.com")
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 4)
		body := apptest.InventoryLevel(itemID(), 1, apptest.Int(4), e.Clock.Now())
		// In sequence…
		for range 2 {
			if code := e.WebhookID(shopify.TopicInventoryLevelsUpdate, "dup-1", body); code != 200 {
				t.Fatalf("status %d", code)
			}
		}
		// …and concurrently.
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code := e.WebhookID(shopify.TopicInventoryLevelsUpdate, "dup-2", body); code != 200 {
					t.Errorf("concurrent status %d", code)
				}
			}()
		}
		wg.Wait()
		e.Drain()
		if n := e.Count(&store.Webhook{}, ""); n != 2 {
			t.Errorf("webhook rows = %d, want 2 (one per id)", n)
		}
		got := recipientsTo(e, "1")
		if len(got) != 2 || got["a@example.com"] != 1 || got["b@example.com"] != 1 {
			t.Fatalf("step 1 recipients = %v, want each shopper once", got)
		}
	})
}

func TestStaleLevelIgnored(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com")
		t2 := e.Clock.Now()
		t1 := t2.Add(-time.Minute)
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(5), t2))
		e.Drain()
		var v store.Variant
		e.Store.DB.Take(&v)
		seq := v.CheckSeq
		// An older update delivered late: ignored, no re-check.
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(0), t1))
		e.Drain()
		var l store.Level
		if err := e.Store.DB.Where("location_id = 1").Take(&l).Error; err != nil {
			t.Fatal(err)
		}
		if l.Available == nil || *l.Available != 5 || !l.UpdatedAt.Equal(t2.Truncate(time.Second)) {
			t.Fatalf("level = %v at %v, want 5 at %v", l.Available, l.UpdatedAt, t2)
		}
		e.Store.DB.Take(&v)
		if v.CheckSeq != seq {
			t.Errorf("stale update cued a check (seq %d -> %d)", seq, v.CheckSeq)
		}
		// An update written with another offset but later in time applies.
		later := t2.Add(time.Minute).In(time.FixedZone("", -5*3600))
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(2), later))
		e.Drain()
		e.Store.DB.Where("location_id = 1").Take(&l)
		if *l.Available != 2 {
			t.Errorf("newer update (-05:00) not applied: %v", *l.Available)
		}
	})
}

func TestNullAvailableIsNotSoldOut(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com")
		restock(e, 5, 0)
		if len(recipientsTo(e, "1")) != 1 {
			t.Fatal("no restock")
		}
		// Shopify unreachable: stored levels decide. The item became
		// untracked: available null must not read as zero.
		e.Shopify.SetDown(true)
		e.Clock.Advance(time.Minute)
		now := e.Clock.Now()
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, nil, now))
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 2, nil, now))
		e.Drain()
		var c store.Campaign
		e.Store.DB.Take(&c)
		if c.Status != store.CampaignOpen {
			t.Fatalf("campaign %s (%s) after available:null, want open", c.Status, c.CloseReason)
		}
		var v store.Variant
		e.Store.DB.Take(&v)
		if !v.InStock {
			t.Fatal("variant marked out of stock after available:null")
		}
	})
}

func TestStepOneBatchesOf1000(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn)
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		if code, _ := e.Subscribe("first@example.com", variantID); code != 201 {
			t.Fatal("subscribe")
		}
		subs := make([]store.Subscription, 0, 2499)
		for i := range 2499 {
			subs = append(subs, store.Subscription{ShopID: e.Shop.ID, VariantID: variantID, Email: fmt.Sprintf("s%04d@example.com", i),
				Status: store.SubWaiting})
		}
		if err := e.Store.DB.CreateInBatches(subs, 500).Error; err != nil {
			t.Fatal(err)
		}
		restock(e, 50, 0)
		reqs := e.SendGrid.Requests()
		var sizes []int
		for _, r := range reqs {
			sizes = append(sizes, len(r.Body.Personalizations))
		}
		if fmt.Sprint(sizes) != "[1000 1000 500]" && fmt.Sprint(sizes) != "[1000 500 1000]" && fmt.Sprint(sizes) != "[500 1000 1000]" {
			t.Fatalf("request sizes %v, want 1000, 1000 and 500", sizes)
		}
		seen := map[string]bool{}
		links := map[string]bool{}
		for _, d := range e.SendGrid.Recipients() {
			if seen[d.To] {
				t.Fatalf("%s got step 1 twice", d.To)
			}
			seen[d.To] = true
			i := strings.Index(d.HTML, "/u/")
			link := d.HTML[i : i+strings.IndexByte(d.HTML[i:], '"')]
			if links[link] {
				t.Fatalf("two recipients share the link %s", link)
			}
			links[link] = true
			if !strings.Contains(d.Headers["List-Unsubscribe"], link) {
				t.Fatalf("List-Unsubscribe %q is not the body's link %s", d.Headers["List-Unsubscribe"], link)
			}
		}
		if len(seen) != 2500 {
			t.Fatalf("%d distinct recipients, want 2500", len(seen))
		}
		if n := e.Count(&store.Message{}, "step = 1 AND status = ?", store.MsgSent); n != 2500 {
			t.Fatalf("sent messages = %d", n)
		}
	})
}

func TestRateLimitedThenAcceptedSendsOnce(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "b@example.com")
		e.SendGrid.FailNext(http.StatusTooManyRequests, "", nil)
		restock(e, 3, 0)
		if e.SendGrid.Attempts() != 2 || len(e.SendGrid.Requests()) != 1 {
			t.Fatalf("attempts %d, accepted %d; want 429 then one 202", e.SendGrid.Attempts(), len(e.SendGrid.Requests()))
		}
		if got := recipientsTo(e, "1"); len(got) != 2 || got["a@example.com"] != 1 {
			t.Fatalf("recipients %v", got)
		}
		if e.Sleeps.Load() == 0 {
			t.Error("no backoff before the retry")
		}
	})
}

func TestServerErrorsRetriedByJob(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com")
		for range 6 { // every attempt of the first job run fails
			e.SendGrid.FailNext(http.StatusInternalServerError, "", nil)
		}
		restock(e, 3, 0) // the failed run's retry is due by the test clock: Drain runs it
		if got := recipientsTo(e, "1"); got["a@example.com"] != 1 {
			t.Fatalf("after retry: %v", got)
		}
		if a := e.SendGrid.Attempts(); a != 7 {
			t.Fatalf("attempts = %d, want 6 failed + 1", a)
		}
		var j int64
		e.Store.DB.Raw("SELECT count(*) FROM river_job WHERE kind = 'send_batch' AND attempt = 2 AND state = 'completed'").Scan(&j)
		if j != 1 {
			t.Fatalf("batch job not completed on its second attempt")
		}
	})
}

func TestBadAddressDroppedOthersDelivered(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "bounce-me@example.com", "c@example.com")
		e.SendGrid.RejectAddress("bounce-me@example.com")
		restock(e, 3, 0)
		got := recipientsTo(e, "1")
		if len(got) != 2 || got["a@example.com"] != 1 || got["c@example.com"] != 1 {
			t.Fatalf("delivered %v, want a and c once", got)
		}
		var m store.Message
		e.Store.DB.Where("status = ?", store.MsgFailed).Take(&m)
		if !strings.Contains(m.SkipReason, store.SkipRejected) {
			t.Fatalf("bad address message: %+v", m)
		}
	})
}

func unsubscribeLink(e *apptest.Env, to string) string {
	for _, d := range e.SendGrid.Recipients() {
		if d.To == to {
			l := d.Headers["List-Unsubscribe"]
			return strings.Trim(l, "<>")
		}
	}
	e.T.Fatalf("no email to %s", to)
	return ""
}

func TestStepTwoSkipsUnsubscribedAndSoldOut(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "b@example.com")
		restock(e, 3, 0)
		resp, err := http.Post(unsubscribeLink(e, "b@example.com"), "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"List-Unsubscribe": {"One-Click"}}.Encode()))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("one-click unsubscribe: %v %v", err, resp)
		}
		resp.Body.Close()
		e.Advance(24 * time.Hour)
		if got := recipientsTo(e, "2"); len(got) != 1 || got["a@example.com"] != 1 {
			t.Fatalf("step 2 to %v, want only a", got)
		}
		if n := e.Count(&store.Message{}, "step = 2 AND skip_reason = ?", store.SkipUnsubscribed); n != 1 {
			t.Errorf("unsubscribed skips = %d", n)
		}
	})
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "b@example.com")
		restock(e, 3, 0)
		e.Clock.Advance(time.Hour)
		// Sold out again before the reminder.
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 0)
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(0), e.Clock.Now()))
		e.Drain()
		e.Advance(24 * time.Hour)
		if got := recipientsTo(e, "2"); len(got) != 0 {
			t.Fatalf("step 2 went to %v after selling out", got)
		}
		if n := e.Count(&store.Message{}, "step = 2 AND status = ? AND skip_reason = ?", store.MsgSkipped, store.SkipSoldOut); n != 2 {
			t.Errorf("sold-out skips = %d, want 2", n)
		}
		// Both wait again for the next restock, which opens a new campaign.
		if n := e.Count(&store.Subscription{}, "status = ? AND cycles = 1", store.SubWaiting); n != 2 {
			t.Fatalf("waiting again = %d, want 2", n)
		}
		restock(e, 2, 0)
		if n := e.Count(&store.Campaign{}, ""); n != 2 {
			t.Fatalf("campaigns = %d, want 2", n)
		}
		if got := recipientsTo(e, "1"); got["a@example.com"] != 2 {
			t.Fatalf("second restock notices: %v", got)
		}
	})
}

func TestOrderBeforeInventoryWebhookCounts(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "b@example.com")
		// Shopify already sells it; the order webhook beats the inventory one.
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 3)
		e.Clock.Advance(time.Minute)
		if code := e.Webhook(shopify.TopicOrdersCreate, order(e, "a@example.com", e.Clock.Now().Format(time.RFC3339))); code != 200 {
			t.Fatal(code)
		}
		e.Drain()
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(3), e.Clock.Now()))
		e.Drain()
		if n := e.Count(&store.Conversion{}, "variant_id = ?", variantID); n != 1 {
			t.Fatalf("conversions = %d, want 1", n)
		}
		if got := recipientsTo(e, "1"); len(got) != 1 || got["b@example.com"] != 1 {
			t.Fatalf("step 1 to %v, want only b (a already bought)", got)
		}
	})
}

// blockingSender holds the first send until released, like a process that
// stalls mid-job; it can then fail as if killed.
type blockingSender struct {
	inner   email.Sender
	started chan struct{}
	once    sync.Once
}

func (b *blockingSender) Send(ctx context.Context, m *email.Message) (email.Result, error) {
	first := false
	b.once.Do(func() { first = true })
	if first {
		close(b.started)
		<-ctx.Done() // killed before the request left
		return email.Result{}, ctx.Err()
	}
	return b.inner.Send(ctx, m)
}

func TestCrashMidJobAndBetweenStepsLosesAndDoublesNothing(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		// First process: the worker is killed in the middle of step 1.
		bs := &blockingSender{started: make(chan struct{})}
		e1 := apptest.New(t, dsn, apptest.Options{Sender: bs, NoStart: true})
		e1.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		for _, s := range []string{"a@example.com", "b@example.com"} {
			e1.Subscribe(s, variantID)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := e1.Flow.Start(ctx); err != nil {
			t.Fatal(err)
		}
		e1.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 3)
		e1.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(3), e1.Clock.Now()))
		<-bs.started
		stopCtx, c2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer c2()
		if err := e1.Flow.River().StopAndCancel(stopCtx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if n := e1.Count(&store.Message{}, "status = ?", store.MsgSent); n != 0 {
			t.Fatalf("sent before the crash: %d", n)
		}

		// Second process on the same database, sending for real.
		e2 := apptest.New(t, dsn, apptest.Options{NoStart: true})
		e2.Clock.Set(e1.Clock.Now())
		e2.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		e2.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 3)
		e2.StartJobs()
		e2.Advance(time.Minute) // the killed batch's retry falls due
		if got := recipientsTo(e2, "1"); len(got) != 2 || got["a@example.com"] != 1 || got["b@example.com"] != 1 {
			t.Fatalf("after restart step 1 went to %v, want each once", got)
		}
		// Crash between steps: a third process sends step 2, once.
		if err := e2.Flow.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		e3 := apptest.New(t, dsn, apptest.Options{NoStart: true})
		e3.Clock.Set(e2.Clock.Now())
		e3.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		e3.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 3)
		e3.StartJobs()
		e3.Advance(24 * time.Hour)
		e3.Advance(24 * time.Hour) // nothing more is due
		if got := recipientsTo(e3, "2"); len(got) != 2 || got["a@example.com"] != 1 || got["b@example.com"] != 1 {
			t.Fatalf("step 2 to %v, want each once", got)
		}
		if got := recipientsTo(e3, "1"); len(got) != 0 {
			t.Fatalf("step 1 sent again after restart: %v", got)
		}
		if n := e3.Count(&store.Message{}, "status <> ?", store.MsgSent); n != 0 {
			t.Fatalf("%d messages not sent", n)
		}
	})
}
