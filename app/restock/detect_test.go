package restock_test

import (
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

func variantReads(e *apptest.Env) int {
	n := 0
	for _, q := range e.Shopify.Queries() {
		if strings.Contains(q.Query, "nodes(") || strings.Contains(q.Query, "inventoryItem(") {
			n++
		}
	}
	return n
}

func TestBurstOfCuesCoalesces(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		// Checks wait a second after a cue (as in production), so the burst
		// lands before the one read.
		e := apptest.New(t, dsn, apptest.Options{CheckDelay: time.Second})
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		if code, _ := e.Subscribe("a@example.com", variantID); code != 201 {
			t.Fatal("subscribe")
		}
		before := variantReads(e)
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 7)
		base := e.Clock.Now()
		// A bulk edit: ten updates for one item, out of order, at once.
		for i := range 10 {
			at := base.Add(time.Duration((i*7)%10) * time.Second)
			e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(i), at))
		}
		e.Drain()
		if n := e.Count(&store.Campaign{}, ""); n != 0 {
			t.Fatal("checked before the debounce")
		}
		e.Advance(time.Second)
		if reads := variantReads(e) - before; reads != 1 {
			t.Fatalf("%d Admin API reads for a burst of 10 cues, want 1", reads)
		}
		if n := e.Count(&store.Campaign{}, ""); n != 1 {
			t.Fatalf("campaigns = %d", n)
		}
		var l store.Level
		e.Store.DB.Where("location_id = 1").Take(&l)
		if *l.Available != 7 { // i=7 has the newest updated_at (+9 s)
			t.Fatalf("stored level %d, want the newest (7)", *l.Available)
		}
	})
}

func TestThresholdAndVariantCues(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com")
		s, _ := store.SettingsFor(t.Context(), e.Store.DB, e.Shop.ID)
		s.Threshold = 5
		if err := store.SaveSettings(t.Context(), e.Store.DB, s); err != nil {
			t.Fatal(err)
		}
		// 4 sellable is not above the threshold: no restock.
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 4)
		e.Webhook(shopify.TopicVariantsInStock, variantPayload(variantID))
		e.Drain()
		if n := e.Count(&store.Campaign{}, ""); n != 0 {
			t.Fatalf("campaign opened at 4 with threshold 5")
		}
		// The price changed meanwhile; the restock email shows the new one.
		v := apptest.Variant(variantID)
		v.Price = "24.50"
		v.ProductTitle = "Example T-Shirt (2027 edition)"
		e.Shopify.PutVariant(apptest.ShopDomain, v)
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 6)
		e.Webhook(shopify.TopicVariantsInStock, variantPayload(variantID))
		e.Drain()
		got := e.SendGrid.Recipients()
		if len(got) != 1 || !strings.Contains(got[0].HTML, "$24.50") || !strings.Contains(got[0].Subject, "2027 edition") {
			t.Fatalf("restock email: %d sent; want the fresh price and title", len(got))
		}
	})
}

func TestPolicyContinueAndUntrackedNeverSoldOut(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com")
		restock(e, 2, 0)
		// The merchant lets it sell when out of stock; levels go to zero.
		v := apptest.Variant(variantID)
		v.Policy = "CONTINUE"
		e.Shopify.PutVariant(apptest.ShopDomain, v)
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 0)
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(0), e.Clock.Now()))
		e.Drain()
		var c store.Campaign
		e.Store.DB.Take(&c)
		if c.Status != store.CampaignOpen {
			t.Fatalf("CONTINUE variant treated as sold out: %s", c.CloseReason)
		}
	})
}

func variantPayload(id int64) []byte {
	return []byte(strings.ReplaceAll(`{"id":ID,"product_id":788032119674292922,"title":"Small","price":"19.99","inventory_policy":"deny","inventory_quantity":5,"admin_graphql_api_id":"gid://shopify/ProductVariant/ID"}`,
		"ID", "642667041472713922"))
}
