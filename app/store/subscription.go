package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Subscription statuses.
const (
	SubWaiting      = "waiting"
	SubNotified     = "notified"
	SubConverted    = "converted"
	SubUnsubscribed = "unsubscribed"
	// SubExpired: notified of MaxCycles restocks without buying.
	SubExpired = "expired"
)

// Subscription is one shopper waiting for one variant of one shop.
type Subscription struct {
	ID               int64 `gorm:"primaryKey"`
	ShopID           int64
	VariantID        int64
	ProductID        int64
	Email            string // trimmed, lower-case
	CustomerID       *int64
	Locale           string
	AcceptsMarketing bool
	Status           string
	// Cycles counts restocks this shopper was notified of without buying.
	Cycles         int
	NotifiedAt     *time.Time
	ConvertedAt    *time.Time
	UnsubscribedAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Subscribe creates the subscription, or finds the existing one for that
// shop, variant and email. A shopper who had already bought, or whose
// earlier wait ended, and signs up again is waiting again. An address the
// shop must not email (unsubscribed, bounced, reported spam) stays
// suppressed: anyone can type an address into the form, so a signup never
// undoes an unsubscribe. created is true when the shopper was not waiting
// before. Concurrent identical signups store one row.
func Subscribe(ctx context.Context, db *gorm.DB, s *Subscription) (created bool, err error) {
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var existing Subscription
		e := tx.Where("shop_id = ? AND variant_id = ? AND email = ?", s.ShopID, s.VariantID, s.Email).Take(&existing).Error
		switch {
		case e == gorm.ErrRecordNotFound:
			s.Status = SubWaiting
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(s)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 { // a concurrent signup won
				return tx.Where("shop_id = ? AND variant_id = ? AND email = ?", s.ShopID, s.VariantID, s.Email).Take(s).Error
			}
			created = true
		case e != nil:
			return e
		case existing.Status == SubWaiting || existing.Status == SubNotified:
			*s = existing
		default:
			upd := map[string]any{"status": SubWaiting, "cycles": 0, "unsubscribed_at": nil, "converted_at": nil, "locale": s.Locale,
				"accepts_marketing": s.AcceptsMarketing, "updated_at": tx.Config.NowFunc()}
			if s.CustomerID != nil {
				upd["customer_id"] = *s.CustomerID
			}
			if err := tx.Model(&existing).Updates(upd).Error; err != nil {
				return err
			}
			if err := tx.Take(s, existing.ID).Error; err != nil {
				return err
			}
			created = true
		}
		return nil
	})
	return created, err
}

// SubscriptionByID finds a subscription.
func SubscriptionByID(ctx context.Context, db *gorm.DB, id int64) (Subscription, error) {
	var s Subscription
	err := db.WithContext(ctx).Take(&s, id).Error
	return s, notFound(err)
}

// CountWaiting counts shoppers waiting for a variant.
func CountWaiting(ctx context.Context, db *gorm.DB, shopID, variantID int64) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Subscription{}).
		Where("shop_id = ? AND variant_id = ? AND status = ?", shopID, variantID, SubWaiting).Count(&n).Error
	return n, err
}

// CountActiveForEmail counts what one email waits for in one shop.
func CountActiveForEmail(ctx context.Context, db *gorm.DB, shopID int64, email string) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Subscription{}).
		Where("shop_id = ? AND email = ? AND status IN ?", shopID, email, []string{SubWaiting, SubNotified}).Count(&n).Error
	return n, err
}

// Unsubscribe stops every restock email of one shop to one address and
// remembers the address in the shop's suppression list.
func Unsubscribe(ctx context.Context, db *gorm.DB, shopID int64, email, reason string) error {
	now := db.Config.NowFunc()
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Subscription{}).
			Where("shop_id = ? AND email = ? AND status IN ?", shopID, email, []string{SubWaiting, SubNotified}).
			Updates(map[string]any{"status": SubUnsubscribed, "unsubscribed_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
		return AddSuppression(ctx, tx, shopID, email, reason)
	})
}
