package restock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// IncomingWebhook is a delivery whose HMAC the web layer has verified.
type IncomingWebhook struct {
	WebhookID   string
	Shop        string
	Topic       string
	TriggeredAt time.Time // zero when the header is absent
	Body        []byte
}

// Intake outcomes.
const (
	IntakeQueued    = "queued"
	IntakeDuplicate = "duplicate"
	IntakeIgnored   = "ignored"
	IntakeInvalid   = "invalid"
)

var handledTopics = map[string]bool{
	shopify.TopicInventoryLevelsUpdate: true, shopify.TopicInventoryLevelsConnect: true,
	shopify.TopicInventoryLevelsDisconnect: true, shopify.TopicVariantsInStock: true,
	shopify.TopicVariantsOutOfStock: true, shopify.TopicOrdersCreate: true,
	shopify.TopicProductsUpdate: true, shopify.TopicAppUninstalled: true,
	shopify.TopicCustomersRedact: true, shopify.TopicShopRedact: true, shopify.TopicCustomersDataRequest: true,
}

type webhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	f *Flow
}

// Work processes the batch's webhooks in arrival order.
func (w *webhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	var errs []error
	for _, id := range job.Args.WebhookRowIDs {
		if err := w.f.processWebhook(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("webhook row %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// processWebhook handles one recorded webhook by topic, once.
func (f *Flow) processWebhook(ctx context.Context, rowID int64) error {
	hook, err := store.WebhookByID(ctx, f.db.DB, rowID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the shop was redacted meanwhile
	}
	if err != nil {
		return err
	}
	if hook.Status != store.WebhookQueued && hook.Status != store.WebhookFailed {
		return nil // done by an earlier attempt
	}
	shop, err := store.ShopByDomain(ctx, f.db.DB, hook.ShopDomain)
	if errors.Is(err, store.ErrNotFound) {
		return store.FinishWebhook(ctx, f.db.DB, hook.ID, store.WebhookIgnored, "unknown shop")
	}
	if err != nil {
		return err
	}
	var perr error
	switch hook.Topic {
	case shopify.TopicInventoryLevelsUpdate, shopify.TopicInventoryLevelsConnect, shopify.TopicInventoryLevelsDisconnect:
		perr = f.onInventoryLevel(ctx, shop, hook)
	case shopify.TopicVariantsInStock, shopify.TopicVariantsOutOfStock:
		perr = f.onVariantStock(ctx, shop, hook)
	case shopify.TopicProductsUpdate:
		perr = f.onProductUpdate(ctx, shop, hook)
	case shopify.TopicOrdersCreate:
		perr = f.onOrder(ctx, shop, hook)
	case shopify.TopicAppUninstalled:
		perr = f.onUninstalled(ctx, shop, hook)
	case shopify.TopicCustomersRedact:
		perr = f.onCustomerRedact(ctx, shop, hook)
	case shopify.TopicShopRedact:
		if perr = f.onShopRedact(ctx, shop, hook); perr == nil {
			return nil // the webhook row went with the shop
		}
	case shopify.TopicCustomersDataRequest:
		// Kept, with its body, for the merchant's export.
		return store.FinishWebhook(ctx, f.db.DB, hook.ID, store.WebhookAwaitingExport, "")
	}
	var bad *badPayloadError
	if errors.As(perr, &bad) {
		f.log.Warn("webhook payload unusable", "webhook_id", hook.WebhookID, "topic", hook.Topic, "shop", shop.Domain, "error", bad.err)
		return store.FinishWebhook(ctx, f.db.DB, hook.ID, store.WebhookInvalid, bad.Error())
	}
	if perr != nil {
		_ = store.FinishWebhook(ctx, f.db.DB, hook.ID, store.WebhookFailed, trimReason(perr.Error()))
		return perr
	}
	return store.FinishWebhook(ctx, f.db.DB, hook.ID, store.WebhookProcessed, "")
}

type badPayloadError struct{ err error }

func (e *badPayloadError) Error() string { return "payload: " + e.err.Error() }

func decode(body []byte, v any) error {
	if err := shopify.DecodePayload(body, v); err != nil {
		return &badPayloadError{err}
	}
	return nil
}

func (f *Flow) onInventoryLevel(ctx context.Context, shop store.Shop, hook store.Webhook) error {
	var p shopify.InventoryLevelPayload
	if err := decode(hook.Body, &p); err != nil {
		return err
	}
	if p.InventoryItemID == 0 || p.LocationID == 0 {
		return &badPayloadError{errors.New("inventory_item_id and location_id are required")}
	}
	level := store.Level{ShopID: shop.ID, InventoryItemID: p.InventoryItemID, LocationID: p.LocationID, Available: p.Available,
		Connected: hook.Topic != shopify.TopicInventoryLevelsDisconnect, UpdatedAt: p.UpdatedAt}
	if level.UpdatedAt.IsZero() {
		// disconnect carries no updated_at: order it by when Shopify fired it.
		level.UpdatedAt = hook.ReceivedAt
		if hook.TriggeredAt != nil {
			level.UpdatedAt = *hook.TriggeredAt
		}
	}
	return f.tx(ctx, func(tx *txn) error {
		applied, err := store.ApplyLevel(ctx, tx.DB, level)
		if err != nil {
			return fmt.Errorf("apply inventory level: %w", err)
		}
		if !applied {
			f.log.Debug("stale inventory level ignored", "shop", shop.Domain, "webhook_id", hook.WebhookID)
			return nil
		}
		vs, err := store.VariantsByItem(ctx, tx.DB, shop.ID, p.InventoryItemID)
		if err != nil {
			return err
		}
		// Items no shopper waits for are not in the catalog: nothing to do.
		for _, v := range vs {
			if err := tx.cue(ctx, shop.ID, v.VariantID); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *Flow) onVariantStock(ctx context.Context, shop store.Shop, hook store.Webhook) error {
	var p shopify.VariantPayload
	if err := decode(hook.Body, &p); err != nil {
		return err
	}
	return f.tx(ctx, func(tx *txn) error {
		if _, err := store.VariantByID(ctx, tx.DB, shop.ID, p.ID); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return tx.cue(ctx, shop.ID, p.ID)
	})
}

func (f *Flow) onProductUpdate(ctx context.Context, shop store.Shop, hook store.Webhook) error {
	var p shopify.ProductPayload
	if err := decode(hook.Body, &p); err != nil {
		return err
	}
	return f.tx(ctx, func(tx *txn) error {
		for _, pv := range p.Variants {
			v, err := store.VariantByID(ctx, tx.DB, shop.ID, pv.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			// Titles and prices for emails; stock comes from the check.
			v.ProductTitle, v.Title, v.Handle = nonEmpty(p.Title, v.ProductTitle), nonEmpty(pv.Title, v.Title), nonEmpty(p.Handle, v.Handle)
			if pv.Price != "" {
				v.Price = pv.Price
			}
			if err := store.SaveVariantInfo(ctx, tx.DB, &v); err != nil {
				return err
			}
			if err := tx.cue(ctx, shop.ID, pv.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *Flow) onUninstalled(ctx context.Context, shop store.Shop, hook store.Webhook) error {
	var p shopify.ShopPayload
	if err := decode(hook.Body, &p); err != nil {
		return err
	}
	if p.MyshopifyDomain != "" {
		if d, err := shopify.NormalizeShop(p.MyshopifyDomain); err != nil || d != shop.Domain {
			return &badPayloadError{fmt.Errorf("payload names shop %q", p.MyshopifyDomain)}
		}
	}
	if shop.UninstalledAt == nil {
		return nil // a late uninstall after a reinstall
	}
	return f.tx(ctx, func(tx *txn) error {
		return tx.Model(&store.Campaign{}).Where("shop_id = ? AND status = ?", shop.ID, store.CampaignOpen).
			Updates(map[string]any{"status": store.CampaignClosed, "close_reason": store.CloseUninstalled, "closed_at": tx.f.Now()}).Error
	})
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// cue records a stock cue for a variant and makes sure a check will run.
func (t *txn) cue(ctx context.Context, shopID, variantID int64) error {
	if err := store.BumpCheck(ctx, t.DB, shopID, variantID); err != nil {
		return fmt.Errorf("bump check: %w", err)
	}
	opts := river.InsertOpts{}
	if d := t.f.cfg.CheckDelay; d > 0 {
		opts.ScheduledAt = t.f.Now().Add(d)
	}
	_, err := t.insert(ctx, CheckArgs{ShopID: shopID, VariantID: variantID}, &opts)
	return err
}
