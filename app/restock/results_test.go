package restock_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	rr "github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// TestResultsOfARestock: reach, engagement by shopper, orders credited only
// after an email, time to purchase, and the honest totals.
func TestResultsOfARestock(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "b@example.com", "c@example.com", "d@example.com")
		// d buys before any email: not credited to the restock.
		e.Clock.Advance(time.Minute)
		e.Webhook(shopify.TopicOrdersCreate, orderID(e, 9001, "d@example.com"))
		e.Drain()
		restock(e, 5, 0)
		msg := func(addr string) string {
			var m store.Message
			e.Store.DB.Joins("JOIN subscriptions ON subscriptions.id = messages.subscription_id").
				Where("subscriptions.email = ? AND messages.step = 1", addr).Take(&m)
			return strconv.FormatInt(m.ID, 10)
		}
		now := e.Clock.Now().Unix()
		ev := func(kind, addr string) rr.MailEvent {
			return rr.MailEvent{Event: kind, Email: addr, Timestamp: now, Shop: apptest.ShopDomain, MessageID: json.RawMessage(strconv.Quote(msg(addr)))}
		}
		if _, err := e.Flow.RecordMailEvents(t.Context(), []rr.MailEvent{ev("open", "a@example.com"), ev("open", "b@example.com"),
			ev("open", "b@example.com"), ev("click", "b@example.com")}); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(2 * time.Hour)
		e.Webhook(shopify.TopicOrdersCreate, orderID(e, 9002, "a@example.com"))
		e.Drain()
		e.Advance(24 * time.Hour)

		page, err := e.Flow.Results(t.Context(), apptest.ShopDomain, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Restocks) != 1 {
			t.Fatalf("restocks: %+v", page.Restocks)
		}
		r := page.Restocks[0]
		var conv store.Conversion
		e.Store.DB.Where("campaign_id IS NOT NULL").Take(&conv)
		if r.Recipients != 3 || r.Opened != 2 || r.Clicked != 1 || r.Buyers != 1 || r.Orders != 1 || r.Units != int64(conv.Quantity) ||
			len(r.Revenue) != 1 || r.Revenue[0].Amount != conv.Revenue || r.MedianSecondsToPurchase == nil || *r.MedianSecondsToPurchase != 7200 {
			t.Fatalf("result: %+v (conversion %+v)", r, conv)
		}
		if r.OpenRate < 0.66 || r.OpenRate > 0.67 || r.ClickRate < 0.33 || r.ClickRate > 0.34 {
			t.Fatalf("rates: %v %v", r.OpenRate, r.ClickRate)
		}
		if len(r.Steps) != 2 || r.Steps[0].Sent != 3 || r.Steps[1].Sent != 2 || r.Steps[1].Skipped != 1 {
			t.Fatalf("steps: %+v", r.Steps)
		}
		if r.ProductTitle != apptest.Variant(variantID).ProductTitle || r.StockAtOpen != 5 || r.WaitingAtOpen != 3 {
			t.Fatalf("restock: %+v", r)
		}
		tot := page.Totals
		if tot.Restocks != 1 || tot.Recipients != 3 || tot.Orders != 1 || tot.UncreditedOrders != 1 || len(tot.Revenue) != 1 {
			t.Fatalf("totals: %+v", tot)
		}
		// Another shop sees none of it.
		if _, err := e.Flow.InstallShop(t.Context(), "other-shop.myshopify.com", "shpat_o", "", ""); err != nil {
			t.Fatal(err)
		}
		other, _ := e.Flow.Results(t.Context(), "other-shop.myshopify.com", 0, 0)
		if len(other.Restocks) != 0 || other.Totals.Orders != 0 || other.Totals.Recipients != 0 {
			t.Fatalf("other shop: %+v", other)
		}
	})
}

// orderID is an orders/create payload with its own order id, placed now.
func orderID(e *apptest.Env, id int64, addr string) []byte {
	var o map[string]any
	dec := json.NewDecoder(bytes.NewReader(order(e, addr, e.Clock.Now().Format(time.RFC3339))))
	dec.UseNumber() // ids above 2^53
	if err := dec.Decode(&o); err != nil {
		e.T.Fatal(err)
	}
	o["id"] = id
	b, _ := json.Marshal(o)
	return b
}
