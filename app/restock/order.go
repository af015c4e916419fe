package restock

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// onOrder credits restocks with the purchases of shoppers who waited: a
// line item for a variant a shopper waits for, or was told about, by the
// same email (any case) or customer id, placed after they subscribed.
func (f *Flow) onOrder(ctx context.Context, shop store.Shop, hook store.Webhook) error {
	var o shopify.OrderPayload
	if err := decode(hook.Body, &o); err != nil {
		return err
	}
	if o.ID == 0 || o.CreatedAt.IsZero() {
		return &badPayloadError{fmt.Errorf("order id and created_at are required")}
	}
	orderedAt := o.CreatedAt.UTC() // an instant, whatever offset Shopify wrote
	emails := map[string]bool{}
	for _, e := range []string{o.Email, o.ContactEmail} {
		if e = NormalizeEmail(e); e != "" {
			emails[e] = true
		}
	}
	var customerID int64
	if o.Customer != nil {
		customerID = o.Customer.ID
		if e := NormalizeEmail(o.Customer.Email); e != "" {
			emails[e] = true
		}
	}
	emailList := make([]string, 0, len(emails))
	for e := range emails {
		emailList = append(emailList, e)
	}
	if len(emailList) == 0 && customerID == 0 {
		return nil
	}
	// One conversion per variant: lines of the same variant add up.
	type line struct {
		qty     int
		revenue decimal.Decimal
	}
	byVariant := map[int64]*line{}
	var order []int64
	for _, li := range o.LineItems {
		if li.VariantID == nil || *li.VariantID <= 0 || li.Quantity <= 0 {
			continue // custom item, deleted product
		}
		price, err := decimal.NewFromString(nonEmpty(li.Price, "0"))
		if err != nil {
			price = decimal.Zero
		}
		l := byVariant[*li.VariantID]
		if l == nil {
			l = &line{}
			byVariant[*li.VariantID] = l
			order = append(order, *li.VariantID)
		}
		l.qty += li.Quantity
		l.revenue = l.revenue.Add(price.Mul(decimal.NewFromInt(int64(li.Quantity))))
	}
	return f.tx(ctx, func(tx *txn) error {
		for _, variantID := range order {
			l := byVariant[variantID]
			q := tx.Where("shop_id = ? AND variant_id = ? AND status IN ? AND created_at <= ?",
				shop.ID, variantID, []string{store.SubWaiting, store.SubNotified}, orderedAt)
			switch {
			case len(emailList) > 0 && customerID != 0:
				q = q.Where("(email IN ? OR customer_id = ?)", emailList, customerID)
			case customerID != 0:
				q = q.Where("customer_id = ?", customerID)
			default:
				q = q.Where("email IN ?", emailList)
			}
			var subs []store.Subscription
			if err := q.Find(&subs).Error; err != nil {
				return err
			}
			for _, s := range subs {
				if err := tx.convert(s, o, l.qty, l.revenue.StringFixed(2), orderedAt, variantID); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// convert marks a subscription converted and records the purchase, with
// the time from the first email of the latest campaign that reached them
// before the order (an order processed late, after a later restock's
// email, still belongs to the restock that preceded it).
func (t *txn) convert(s store.Subscription, o shopify.OrderPayload, qty int, revenue string, ot time.Time, variantID int64) error {
	var msg store.Message
	err := t.Where("subscription_id = ? AND status = ? AND sent_at IS NOT NULL AND sent_at <= ?", s.ID, store.MsgSent, ot).
		Order("campaign_id DESC, sent_at ASC").Limit(1).Find(&msg).Error
	if err != nil {
		return err
	}
	conv := store.Conversion{ShopID: s.ShopID, OrderID: o.ID, VariantID: variantID, Quantity: qty, Revenue: revenue,
		Currency: strings.ToUpper(o.Currency), OrderedAt: ot}
	sid := s.ID
	conv.SubscriptionID = &sid
	if msg.ID != 0 && msg.SentAt != nil && !ot.Before(*msg.SentAt) {
		cid := msg.CampaignID
		sent := msg.SentAt.UTC()
		secs := int64(ot.Sub(sent).Seconds())
		conv.CampaignID, conv.FirstEmailAt, conv.SecondsToPurchase = &cid, &sent, &secs
	}
	res := t.Exec(`INSERT INTO conversions (shop_id, subscription_id, campaign_id, order_id, variant_id, quantity, revenue, currency, ordered_at, first_email_at, seconds_to_purchase, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shop_id, order_id, variant_id, subscription_id) DO NOTHING`,
		conv.ShopID, conv.SubscriptionID, conv.CampaignID, conv.OrderID, conv.VariantID, conv.Quantity, conv.Revenue, conv.Currency,
		conv.OrderedAt, conv.FirstEmailAt, conv.SecondsToPurchase, t.f.Now())
	if res.Error != nil {
		return fmt.Errorf("record conversion: %w", res.Error)
	}
	return t.Model(&store.Subscription{}).Where("id = ?", s.ID).
		Updates(map[string]any{"status": store.SubConverted, "converted_at": ot, "updated_at": t.f.Now()}).Error
}
