package restock

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/restockrelay/restockrelay/app/store"
)

// Money is an amount in one currency.
type Money struct {
	Amount   string `json:"amount"` // decimal, two places
	Currency string `json:"currency"`
	Display  string `json:"display"`
}

// StepResult counts one step's messages by outcome.
type StepResult struct {
	Step        int   `json:"step"`
	Sent        int64 `json:"sent"`
	Skipped     int64 `json:"skipped"`
	Failed      int64 `json:"failed"`
	Unconfirmed int64 `json:"unconfirmed"`
	Pending     int64 `json:"pending"`
}

// RestockResult is what one restock (campaign) did: who it reached, who
// opened and clicked, and the orders of the restocked variant placed by
// those shoppers after their first email of it.
type RestockResult struct {
	CampaignID    int64        `json:"campaign_id"`
	VariantID     int64        `json:"variant_id"`
	ProductTitle  string       `json:"product_title"`
	VariantTitle  string       `json:"variant_title"`
	ImageURL      string       `json:"image_url"`
	OpenedAt      time.Time    `json:"opened_at"`
	ClosedAt      *time.Time   `json:"closed_at"`
	Status        string       `json:"status"`
	CloseReason   string       `json:"close_reason"`
	StockAtOpen   int          `json:"stock_at_open"`
	WaitingAtOpen int          `json:"waiting_at_open"`
	Steps         []StepResult `json:"steps"`
	// Recipients are the shoppers whose restock notice was sent.
	Recipients int64 `json:"recipients"`
	// Opened and Clicked count shoppers (not emails) with at least one.
	Opened    int64   `json:"opened"`
	Clicked   int64   `json:"clicked"`
	OpenRate  float64 `json:"open_rate"`
	ClickRate float64 `json:"click_rate"`
	// Buyers are shoppers with an order credited to this restock.
	Buyers         int64   `json:"buyers"`
	Orders         int64   `json:"orders"`
	Units          int64   `json:"units"`
	Revenue        []Money `json:"revenue"`
	ConversionRate float64 `json:"conversion_rate"`
	// MedianSecondsToPurchase is from a buyer's first email to the order.
	MedianSecondsToPurchase *int64 `json:"median_seconds_to_purchase"`
}

// ResultsTotals sum every restock of the shop.
type ResultsTotals struct {
	Restocks   int64   `json:"restocks"`
	Recipients int64   `json:"recipients"`
	Orders     int64   `json:"orders"`
	Revenue    []Money `json:"revenue"`
	// UncreditedOrders were placed by waiting shoppers before any email of
	// a restock reached them: the app does not claim them.
	UncreditedOrders int64 `json:"uncredited_orders"`
}

// ResultsPage is a page of restocks, newest first, and the shop's totals.
type ResultsPage struct {
	Restocks []RestockResult `json:"restocks"`
	Next     int64           `json:"next"`
	Totals   ResultsTotals   `json:"totals"`
}

