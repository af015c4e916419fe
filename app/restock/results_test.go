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
		e.Webhook(shopify.TopicOrdersCreate, orderFull(e, 9001, "d@example.com", "d@example.com", e.Clock.Now()))
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
		e.Webhook(shopify.TopicOrdersCreate, orderFull(e, 9002, "a@example.com", "a@example.com", e.Clock.Now()))
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

// orderFull is an orders/create payload with its own id, placed at, and a
// contact email that may differ from the order email.
func orderFull(e *apptest.Env, id int64, addr, contact string, at time.Time) []byte {
	var o map[string]any
	dec := json.NewDecoder(bytes.NewReader(order(e, addr, at.Format(time.RFC3339))))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		e.T.Fatal(err)
	}
	o["id"], o["contact_email"] = id, contact
	b, _ := json.Marshal(o)
	return b
}

// Regressions from a review of the Results tab, each with its input.

// One order matching two signups counts once.
func TestResultsOneOrderTwoSignups(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "a.work@example.com", "c@example.com")
		restock(e, 5, 0)
		e.Clock.Advance(time.Hour)
		e.Webhook(shopify.TopicOrdersCreate, orderFull(e, 7001, "a@example.com", "a.work@example.com", e.Clock.Now()))
		e.Drain()
		page, _ := e.Flow.Results(t.Context(), apptest.ShopDomain, 0, 0)
		r := page.Restocks[0]
		var conv store.Conversion
		e.Store.DB.Where("order_id = 7001").Take(&conv)
		if r.Orders != 1 || r.Buyers != 1 || r.Units != int64(conv.Quantity) || r.Revenue[0].Amount != conv.Revenue ||
			page.Totals.Revenue[0].Amount != conv.Revenue || e.Count(&store.Conversion{}, "order_id = 7001") != 2 {
			t.Fatalf("orders %d buyers %d units %d revenue %v totals %v (one conversion: %+v)", r.Orders, r.Buyers, r.Units, r.Revenue, page.Totals.Revenue, conv)
		}
	})
}

// A late order belongs to the restock before it.
func TestResultsLateOrderBelongsToEarlierRestock(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "b@example.com")
		restock(e, 5, 0)
		e.Clock.Advance(time.Hour)
		orderedAt := e.Clock.Now()
		restock(e, 0, 0) // sold out: a and b wait again
		e.Clock.Advance(24 * time.Hour)
		restock(e, 3, 0) // restock 2 emails them again
		e.Clock.Advance(time.Minute)
		// Only now is the order (placed after restock 1's email) processed.
		e.Webhook(shopify.TopicOrdersCreate, orderFull(e, 7002, "a@example.com", "a@example.com", orderedAt))
		e.Drain()
		page, _ := e.Flow.Results(t.Context(), apptest.ShopDomain, 0, 0)
		if len(page.Restocks) != 2 || page.Restocks[1].Orders != 1 || page.Restocks[0].Orders != 0 ||
			page.Totals.UncreditedOrders != 0 || page.Totals.Orders != 1 {
			t.Fatalf("restock 2 orders %d, restock 1 orders %d, totals %+v", page.Restocks[0].Orders, page.Restocks[1].Orders, page.Totals)
		}
	})
}

// An open proves an unconfirmed email was delivered.
func TestResultsOpenConfirmsUnconfirmedEmail(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "a@example.com", "b@example.com")
		restock(e, 5, 0)
		var ms []store.Message
		e.Store.DB.Where("step = 1").Order("id").Find(&ms)
		e.Store.DB.Model(&store.Message{}).Where("id = ?", ms[1].ID).Update("status", store.MsgUnconfirmed)
		var evs []rr.MailEvent
		for _, m := range ms {
			evs = append(evs, rr.MailEvent{Event: "open", Timestamp: e.Clock.Now().Unix(), Shop: apptest.ShopDomain,
				MessageID: json.RawMessage(strconv.Quote(strconv.FormatInt(m.ID, 10)))})
		}
		if _, err := e.Flow.RecordMailEvents(t.Context(), evs); err != nil {
			t.Fatal(err)
		}
		page, _ := e.Flow.Results(t.Context(), apptest.ShopDomain, 0, 0)
		r := page.Restocks[0]
		if r.Recipients != 2 || r.Opened != 2 || r.OpenRate != 1 || e.Count(&store.Message{}, "status = ?", store.MsgUnconfirmed) != 0 {
			t.Fatalf("recipients %d opened %d rate %v", r.Recipients, r.Opened, r.OpenRate)
		}
	})
}
