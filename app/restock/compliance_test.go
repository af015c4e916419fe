package restock_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

func TestCustomersRedactDeletesOneShopperInOneShop(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "ann@example.com", "bob@example.com")
		restock(e, 3, 0)
		e.Clock.Advance(time.Hour)
		e.Webhook(shopify.TopicOrdersCreate, order(e, "ann@example.com", e.Clock.Now().Format(time.RFC3339)))
		e.Drain()
		// The same address in another shop must stay.
		other, err := e.Flow.InstallShop(t.Context(), "other-shop.myshopify.com", "shpat_other", "Other", "USD")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Store.DB.Create(&store.Subscription{ShopID: other.ID, VariantID: 1, Email: "ann@example.com", Status: store.SubWaiting}).Error; err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		json.Unmarshal(apptest.Fixture(t, "shopify/customers_redact.json"), &p)
		p["shop_domain"] = apptest.ShopDomain
		p["customer"] = map[string]any{"id": 1, "email": "  Ann@EXAMPLE.com", "phone": ""}
		body, _ := json.Marshal(p)
		if code := e.Webhook(shopify.TopicCustomersRedact, body); code != 200 {
			t.Fatal(code)
		}
		e.Drain()
		if n := e.Count(&store.Subscription{}, "shop_id = ? AND email = ?", e.Shop.ID, "ann@example.com"); n != 0 {
			t.Errorf("ann's subscriptions left: %d", n)
		}
		if n := e.Count(&store.Subscription{}, "shop_id = ? AND email = ?", other.ID, "ann@example.com"); n != 1 {
			t.Errorf("the other shop's subscription was touched")
		}
		if n := e.Count(&store.Subscription{}, "email = ?", "bob@example.com"); n != 1 {
			t.Errorf("bob's subscription was touched")
		}
		if n := e.Count(&store.Message{}, ""); n != 1 {
			t.Errorf("messages left = %d, want bob's only", n)
		}
		if n := e.Count(&store.Conversion{}, "subscription_id IS NULL"); n != 1 {
			t.Errorf("the conversion count must stay, detached")
		}
	})
}

func TestShopRedactDeletesOnlyThatShop(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "ann@example.com")
		restock(e, 3, 0)
		other, _ := e.Flow.InstallShop(t.Context(), "other-shop.myshopify.com", "shpat_other", "Other", "USD")
		e.Store.DB.Create(&store.Subscription{ShopID: other.ID, VariantID: 1, Email: "ann@example.com", Status: store.SubWaiting})
		e.Webhook(shopify.TopicAppUninstalled, apptest.Fixture(t, "shopify/app_uninstalled.json"))
		e.Drain()
		body, _ := json.Marshal(map[string]any{"shop_id": 1, "shop_domain": apptest.ShopDomain})
		e.Webhook(shopify.TopicShopRedact, body)
		e.Drain()
		for _, m := range []any{&store.Subscription{}, &store.Message{}, &store.Campaign{}, &store.Variant{}, &store.Level{}} {
			if n := e.Count(m, "shop_id = ?", e.Shop.ID); n != 0 {
				t.Errorf("%T rows left for the redacted shop: %d", m, n)
			}
		}
		if n := e.Count(&store.Webhook{}, "shop_domain = ?", apptest.ShopDomain); n != 0 {
			t.Errorf("webhooks left: %d", n)
		}
		if n := e.Count(&store.Subscription{}, "shop_id = ?", other.ID); n != 1 {
			t.Errorf("other shop lost data")
		}
	})
}
