package restock_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// useWaves sets the shop's waves: size shoppers per unit in stock, one
// wave per interval.
func useWaves(t *testing.T, e *apptest.Env, size int, interval time.Duration) {
	t.Helper()
	v, err := e.Flow.ShopSettings(t.Context(), apptest.ShopDomain)
	if err != nil {
		t.Fatal(err)
	}
	in := v.Settings
	in.WaveSize, in.WaveIntervalSeconds = size, int(interval/time.Second)
	if err := e.Flow.SaveShopSettings(t.Context(), apptest.ShopDomain, in); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k, n := range m {
		if n != 1 {
			out = append(out, fmt.Sprintf("%s×%d", k, n))
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func shoppers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("s%02d@example.com", i)
	}
	return out
}

// TestWavesFollowStock: two shoppers per unit in stock, a wave an hour,
// oldest signups first; each wave's reminder counts from that wave.
func TestWavesFollowStock(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(5)...)
		useWaves(t, e, 2, time.Hour)
		restock(e, 1, 0) // one unit: a wave of two
		if got := sortedKeys(recipientsTo(e, "1")); fmt.Sprint(got) != "[s00@example.com s01@example.com]" {
			t.Fatalf("wave 0 went to %v", got)
		}
		e.Advance(59 * time.Minute)
		if n := len(recipientsTo(e, "1")); n != 2 {
			t.Fatalf("the next wave left early: %d", n)
		}
		e.Advance(time.Minute + time.Second)
		if got := sortedKeys(recipientsTo(e, "1")); len(got) != 4 || got[2] != "s02@example.com" || got[3] != "s03@example.com" {
			t.Fatalf("after wave 1: %v", got)
		}
		e.Advance(time.Hour)
		if got := sortedKeys(recipientsTo(e, "1")); len(got) != 5 {
			t.Fatalf("after wave 2: %v", got)
		}
		e.Advance(3 * time.Hour) // nobody left: no more waves, nobody twice
		if got := sortedKeys(recipientsTo(e, "1")); len(got) != 5 {
			t.Fatalf("step 1 recipients: %v", got)
		}
		var waves []int
		e.Store.DB.Model(&store.Message{}).Where("step = 1").Order("subscription_id").Pluck("wave", &waves)
		if fmt.Sprint(waves) != "[0 0 1 1 2]" {
			t.Fatalf("message waves %v", waves)
		}

		// Reminders: wave 0 at 24 h after the restock, wave 1 an hour later.
		e.Advance(24*time.Hour - 5*time.Hour - 2*time.Minute) // 23 h 58 m after the restock
		if n := len(recipientsTo(e, "2")); n != 0 {
			t.Fatalf("reminders before 24 h: %d", n)
		}
		e.Advance(2 * time.Minute)
		if got := sortedKeys(recipientsTo(e, "2")); fmt.Sprint(got) != "[s00@example.com s01@example.com]" {
			t.Fatalf("wave 0 reminder went to %v", got)
		}
		e.Advance(time.Hour + time.Second)
		e.Advance(time.Hour + time.Second)
		if got := sortedKeys(recipientsTo(e, "2")); len(got) != 5 {
			t.Fatalf("reminders after all waves: %v", got)
		}
	})
}

// TestWavesStopWhenSoldOut: a wave that finds the variant sold out sends
// nothing; shoppers not reached keep waiting (no restock cycle used) for
// the next restock, which starts with them.
func TestWavesStopWhenSoldOut(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(6)...)
		useWaves(t, e, 1, time.Hour)
		restock(e, 2, 0) // two units: two shoppers
		if n := len(recipientsTo(e, "1")); n != 2 {
			t.Fatalf("wave 0: %d", n)
		}
		// Both units sell; Shopify reports the variant out of stock.
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 0)
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(0), e.Clock.Now()))
		e.Drain()
		e.Advance(time.Hour + time.Second)
		if n := len(recipientsTo(e, "1")); n != 2 {
			t.Fatalf("a wave went out while sold out: %d", n)
		}
		// Told but did not buy: waiting again, one cycle used. Not reached:
		// waiting, no cycle used.
		var cycles []int
		e.Store.DB.Model(&store.Subscription{}).Where("status = ?", store.SubWaiting).Order("id").Pluck("cycles", &cycles)
		if fmt.Sprint(cycles) != "[1 1 0 0 0 0]" {
			t.Fatalf("cycles of the waiting shoppers: %v", cycles)
		}
		// The next restock starts with the shoppers the first one did not reach.
		e.Advance(time.Minute)
		restock(e, 1, 0)
		got := recipientsTo(e, "1")
		if got["s02@example.com"] != 1 || len(got) != 3 || got["s00@example.com"] != 1 {
			t.Fatalf("second restock went to %v", sortedKeys(got))
		}
	})
}
