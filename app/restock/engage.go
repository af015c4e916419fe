package restock

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// Recipient is who a link token belongs to, for the unsubscribe page.
type Recipient struct {
	Message      store.Message
	Subscription store.Subscription
	Shop         store.Shop
	Variant      store.Variant
}

func (f *Flow) recipient(ctx context.Context, messageID int64) (Recipient, error) {
	var r Recipient
	m, err := store.MessageByID(ctx, f.db.DB, messageID)
	if err != nil {
		return r, err
	}
	r.Message = m
	if r.Subscription, err = store.SubscriptionByID(ctx, f.db.DB, m.SubscriptionID); err != nil {
		return r, err
	}
	if r.Shop, err = store.ShopByID(ctx, f.db.DB, m.ShopID); err != nil {
		return r, err
	}
	r.Variant, err = store.VariantByID(ctx, f.db.DB, m.ShopID, r.Subscription.VariantID)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return r, err
}

// UnsubscribeTarget resolves an unsubscribe token (for the confirmation page).
func (f *Flow) UnsubscribeTarget(ctx context.Context, token string) (Recipient, error) {
	id, err := f.cfg.Links.ParseUnsubscribe(token)
	if err != nil {
		return Recipient{}, err
	}
	return f.recipient(ctx, id)
}

// Unsubscribe stops every restock email from that shop to that address.
// Repeating it is harmless.
func (f *Flow) Unsubscribe(ctx context.Context, token string) (Recipient, error) {
	r, err := f.UnsubscribeTarget(ctx, token)
	if err != nil {
		return r, err
	}
	if err := store.Unsubscribe(ctx, f.db.DB, r.Shop.ID, r.Subscription.Email, "unsubscribe_link"); err != nil {
		return r, fmt.Errorf("unsubscribe: %w", err)
	}
	f.log.Info("shopper unsubscribed", "shop", r.Shop.Domain, "subscription_id", r.Subscription.ID)
	return r, nil
}

// Click records a click on an email's product link and returns where to
// send the shopper: that shop's product page, never anywhere else.
func (f *Flow) Click(ctx context.Context, token string) (string, error) {
	id, err := f.cfg.Links.ParseClick(token)
	if err != nil {
		return "", err
	}
	r, err := f.recipient(ctx, id)
	if err != nil {
		return "", err
	}
	now := f.Now()
	if m, err := store.MessageByID(ctx, f.db.DB, id); err == nil && m.Status == store.MsgUnconfirmed {
		if err := f.confirmDelivered(ctx, m, now); err != nil {
			return "", err
		}
	}
	if err := f.db.DB.WithContext(ctx).Model(&store.Message{}).Where("id = ? AND clicked_at IS NULL", id).
		Updates(map[string]any{"clicked_at": now, "updated_at": now}).Error; err != nil {
		return "", fmt.Errorf("record click: %w", err)
	}
	return ProductLink(r.Shop.Domain, r.Variant), nil
}

// ProductLink is the product page of a variant with that variant selected:
// the Online Store URL Shopify gave (http or https only), else the shop's
// own /products/{handle} page.
func ProductLink(shopDomain string, v store.Variant) string {
	var u *url.URL
	if p, err := url.Parse(v.ProductURL); err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != "" && p.User == nil {
		u = p
	} else {
		u = &url.URL{Scheme: "https", Host: shopDomain, Path: "/"}
		if v.Handle != "" && shopify.ValidShop(shopDomain) {
			u.Path = "/products/" + v.Handle
		}
	}
	if v.VariantID != 0 {
		q := u.Query()
		q.Set("variant", strconv.FormatInt(v.VariantID, 10))
		u.RawQuery = q.Encode()
	}
	return u.String()
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// InstallShop registers a shop with an Admin API access token (as a custom
// app or the shop command would), sealing the token.
func (f *Flow) InstallShop(ctx context.Context, domain, accessToken, name, currency string) (store.Shop, error) {
	d, err := shopify.NormalizeShop(domain)
	if err != nil {
		return store.Shop{}, fmt.Errorf("shop %q: %w", domain, err)
	}
	if strings.TrimSpace(accessToken) == "" {
		return store.Shop{}, errors.New("an Admin API access token is required")
	}
	currency = strings.ToUpper(strings.TrimSpace(currency))
	if currency != "" && !currencyPattern.MatchString(currency) {
		return store.Shop{}, fmt.Errorf("currency %q must be a three-letter ISO code such as USD", currency)
	}
	if len(name) > 255 {
		return store.Shop{}, errors.New("the shop name is longer than 255 characters")
	}
	sealed, err := f.cfg.Sealer.Seal(accessToken)
	if err != nil {
		return store.Shop{}, err
	}
	sh := store.Shop{Domain: d, Name: strings.TrimSpace(name), Currency: currency, AccessToken: sealed, InstalledAt: f.Now()}
	if err := store.UpsertShop(ctx, f.db.DB, &sh); err != nil {
		return store.Shop{}, fmt.Errorf("save shop: %w", err)
	}
	return sh, nil
}

// CustomerWaits reports whether a logged-in customer waits for a variant.
func (f *Flow) CustomerWaits(ctx context.Context, shopDomain string, variantID, customerID int64) (bool, error) {
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var n int64
	err = f.db.DB.WithContext(ctx).Model(&store.Subscription{}).Where("shop_id = ? AND variant_id = ? AND customer_id = ? AND status IN ?",
		shop.ID, variantID, customerID, []string{store.SubWaiting, store.SubNotified}).Count(&n).Error
	return n > 0, err
}
