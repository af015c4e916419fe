package restock

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// onCustomerRedact deletes one shopper's personal data in one shop: their
// subscriptions (matched by email in any case, or customer id), messages
// and suppression rows. Conversions stay, detached, as aggregate counts.
func (f *Flow) onCustomerRedact(ctx context.Context, shop store.Shop, hook store.Webhook) error {
	var p shopify.CustomerRedactPayload
	if err := decode(hook.Body, &p); err != nil {
		return err
	}
	if err := sameShop(p.ShopDomain, hook.ShopDomain); err != nil {
		return err
	}
	addr := NormalizeEmail(p.Customer.Email)
	if addr == "" && p.Customer.ID == 0 {
		return &badPayloadError{errors.New("customer email or id is required")}
	}
	return f.tx(ctx, func(tx *txn) error {
		q := tx.Model(&store.Subscription{}).Where("shop_id = ?", shop.ID)
		switch {
		case addr != "" && p.Customer.ID != 0:
			q = q.Where("(LOWER(email) = ? OR customer_id = ?)", addr, p.Customer.ID)
		case addr != "":
			q = q.Where("LOWER(email) = ?", addr)
		default:
			q = q.Where("customer_id = ?", p.Customer.ID)
		}
		var subs []store.Subscription
		if err := q.Find(&subs).Error; err != nil {
			return err
		}
		ids := make([]int64, 0, len(subs))
		emails := map[string]bool{}
		if addr != "" {
			emails[addr] = true
		}
		for _, s := range subs {
			ids = append(ids, s.ID)
			emails[s.Email] = true
		}
		if len(ids) > 0 {
			if err := tx.Where("subscription_id IN ?", ids).Delete(&store.Message{}).Error; err != nil {
				return err
			}
			if err := tx.Model(&store.Conversion{}).Where("subscription_id IN ?", ids).Update("subscription_id", nil).Error; err != nil {
				return err
			}
			if err := tx.Where("id IN ?", ids).Delete(&store.Subscription{}).Error; err != nil {
				return err
			}
		}
		for e := range emails {
			if err := tx.Where("shop_id = ? AND email = ?", shop.ID, e).Delete(&store.Suppression{}).Error; err != nil {
				return err
			}
		}
		f.log.Info("customer redacted", "shop", shop.Domain, "subscriptions", len(ids))
		return nil
	})
}

// onShopRedact deletes everything held for a shop (48 hours after it
// uninstalled): the shop row cascades to its catalog, subscriptions,
// campaigns, messages, conversions and settings; its webhooks go too.
func (f *Flow) onShopRedact(ctx context.Context, shop store.Shop, hook store.Webhook) error {
	var p shopify.ShopRedactPayload
	if err := decode(hook.Body, &p); err != nil {
		return err
	}
	if err := sameShop(p.ShopDomain, hook.ShopDomain); err != nil {
		return err
	}
	if shop.Active() {
		// Reinstalled since: Shopify would not send this for a live shop.
		return &badPayloadError{errors.New("shop/redact for a shop that has the app installed")}
	}
	return f.tx(ctx, func(tx *txn) error {
		if err := deleteShop(tx.DB, shop); err != nil {
			return fmt.Errorf("redact shop: %w", err)
		}
		f.log.Info("shop redacted", "shop", shop.Domain)
		return nil
	})
}

func deleteShop(tx *gorm.DB, shop store.Shop) error {
	if err := tx.Where("shop_id = ?", shop.ID).Delete(&store.Message{}).Error; err != nil {
		return err
	}
	if err := tx.Where("shop_domain = ?", shop.Domain).Delete(&store.Webhook{}).Error; err != nil {
		return err
	}
	return tx.Delete(&store.Shop{}, shop.ID).Error
}

// sameShop refuses a payload that names another shop than the delivery's
// header: the HMAC covers the body, not the headers.
func sameShop(bodyShop, headerShop string) error {
	if bodyShop == "" {
		return &badPayloadError{errors.New("shop_domain is required")}
	}
	if d, err := shopify.NormalizeShop(bodyShop); err != nil || d != headerShop {
		return &badPayloadError{fmt.Errorf("payload names shop %q, header %q", bodyShop, headerShop)}
	}
	return nil
}
