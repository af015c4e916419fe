// Regression tests from a hostile review of waves: each scenario once produced
// a doubled, lost or endless wave (see the commit that fixed them).
package restock_test

import (
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

func stepJobs(e *apptest.Env) int64 {
	var n int64
	e.Store.DB.Raw("SELECT count(*) FROM river_job WHERE kind = 'send_step'").Scan(&n)
	return n
}

func soldOutNow(e *apptest.Env) {
	e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 0)
	e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 2, 0)
	e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(0), e.Clock.Now()))
	e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 2, apptest.Int(0), e.Clock.Now()))
	e.Drain()
}

// A shopper at the head of the queue who cannot be emailed (suppressed,
// or refused by the provider) must not block the shoppers behind.
func TestHostileUnmailableHeadBlocksWaves(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		block func(t *testing.T, e *apptest.Env)
	}{
		{"suppressed", func(t *testing.T, e *apptest.Env) {
			if err := store.AddSuppression(t.Context(), e.Store.DB, e.Shop.ID, "s00@example.com", "bounce"); err != nil {
				t.Fatal(err)
			}
		}},
		{"rejected", func(t *testing.T, e *apptest.Env) { e.SendGrid.RejectAddress("s00@example.com") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
				e := setup(t, dsn, shoppers(3)...)
				useWaves(t, e, 1, time.Hour)
				c.block(t, e)
				restock(e, 1, 0)
				for range 6 {
					e.Advance(time.Hour + time.Second)
				}
				got := recipientsTo(e, "1")
				if got["s01@example.com"] != 1 || got["s02@example.com"] != 1 {
					t.Errorf("s01/s02 never reached: %v (send_step jobs %d)", sortedKeys(got), stepJobs(e))
				}
			})
		})
	}
}

// Every remaining shopper suppressed: waves should end, not loop forever.
func TestHostileAllSuppressedLoops(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(3)...)
		useWaves(t, e, 1, time.Hour)
		for _, s := range shoppers(3)[1:] {
			store.AddSuppression(t.Context(), e.Store.DB, e.Shop.ID, s, "bounce")
		}
		restock(e, 1, 0)
		for range 30 {
			e.Advance(time.Hour + time.Second)
		}
		// Waves 0–2 reach one shopper each (two of them suppressed, so
		// skipped), wave 3 finds nobody and ends them: four step-1 jobs,
		// three reminders, nothing left scheduled.
		var pending int64
		e.Store.DB.Raw("SELECT count(*) FROM river_job WHERE kind = 'send_step' AND state IN ('available', 'scheduled', 'retryable')").Scan(&pending)
		if n := stepJobs(e); n != 7 || pending != 0 {
			t.Errorf("waves keep going: %d step jobs, %d still to run", n, pending)
		}
		if got := recipientsTo(e, "1"); len(got) != 1 || got["s00@example.com"] != 1 {
			t.Errorf("step 1 went to %v", sortedKeys(got))
		}
	})
}

// A wave mixing never-told (high ids) and told-once (low ids) shoppers.
func TestHostileMixedCyclesWave(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(6)...)
		useWaves(t, e, 1, time.Hour)
		restock(e, 2, 0) // s00, s01
		if n := len(recipientsTo(e, "1")); n != 2 {
			t.Fatalf("wave 0: %d", n)
		}
		e.Advance(time.Minute)
		soldOutNow(e)
		e.Advance(time.Minute)
		e.SendGrid.Reset()
		restock(e, 6, 0) // budget 6: s02..s05 then s00, s01
		got := recipientsTo(e, "1")
		t.Logf("second restock wave 0: %v", sortedKeys(got))
		if len(got) != 6 {
			t.Errorf("second restock wave 0 reached %d of 6: %v", len(got), sortedKeys(got))
		}
	})
}

// Many waves: 1 per unit, stock 1, 50 shoppers.
func TestHostileManyWaves(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(20)...)
		useWaves(t, e, 1, 15*time.Minute)
		restock(e, 1, 0)
		for range 22 {
			e.Advance(15*time.Minute + time.Second)
		}
		got := recipientsTo(e, "1")
		for k, n := range got {
			if n != 1 {
				t.Errorf("%s got step 1 %d times", k, n)
			}
		}
		if len(got) != 20 {
			t.Errorf("reached %d of 20", len(got))
		}
		e.Advance(48 * time.Hour)
		e.Advance(48 * time.Hour)
		r2, r3 := recipientsTo(e, "2"), recipientsTo(e, "3")
		t.Logf("step2 %d step3 %d jobs %d", len(r2), len(r3), stepJobs(e))
		if len(r2) != 20 {
			t.Errorf("step 2 reached %d", len(r2))
		}
		for k, n := range r2 {
			if n != 1 {
				t.Errorf("%s got step 2 %d times", k, n)
			}
		}
	})
}
