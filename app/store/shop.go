package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Shop is one installed (or once installed) Shopify store.
type Shop struct {
	ID     int64  `gorm:"primaryKey"`
	Domain string // x.myshopify.com
	Name   string
	Email  string
	// Currency is the shop's currency code, used when a variant has none.
	Currency string `gorm:"default:USD"`
	// AccessToken is sealed with the app's encryption key; never plain text.
	AccessToken   string
	Scopes        string
	InstalledAt   time.Time
	UninstalledAt *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Active reports whether the shop has the app installed.
func (s Shop) Active() bool { return s.UninstalledAt == nil && s.AccessToken != "" }

// UpsertShop installs (or reinstalls) a shop with a sealed access token and
// gives it default settings when it has none.
func UpsertShop(ctx context.Context, db *gorm.DB, sh *Shop) error {
	now := db.Config.NowFunc()
	if sh.InstalledAt.IsZero() {
		sh.InstalledAt = now
	}
	err := db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "domain"}},
		DoUpdates: clause.Assignments(upsertShopColumns(sh, now)),
	}).Create(sh).Error
	if err != nil {
		return err
	}
	got, err := ShopByDomain(ctx, db, sh.Domain)
	if err != nil {
		return err
	}
	*sh = got
	return db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(Settings{ShopID: sh.ID, UpdatedAt: now}.withDefaults()).Error
}

func upsertShopColumns(sh *Shop, now time.Time) map[string]any {
	m := map[string]any{"access_token": sh.AccessToken, "scopes": sh.Scopes, "installed_at": sh.InstalledAt,
		"uninstalled_at": nil, "updated_at": now}
	if sh.Name != "" {
		m["name"] = sh.Name
	}
	if sh.Currency != "" {
		m["currency"] = sh.Currency
	}
	return m
}

// ShopByDomain finds a shop by its myshopify domain.
func ShopByDomain(ctx context.Context, db *gorm.DB, domain string) (Shop, error) {
	var s Shop
	err := db.WithContext(ctx).Where("domain = ?", domain).Take(&s).Error
	return s, notFound(err)
}

// ShopByID finds a shop by id.
func ShopByID(ctx context.Context, db *gorm.DB, id int64) (Shop, error) {
	var s Shop
	err := db.WithContext(ctx).Take(&s, id).Error
	return s, notFound(err)
}

// ErrStaleUninstall is returned when an uninstall was triggered before the
// shop's latest install: the late webhook must not undo the reinstall.
var ErrStaleUninstall = errors.New("uninstall predates the latest install")

// MarkUninstalled stops everything for a shop at once: the token is dropped
// and the shop is flagged, unless the uninstall predates the latest install.
func MarkUninstalled(ctx context.Context, db *gorm.DB, domain string, triggeredAt time.Time) error {
	now := db.Config.NowFunc()
	q := db.WithContext(ctx).Model(&Shop{}).Where("domain = ?", domain)
	if !triggeredAt.IsZero() {
		q = q.Where("installed_at <= ?", triggeredAt.UTC())
	}
	res := q.Updates(map[string]any{"access_token": "", "uninstalled_at": now, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		if _, err := ShopByDomain(ctx, db, domain); err != nil {
			return err
		}
		return ErrStaleUninstall
	}
	return nil
}
