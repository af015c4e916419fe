package restock_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

const variantID = int64(642667041472713922)

// setup makes an app with one sold-out variant and n waiting shoppers.
func setup(t *testing.T, dsn string, shoppers ...string) *apptest.Env {
	t.Helper()
	e := apptest.New(t, dsn)
	e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
	for _, s := range shoppers {
		if code, body := e.Subscribe(s, variantID); code != http.StatusCreated {
			t.Fatalf("subscribe %s: %d %v", s, code, body)
		}
	}
	return e
}

// restock makes the variant sellable at both locations and delivers the two
// webhooks Shopify sends.
func restock(e *apptest.Env, a, b int) {
	e.T.Helper()
	v := apptest.Variant(variantID)
	e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, a)
	e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 2, b)
	now := e.Clock.Now()
	for _, l := range []struct {
		loc int64
		n   int
	}{{1, a}, {2, b}} {
		if code := e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(v.InventoryItemID, l.loc, apptest.Int(l.n), now)); code != 200 {
			e.T.Fatalf("webhook: %d", code)
		}
	}
	e.Drain()
}

func order(e *apptest.Env, email string, createdAt string) []byte {
	e.T.Helper()
	var o map[string]any
	dec := json.NewDecoder(bytes.NewReader(apptest.Fixture(e.T, "shopify/orders_create.json")))
	dec.UseNumber() // ids above 2^53
	if err := dec.Decode(&o); err != nil {
		e.T.Fatal(err)
	}
	o["email"], o["contact_email"], o["created_at"] = email, email, createdAt
	o["customer"] = nil
	b, _ := json.Marshal(o)
	return b
}

func TestRestockSequenceEndToEnd(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "ann@example.com", "Bob@Example.com ", "cy@example.com")
		if code, body := e.Subscribe("ann@example.com", variantID); code != http.StatusOK || body["status"] != "already_subscribed" {
			t.Fatalf("repeat subscribe: %d %v", code, body)
		}
		restock(e, 5, 3)

		if n := e.Count(&store.Campaign{}, ""); n != 1 {
			t.Fatalf("campaigns = %d, want 1 for a restock across two locations", n)
		}
		got := e.SendGrid.Recipients()
		if len(got) != 3 || len(e.SendGrid.Requests()) != 1 {
			t.Fatalf("step 1: %d recipients in %d requests, want 3 in 1", len(got), len(e.SendGrid.Requests()))
		}
		for _, d := range got {
			if !strings.Contains(d.Subject, "back in stock") || !strings.Contains(d.HTML, "/r/") || !strings.Contains(d.Text, "/u/") {
				t.Errorf("step 1 to %s: subject %q, links missing", d.To, d.Subject)
			}
			if d.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" || !strings.Contains(d.Headers["List-Unsubscribe"], "/u/") {
				t.Errorf("step 1 to %s: headers %v", d.To, d.Headers)
			}
			if d.CustomArgs["step"] != "1" || d.CustomArgs["shop"] != apptest.ShopDomain || d.CustomArgs["campaign_id"] == "" || d.CustomArgs["subscription_id"] == "" {
				t.Errorf("custom args %v", d.CustomArgs)
			}
		}

		// Ann buys; her order's time has a -07:00 offset, after the Z send time.
		sent := e.Clock.Now()
		e.Clock.Advance(2 * time.Hour)
		orderAt := sent.Add(time.Hour).In(time.FixedZone("", -7*3600)).Format(time.RFC3339)
		if code := e.Webhook(shopify.TopicOrdersCreate, order(e, "ANN@example.com", orderAt)); code != 200 {
			t.Fatalf("order webhook: %d", code)
		}
		e.Drain()
		var conv store.Conversion
		if err := e.Store.DB.Take(&conv).Error; err != nil {
			t.Fatalf("conversion: %v", err)
		}
		if conv.Revenue != "39.98" || conv.SecondsToPurchase == nil || *conv.SecondsToPurchase != 3600 || conv.CampaignID == nil {
			t.Fatalf("conversion = %+v, want revenue 39.98 after 3600 s", conv)
		}

		e.Advance(24 * time.Hour)
		all := e.SendGrid.Recipients()
		step2 := all[3:]
		if len(step2) != 2 {
			t.Fatalf("step 2 went to %d shoppers, want 2", len(step2))
		}
		for _, d := range step2 {
			if d.To == "ann@example.com" || d.CustomArgs["step"] != "2" {
				t.Errorf("step 2 to %s (step %s)", d.To, d.CustomArgs["step"])
			}
		}
		if n := e.Count(&store.Message{}, "step = 2 AND status = ? AND skip_reason = ?", store.MsgSkipped, store.SkipConverted); n != 1 {
			t.Errorf("converted skips at step 2 = %d, want 1", n)
		}
		if e.Shopify.InvalidQueries() != 0 {
			t.Errorf("%d GraphQL queries failed schema validation", e.Shopify.InvalidQueries())
		}
	})
}
