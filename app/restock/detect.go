package restock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

const checkLease = 2 * time.Minute

// Stock is one decision about a variant.
type Stock struct {
	InStock  bool
	Sellable int
	// Fresh is false when Shopify could not be read and stored levels decided.
	Fresh bool
}

// decideStock is the rule: a variant is in stock when the product is active
// and published online and it is untracked, sells when out of stock
// (CONTINUE), or has more than threshold sellable online.
func decideStock(v shopify.Variant, threshold int) bool {
	if !strings.EqualFold(v.ProductStatus, "ACTIVE") || !v.Published {
		return false
	}
	if !v.Tracked || strings.EqualFold(v.Policy, "CONTINUE") {
		return true
	}
	return v.SellableOnline > threshold
}

// variantInfo copies what emails show from a fresh Admin API read.
func variantInfo(shopID int64, sv shopify.Variant, fallbackCurrency string) store.Variant {
	cur := sv.Currency
	if cur == "" {
		cur = fallbackCurrency
	}
	return store.Variant{ShopID: shopID, VariantID: sv.ID, ProductID: sv.ProductID, InventoryItemID: sv.InventoryItemID,
		ProductTitle: sv.ProductTitle, Title: sv.Title, SKU: sv.SKU, Price: sv.Price, Currency: cur, ImageURL: sv.ImageURL,
		ProductURL: sv.ProductURL, Handle: sv.Handle, Policy: strings.ToUpper(sv.Policy), Tracked: sv.Tracked,
		Published: sv.Published, ProductStatus: strings.ToUpper(sv.ProductStatus)}
}

// FetchVariant reads one variant from the shop's Admin API. A token that
// Shopify refuses is refreshed once and the read tried again.
func (f *Flow) FetchVariant(ctx context.Context, shop store.Shop, variantID int64) (shopify.Variant, error) {
	vs, err := f.readVariants(ctx, shop, variantID, false)
	if errors.Is(err, shopify.ErrUnauthorized) && f.cfg.OAuth != nil {
		vs, err = f.readVariants(ctx, shop, variantID, true)
	}
	if err != nil {
		return shopify.Variant{}, err
	}
	for _, v := range vs {
		if v.ID == variantID {
			return v, nil
		}
	}
	return shopify.Variant{}, store.ErrNotFound
}

func (f *Flow) readVariants(ctx context.Context, shop store.Shop, variantID int64, forceRefresh bool) ([]shopify.Variant, error) {
	tok, err := f.AccessToken(ctx, shop, forceRefresh)
	if err != nil {
		return nil, err
	}
	cat, err := f.cfg.CatalogFunc(shop.Domain, tok)
	if err != nil {
		return nil, err
	}
	return cat.Variants(ctx, []int64{variantID})
}

type checkWorker struct {
	river.WorkerDefaults[CheckArgs]
	f *Flow
}

// Work re-reads a variant's stock and opens or closes its restock. Only the
// check holding the variant's lease reads; it loops while cues keep coming.
func (w *checkWorker) Work(ctx context.Context, job *river.Job[CheckArgs]) error {
	_, err := w.f.Check(ctx, job.Args.ShopID, job.Args.VariantID, false)
	return err
}