// Results reports the shop's restocks, newest first, limit per page
// (default 20, at most 100), before a campaign id (0: from the newest).
func (f *Flow) Results(ctx context.Context, shopDomain string, before int64, limit int) (ResultsPage, error) {
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return ResultsPage{}, err
	}
	db := f.db.DB.WithContext(ctx)
	page := ResultsPage{Restocks: []RestockResult{}}
	if page.Totals, err = f.resultsTotals(ctx, shop.ID); err != nil {
		return ResultsPage{}, err
	}
	q := db.Where("shop_id = ?", shop.ID)
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var cs []store.Campaign
	if err := q.Order("id DESC").Limit(limit + 1).Find(&cs).Error; err != nil {
		return ResultsPage{}, fmt.Errorf("list restocks: %w", err)
	}
	if len(cs) > limit {
		cs = cs[:limit]
		page.Next = cs[len(cs)-1].ID
	}
	if len(cs) == 0 {
		return page, nil
	}
	ids := make([]int64, len(cs))
	variantIDs := make([]int64, len(cs))
	for i, c := range cs {
		ids[i], variantIDs[i] = c.ID, c.VariantID
	}
	var vs []store.Variant
	if err := db.Where("shop_id = ? AND variant_id IN ?", shop.ID, variantIDs).Find(&vs).Error; err != nil {
		return ResultsPage{}, err
	}
	byVariant := map[int64]store.Variant{}
	for _, v := range vs {
		byVariant[v.VariantID] = v
	}
	var counts []struct {
		CampaignID int64
		Step       int
		Status     string
		N          int64
	}
	if err := db.Model(&store.Message{}).Select("campaign_id, step, status, COUNT(*) AS n").
		Where("campaign_id IN ?", ids).Group("campaign_id, step, status").Scan(&counts).Error; err != nil {
		return ResultsPage{}, fmt.Errorf("count messages: %w", err)
	}
	var reach []struct {
		CampaignID int64
		Recipients int64
		Opened     int64
		Clicked    int64
	}
	// Opens and clicks count among the shoppers emailed (step 1 sent), so
	// a rate never passes 100 %.
	if err := db.Raw(`SELECT m.campaign_id AS campaign_id,
		COUNT(DISTINCT CASE WHEN m.step = 1 AND m.status = ? THEN m.subscription_id END) AS recipients,
		COUNT(DISTINCT CASE WHEN m.opened_at IS NOT NULL AND r.id IS NOT NULL THEN m.subscription_id END) AS opened,
		COUNT(DISTINCT CASE WHEN m.clicked_at IS NOT NULL AND r.id IS NOT NULL THEN m.subscription_id END) AS clicked
		FROM messages m LEFT JOIN messages r ON r.campaign_id = m.campaign_id AND r.subscription_id = m.subscription_id AND r.step = 1 AND r.status = ?
		WHERE m.campaign_id IN ? GROUP BY m.campaign_id`, store.MsgSent, store.MsgSent, ids).Scan(&reach).Error; err != nil {
		return ResultsPage{}, fmt.Errorf("count engagement: %w", err)
	}
	var convs []store.Conversion
	if err := db.Where("campaign_id IN ?", ids).Find(&convs).Error; err != nil {
		return ResultsPage{}, err
	}

	byCampaign := map[int64]*RestockResult{}
	for _, c := range cs {
		v := byVariant[c.VariantID]
		r := RestockResult{CampaignID: c.ID, VariantID: c.VariantID, ProductTitle: nonEmpty(v.ProductTitle, fmt.Sprintf("Variant %d (no longer in the catalog)", c.VariantID)),
			VariantTitle: variantLabel(v.Title), ImageURL: v.ImageURL, OpenedAt: c.OpenedAt.UTC(), ClosedAt: c.ClosedAt, Status: c.Status,
			CloseReason: c.CloseReason, StockAtOpen: c.StockAtOpen, WaitingAtOpen: c.WaitingAtOpen, Revenue: []Money{}}
		for step := 1; step <= 3; step++ {
			if _, ok := c.StepDelay(step); ok {
				r.Steps = append(r.Steps, StepResult{Step: step})
			}
		}
		page.Restocks = append(page.Restocks, r)
	}
	for i := range page.Restocks {
		byCampaign[page.Restocks[i].CampaignID] = &page.Restocks[i]
	}
	for _, n := range counts {
		r := byCampaign[n.CampaignID]
		var s *StepResult
		for i := range r.Steps {
			if r.Steps[i].Step == n.Step {
				s = &r.Steps[i]
			}
		}
		if s == nil {
			r.Steps = append(r.Steps, StepResult{Step: n.Step})
			s = &r.Steps[len(r.Steps)-1]
		}
		switch n.Status {
		case store.MsgSent:
			s.Sent += n.N
		case store.MsgSkipped:
			s.Skipped += n.N
		case store.MsgFailed:
			s.Failed += n.N
		case store.MsgUnconfirmed:
			s.Unconfirmed += n.N
		default:
			s.Pending += n.N
		}
	}
	for _, x := range reach {
		r := byCampaign[x.CampaignID]
		r.Recipients, r.Opened, r.Clicked = x.Recipients, x.Opened, x.Clicked
	}
	// One purchase is one (order, variant): a shopper signed up under two
	// addresses matches twice but bought once. Buyers joined by an order
	// count as one.
	type agg struct {
		seen    map[[2]int64]bool
		orders  map[int64]bool
		buyers  *unionFind
		revenue map[string]decimal.Decimal
		secs    []int64
	}
	aggs := map[int64]*agg{}
	orderBuyer := map[[2]int64]int64{} // (campaign, order) → a subscription
	for _, cv := range convs {
		cid := *cv.CampaignID
		a := aggs[cid]
		if a == nil {
			a = &agg{seen: map[[2]int64]bool{}, orders: map[int64]bool{}, buyers: newUnionFind(), revenue: map[string]decimal.Decimal{}}
			aggs[cid] = a
		}
		if cv.SubscriptionID != nil {
			a.buyers.add(*cv.SubscriptionID)
			if other, ok := orderBuyer[[2]int64{cid, cv.OrderID}]; ok {
				a.buyers.union(other, *cv.SubscriptionID)
			} else {
				orderBuyer[[2]int64{cid, cv.OrderID}] = *cv.SubscriptionID
			}
		}
		key := [2]int64{cv.OrderID, cv.VariantID}
		if a.seen[key] {
			continue
		}
		a.seen[key] = true
		a.orders[cv.OrderID] = true
		byCampaign[cid].Units += int64(cv.Quantity)
		if amt, err := decimal.NewFromString(cv.Revenue); err == nil {
			a.revenue[cv.Currency] = a.revenue[cv.Currency].Add(amt)
		}
		if cv.SecondsToPurchase != nil {
			a.secs = append(a.secs, *cv.SecondsToPurchase)
		}
	}
	for id, a := range aggs {
		r := byCampaign[id]
		r.Orders, r.Buyers = int64(len(a.orders)), int64(a.buyers.sets())
		r.Revenue = moneyList(a.revenue)
		if len(a.secs) > 0 {
			sort.Slice(a.secs, func(i, j int) bool { return a.secs[i] < a.secs[j] })
			m := a.secs[len(a.secs)/2]
			if len(a.secs)%2 == 0 {
				m = (a.secs[len(a.secs)/2-1] + a.secs[len(a.secs)/2]) / 2
			}
			r.MedianSecondsToPurchase = &m
		}
	}
	for i := range page.Restocks {
		r := &page.Restocks[i]
		sort.Slice(r.Steps, func(a, b int) bool { return r.Steps[a].Step < r.Steps[b].Step })
		if r.Recipients > 0 {
			n := float64(r.Recipients)
			r.OpenRate, r.ClickRate, r.ConversionRate = float64(r.Opened)/n, float64(r.Clicked)/n, float64(r.Buyers)/n
		}
	}
	return page, nil
}

