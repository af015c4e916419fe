package restock

import (
	"context"
	"errors"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// CustomerData is everything the app holds about one shopper in one shop,
// as a customers/data_request asks for.
type CustomerData struct {
	RequestID     int64                `json:"data_request_id"`
	CustomerID    int64                `json:"customer_id"`
	Email         string               `json:"email"`
	ReceivedAt    string               `json:"received_at"`
	Subscriptions []store.Subscription `json:"subscriptions"`
	Messages      []store.Message      `json:"messages"`
	Conversions   []store.Conversion   `json:"conversions"`
	Suppressed    []store.Suppression  `json:"suppressions"`
}

// DataRequests assembles, for each customers/data_request a shop received,
// what the app holds about that shopper in that shop.
func (f *Flow) DataRequests(ctx context.Context, shopDomain string) ([]CustomerData, error) {
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if errors.Is(err, store.ErrNotFound) {
		return []CustomerData{}, nil
	}
	if err != nil {
		return nil, err
	}
	var hooks []store.Webhook
	if err := f.db.DB.WithContext(ctx).Where("shop_domain = ? AND topic = ? AND status = ?", shop.Domain,
		shopify.TopicCustomersDataRequest, store.WebhookAwaitingExport).Order("id").Find(&hooks).Error; err != nil {
		return nil, err
	}
	out := make([]CustomerData, 0, len(hooks))
	for _, h := range hooks {
		var p shopify.CustomerRedactPayload
		if shopify.DecodePayload(h.Body, &p) != nil {
			continue
		}
		d := CustomerData{CustomerID: p.Customer.ID, Email: NormalizeEmail(p.Customer.Email), ReceivedAt: h.ReceivedAt.UTC().Format("2006-01-02T15:04:05Z")}
		if p.DataRequest != nil {
			d.RequestID = p.DataRequest.ID
		}
		q := f.db.DB.WithContext(ctx).Where("shop_id = ?", shop.ID)
		switch {
		case d.Email != "" && d.CustomerID != 0:
			q = q.Where("(email = ? OR customer_id = ?)", d.Email, d.CustomerID)
		case d.Email != "":
			q = q.Where("email = ?", d.Email)
		default:
			q = q.Where("customer_id = ?", d.CustomerID)
		}
		if err := q.Find(&d.Subscriptions).Error; err != nil {
			return nil, err
		}
		ids := make([]int64, 0, len(d.Subscriptions))
		for _, s := range d.Subscriptions {
			ids = append(ids, s.ID)
		}
		if len(ids) > 0 {
			if err := f.db.DB.WithContext(ctx).Where("subscription_id IN ?", ids).Order("id").Find(&d.Messages).Error; err != nil {
				return nil, err
			}
			if err := f.db.DB.WithContext(ctx).Where("subscription_id IN ?", ids).Order("id").Find(&d.Conversions).Error; err != nil {
				return nil, err
			}
		}
		if d.Email != "" {
			if err := f.db.DB.WithContext(ctx).Where("shop_id = ? AND email = ?", shop.ID, d.Email).Find(&d.Suppressed).Error; err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
	return out, nil
}