// Check runs the stock check of one variant now, unless another check holds
// it (that one will see every cue recorded so far) or, without force, an
// earlier read already covered every cue. It returns the decision.
func (f *Flow) Check(ctx context.Context, shopID, variantID int64, force bool) (Stock, error) {
	for range 10 {
		now := f.Now()
		res := f.db.DB.WithContext(ctx).Model(&store.Variant{}).
			Where("shop_id = ? AND variant_id = ? AND (check_lease_until IS NULL OR check_lease_until < ?)", shopID, variantID, now).
			Update("check_lease_until", now.Add(checkLease))
		if res.Error != nil {
			return Stock{}, fmt.Errorf("lease variant check: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			v, err := store.VariantByID(ctx, f.db.DB, shopID, variantID)
			if errors.Is(err, store.ErrNotFound) {
				return Stock{}, nil
			}
			return Stock{InStock: v.InStock, Sellable: v.SellableOnline, Fresh: true}, err
		}
		st, again, err := f.checkLeased(ctx, shopID, variantID, force)
		if err != nil {
			f.db.DB.WithContext(ctx).Model(&store.Variant{}).Where("shop_id = ? AND variant_id = ?", shopID, variantID).
				Update("check_lease_until", nil)
			return Stock{}, err
		}
		if !again {
			return st, nil
		}
	}
	return Stock{}, errors.New("variant keeps changing; check again later")
}

// checkLeased does one read and applies it; again is true when cues arrived
// during the read.
func (f *Flow) checkLeased(ctx context.Context, shopID, variantID int64, force bool) (Stock, bool, error) {
	v, err := store.VariantByID(ctx, f.db.DB, shopID, variantID)
	if err != nil {
		return Stock{}, false, err
	}
	seq := v.CheckSeq
	if !force && v.CheckedSeq >= seq && v.StockCheckedAt != nil {
		// A burst: an earlier read already saw every cue.
		err := f.db.DB.WithContext(ctx).Model(&store.Variant{}).Where("shop_id = ? AND variant_id = ?", shopID, variantID).
			Update("check_lease_until", nil).Error
		return Stock{InStock: v.InStock, Sellable: v.SellableOnline, Fresh: true}, false, err
	}
	shop, err := store.ShopByID(ctx, f.db.DB, shopID)
	if err != nil {
		return Stock{}, false, err
	}
	settings, err := store.SettingsFor(ctx, f.db.DB, shopID)
	if err != nil {
		return Stock{}, false, err
	}
	st := Stock{Fresh: true}
	var info *store.Variant
	sv, ferr := f.FetchVariant(ctx, shop, variantID)
	switch {
	case ferr == nil:
		st.InStock = decideStock(sv, settings.Threshold)
		st.Sellable = sv.SellableOnline
		vi := variantInfo(shopID, sv, shop.Currency)
		info = &vi
	case errors.Is(ferr, store.ErrNotFound):
		// The variant was deleted: it can no longer be bought.
		st.InStock = false
	case errors.Is(ferr, errNoToken):
		st.InStock = v.InStock // uninstalled: change nothing
	default:
		// Shopify unreachable: decide from the stored levels, reconcile later.
		f.log.Warn("stock read failed; using stored levels", "shop", shop.Domain, "variant_id", variantID, "error", ferr)
		sum, tracked, known, err := store.StoredStock(ctx, f.db.DB, shopID, v.InventoryItemID)
		if err != nil {
			return Stock{}, false, err
		}
		st.Fresh = false
		st.Sellable = sum
		if known {
			st.InStock = v.ProductStatus == "ACTIVE" && v.Published && (!tracked || v.Policy == "CONTINUE" || sum > settings.Threshold)
		} else {
			st.InStock = v.InStock
		}
	}

	f.log.Debug("stock checked", "shop", shop.Domain, "variant_id", variantID, "in_stock", st.InStock, "was_in_stock", v.InStock,
		"sellable", st.Sellable, "fresh", st.Fresh, "read_error", ferr)
	again := false
	err = f.tx(ctx, func(tx *txn) error {
		if info != nil {
			if err := store.SaveVariantInfo(ctx, tx.DB, info); err != nil {
				return err
			}
		}
		now := f.Now()
		upd := map[string]any{"in_stock": st.InStock, "sellable_online": st.Sellable, "check_lease_until": nil}
		if st.Fresh {
			// Only a real read covers the cues; a fallback leaves them for
			// the reconciling check.
			upd["stock_checked_at"] = now
			upd["checked_seq"] = seq
		}
		if err := tx.Model(&store.Variant{}).Where("shop_id = ? AND variant_id = ?", shopID, variantID).Updates(upd).Error; err != nil {
			return err
		}
		switch {
		case !v.InStock && st.InStock:
			if err := tx.openCampaign(ctx, shop, settings, v.VariantID, st.Sellable); err != nil {
				return err
			}
		case v.InStock && !st.InStock:
			if err := tx.soldOut(ctx, shopID, variantID, settings); err != nil {
				return err
			}
		}
		if !st.Fresh {
			opts := &river.InsertOpts{ScheduledAt: now.Add(5 * time.Minute)}
			if _, err := tx.insert(ctx, CheckArgs{ShopID: shopID, VariantID: variantID}, opts); err != nil {
				return err
			}
		}
		var cur store.Variant
		if err := tx.Select("check_seq").Where("shop_id = ? AND variant_id = ?", shopID, variantID).Take(&cur).Error; err != nil {
			return err
		}
		again = cur.CheckSeq != seq
		return nil
	})
	if err != nil {
		return Stock{}, false, fmt.Errorf("apply stock of variant %d: %w", variantID, err)
	}
	return st, again, nil
}

// openCampaign starts a restock for the shoppers waiting for a variant: the
// campaign with the shop's current plan and its step jobs, in the caller's
// transaction. Step 1 goes to the shoppers waiting when it runs.
func (t *txn) openCampaign(ctx context.Context, shop store.Shop, s store.Settings, variantID int64, stock int) error {
	waiting, err := store.CountWaiting(ctx, t.DB, shop.ID, variantID)
	if err != nil || waiting == 0 {
		return err
	}
	now := t.f.Now()
	c := store.Campaign{ShopID: shop.ID, VariantID: variantID, Status: store.CampaignOpen, StockAtOpen: stock, WaitingAtOpen: int(waiting),
		Step2Enabled: s.Step2Enabled, Step2DelaySeconds: s.Step2DelaySeconds, Step3Enabled: s.Step3Enabled, Step3DelaySeconds: s.Step3DelaySeconds,
		WaveSize: s.WaveSize, WaveIntervalSeconds: s.WaveIntervalSeconds, OpenedAt: now}
	// The partial unique index allows one open campaign per variant.
	if err := t.Exec("SAVEPOINT open_campaign").Error; err != nil {
		return err
	}
	if err := t.Create(&c).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return t.Exec("ROLLBACK TO SAVEPOINT open_campaign").Error
		}
		return fmt.Errorf("create campaign: %w", err)
	}
	for step := 1; step <= 3; step++ {
		delay, ok := c.StepDelay(step)
		if !ok {
			continue
		}
		opts := StepArgs{}.InsertOpts()
		if delay > 0 {
			opts.ScheduledAt = now.Add(delay)
		}
		if _, err := t.insert(ctx, StepArgs{CampaignID: c.ID, Step: step}, &opts); err != nil {
			return fmt.Errorf("enqueue step %d: %w", step, err)
		}
	}
	t.f.log.Info("restock opened", "shop", shop.Domain, "variant_id", variantID, "campaign_id", c.ID, "waiting", waiting, "stock", stock)
	return nil
}