func (f *Flow) resultsTotals(ctx context.Context, shopID int64) (ResultsTotals, error) {
	db := f.db.DB.WithContext(ctx)
	var t ResultsTotals
	if err := db.Model(&store.Campaign{}).Where("shop_id = ?", shopID).Count(&t.Restocks).Error; err != nil {
		return t, err
	}
	if err := db.Model(&store.Message{}).Where("shop_id = ? AND step = 1 AND status = ?", shopID, store.MsgSent).
		Count(&t.Recipients).Error; err != nil {
		return t, err
	}
	rows, err := db.Model(&store.Conversion{}).Select("order_id, variant_id, campaign_id, revenue, currency").Where("shop_id = ?", shopID).Rows()
	if err != nil {
		return t, err
	}
	defer rows.Close()
	credited, uncredited := map[int64]bool{}, map[int64]bool{}
	seen := map[[2]int64]bool{}
	revenue := map[string]decimal.Decimal{}
	for rows.Next() {
		var orderID, variantID int64
		var campaignID *int64
		var amount, currency string
		if err := rows.Scan(&orderID, &variantID, &campaignID, &amount, &currency); err != nil {
			return t, err
		}
		if campaignID == nil {
			uncredited[orderID] = true
			continue
		}
		credited[orderID] = true
		if seen[[2]int64{orderID, variantID}] {
			continue // one purchase matched two signups
		}
		seen[[2]int64{orderID, variantID}] = true
		if d, err := decimal.NewFromString(amount); err == nil {
			revenue[currency] = revenue[currency].Add(d)
		}
	}
	for id := range credited {
		delete(uncredited, id) // an order with a credited line is credited
	}
	t.Orders, t.UncreditedOrders, t.Revenue = int64(len(credited)), int64(len(uncredited)), moneyList(revenue)
	return t, rows.Err()
}

func moneyList(m map[string]decimal.Decimal) []Money {
	out := make([]Money, 0, len(m))
	for cur, amt := range m {
		s := amt.StringFixed(2)
		out = append(out, Money{Amount: s, Currency: cur, Display: FormatPrice(s, cur)})
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].Currency, out[j].Currency) < 0 })
	return out
}

// unionFind groups subscriptions that bought in the same order.
type unionFind struct{ parent map[int64]int64 }

func newUnionFind() *unionFind { return &unionFind{parent: map[int64]int64{}} }

func (u *unionFind) add(x int64) {
	if _, ok := u.parent[x]; !ok {
		u.parent[x] = x
	}
}

func (u *unionFind) find(x int64) int64 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int64) { u.parent[u.find(a)] = u.find(b) }

func (u *unionFind) sets() int {
	n := 0
	for x, p := range u.parent {
		if x == p {
			n++
		}
	}
	return n
}
