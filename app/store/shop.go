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
	AccessToken          string
	AccessTokenExpiresAt *time.Time // nil: a non-expiring token
	// RefreshToken is sealed like AccessToken; it rotates on every refresh.
	RefreshToken          string
	RefreshTokenExpiresAt *time.Time
	// TokenVersion counts rotations: saving a refreshed pair is a
	// compare-and-swap on it.
	TokenVersion  int64
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
	m := map[string]any{"access_token": sh.AccessToken, "access_token_expires_at": sh.AccessTokenExpiresAt,
		"refresh_token": sh.RefreshToken, "refresh_token_expires_at": sh.RefreshTokenExpiresAt,
		"token_version": gorm.Expr("shops.token_version + 1"), "scopes": sh.Scopes, "installed_at": sh.InstalledAt,
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
	res := q.Updates(map[string]any{"access_token": "", "refresh_token": "", "access_token_expires_at": nil,
		"refresh_token_expires_at": nil, "uninstalled_at": now, "updated_at": now})
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

// ErrTokenRotated means another process saved a newer token pair first.
var ErrTokenRotated = errors.New("token pair was rotated by another process")

// RotateTokens saves a refreshed (sealed) token pair if the shop still has
// the version the refresh started from.
func RotateTokens(ctx context.Context, db *gorm.DB, shopID, fromVersion int64, access string, accessExp *time.Time, refresh string, refreshExp *time.Time) error {
	res := db.WithContext(ctx).Model(&Shop{}).Where("id = ? AND token_version = ? AND uninstalled_at IS NULL", shopID, fromVersion).
		Updates(map[string]any{"access_token": access, "access_token_expires_at": accessExp, "refresh_token": refresh,
			"refresh_token_expires_at": refreshExp, "token_version": fromVersion + 1, "updated_at": db.Config.NowFunc()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrTokenRotated
	}
	return nil
}

// DropTokens forgets a shop's refused token pair (if no other process has
// rotated it meanwhile): the shop stays installed but needs a new token.
func DropTokens(ctx context.Context, db *gorm.DB, shopID, version int64) error {
	now := db.Config.NowFunc()
	return db.WithContext(ctx).Model(&Shop{}).Where("id = ? AND token_version = ?", shopID, version).
		Updates(map[string]any{"refresh_token": "", "refresh_token_expires_at": nil, "access_token_expires_at": now,
			"token_version": version + 1, "updated_at": now}).Error
}