// soldOut closes the variant's open campaign: later steps are skipped, and
// shoppers who were told but did not buy wait again, up to MaxCycles.
func (t *txn) soldOut(ctx context.Context, shopID, variantID int64, s store.Settings) error {
	c, err := store.OpenCampaign(ctx, t.DB, shopID, variantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := store.CloseCampaign(ctx, t.DB, c.ID, store.CloseSoldOut); err != nil {
		return err
	}
	now := t.f.Now()
	maxCycles := s.MaxCycles
	if maxCycles <= 0 {
		maxCycles = 3
	}
	base := t.Model(&store.Subscription{}).Where("shop_id = ? AND variant_id = ? AND status = ?", shopID, variantID, store.SubNotified)
	if err := base.Session(&gorm.Session{}).Where("cycles + 1 < ?", maxCycles).
		Updates(map[string]any{"status": store.SubWaiting, "cycles": gorm.Expr("cycles + 1"), "updated_at": now}).Error; err != nil {
		return err
	}
	if err := t.Model(&store.Subscription{}).Where("shop_id = ? AND variant_id = ? AND status = ?", shopID, variantID, store.SubNotified).
		Updates(map[string]any{"status": store.SubExpired, "cycles": gorm.Expr("cycles + 1"), "updated_at": now}).Error; err != nil {
		return err
	}
	t.f.log.Info("restock closed: sold out", "shop_id", shopID, "variant_id", variantID, "campaign_id", c.ID)
	return nil
}
