package restock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// refreshAhead is how long before expiry an access token is refreshed.
const refreshAhead = 5 * time.Minute

// ErrReauthorize means the shop's tokens are gone or refused for good: the
// merchant must open the app again (token exchange) or reinstall.
var ErrReauthorize = errors.New("the shop must open the app again to authorize it")

// AccessToken returns a usable Admin API token for the shop, refreshing an
// expiring offline token shortly before it expires (or at once with
// force, after Shopify refused it). The rotated pair is saved as a
// compare-and-swap: when two processes refresh at once, one pair wins and
// the other process uses it, so the shop is never locked out.
func (f *Flow) AccessToken(ctx context.Context, shop store.Shop, force bool) (string, error) {
	for range 3 {
		if !shop.Active() {
			return "", errNoToken
		}
		now := f.Now()
		expiring := shop.AccessTokenExpiresAt != nil && now.Add(refreshAhead).After(*shop.AccessTokenExpiresAt)
		if !force && !expiring {
			tok, err := f.cfg.Sealer.Open(shop.AccessToken)
			if err != nil {
				return "", fmt.Errorf("unseal token of %s: %w", shop.Domain, err)
			}
			return tok, nil
		}
		if shop.RefreshToken == "" || f.cfg.OAuth == nil {
			if force || shop.AccessTokenExpiresAt != nil && now.After(*shop.AccessTokenExpiresAt) {
				return "", ErrReauthorize
			}
			return f.cfg.Sealer.Open(shop.AccessToken)
		}
		rt, err := f.cfg.Sealer.Open(shop.RefreshToken)
		if err != nil {
			return "", fmt.Errorf("unseal refresh token of %s: %w", shop.Domain, err)
		}
		tok, rerr := f.cfg.OAuth.Refresh(ctx, shop.Domain, rt)
		if rerr == nil {
			err = f.saveRefreshed(ctx, shop, tok)
			if err == nil {
				f.log.Info("access token refreshed", "shop", shop.Domain)
				return tok.AccessToken, nil
			}
			if !errors.Is(err, store.ErrTokenRotated) {
				return "", err
			}
		} else if !errors.Is(rerr, shopify.ErrInvalidGrant) {
			return "", fmt.Errorf("refresh token of %s: %w", shop.Domain, rerr)
		}
		// Another process rotated first (its pair is saved), or our refresh
		// token was already spent by it: take the newest pair.
		fresh, err := store.ShopByID(ctx, f.db.DB, shop.ID)
		if err != nil {
			return "", err
		}
		if fresh.TokenVersion == shop.TokenVersion {
			if rerr != nil {
				// Refused for good (revoked, expired): forget the pair, so the
				// next load of the embedded app exchanges a new one.
				if err := store.DropTokens(ctx, f.db.DB, shop.ID, shop.TokenVersion); err != nil {
					return "", err
				}
				f.log.Warn("refresh token refused; the shop must open the app again", "shop", shop.Domain)
				return "", fmt.Errorf("%w: %v", ErrReauthorize, rerr)
			}
			continue
		}
		shop, force = fresh, false
	}
	return "", errors.New("token rotation kept racing; try again")
}

func (f *Flow) saveRefreshed(ctx context.Context, shop store.Shop, tok shopify.Token) error {
	access, err := f.cfg.Sealer.Seal(tok.AccessToken)
	if err != nil {
		return err
	}
	refresh, err := f.cfg.Sealer.Seal(tok.RefreshToken)
	if err != nil {
		return err
	}
	return store.RotateTokens(ctx, f.db.DB, shop.ID, shop.TokenVersion, access, timePtr(tok.ExpiresAt), refresh, timePtr(tok.RefreshExpiresAt))
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// InstallWithSessionToken installs (or re-authorizes) a shop the way
// Shopify-managed installation expects: the embedded app's session token is
// exchanged for an expiring offline token, stored sealed.
func (f *Flow) InstallWithSessionToken(ctx context.Context, shopDomain, sessionToken string) (store.Shop, error) {
	if f.cfg.OAuth == nil {
		return store.Shop{}, errors.New("token exchange is not configured")
	}
	tok, err := f.cfg.OAuth.ExchangeSessionToken(ctx, shopDomain, sessionToken)
	if err != nil {
		return store.Shop{}, fmt.Errorf("exchange session token for %s: %w", shopDomain, err)
	}
	return f.saveInstall(ctx, shopDomain, tok)
}

// InstallWithCode completes the authorization-code grant.
func (f *Flow) InstallWithCode(ctx context.Context, shopDomain, code string) (store.Shop, error) {
	if f.cfg.OAuth == nil {
		return store.Shop{}, errors.New("OAuth is not configured")
	}
	tok, err := f.cfg.OAuth.ExchangeCode(ctx, shopDomain, code)
	if err != nil {
		return store.Shop{}, fmt.Errorf("exchange authorization code for %s: %w", shopDomain, err)
	}
	return f.saveInstall(ctx, shopDomain, tok)
}

func (f *Flow) saveInstall(ctx context.Context, shopDomain string, tok shopify.Token) (store.Shop, error) {
	access, err := f.cfg.Sealer.Seal(tok.AccessToken)
	if err != nil {
		return store.Shop{}, err
	}
	refresh, err := f.cfg.Sealer.Seal(tok.RefreshToken)
	if err != nil {
		return store.Shop{}, err
	}
	sh := store.Shop{Domain: shopDomain, AccessToken: access, AccessTokenExpiresAt: timePtr(tok.ExpiresAt), RefreshToken: refresh,
		RefreshTokenExpiresAt: timePtr(tok.RefreshExpiresAt), Scopes: tok.Scope, InstalledAt: f.Now()}
	if err := store.UpsertShop(ctx, f.db.DB, &sh); err != nil {
		return store.Shop{}, fmt.Errorf("save install of %s: %w", shopDomain, err)
	}
	f.log.Info("shop installed", "shop", shopDomain, "expiring_token", tok.RefreshToken != "")
	return sh, nil
}

// ShopNeedsToken reports whether a shop has no usable offline token (never
// installed, uninstalled, or its refresh token expired).
func (f *Flow) ShopNeedsToken(ctx context.Context, shopDomain string) (bool, error) {
	sh, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if !sh.Active() {
		return true, nil
	}
	now := f.Now()
	accessDead := sh.AccessTokenExpiresAt != nil && !now.Before(*sh.AccessTokenExpiresAt)
	refreshDead := sh.RefreshToken == "" || sh.RefreshTokenExpiresAt != nil && now.After(*sh.RefreshTokenExpiresAt)
	return accessDead && refreshDead, nil
}
