package restock

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/restockrelay/restockrelay/app/store"
)

// Signup errors. Their text is written for the shopper.
var (
	ErrInvalidEmail       = errors.New("please enter a valid email address, like name@example.com")
	ErrUnknownShop        = errors.New("this store does not have Restock Relay installed")
	ErrUnknownVariant     = errors.New("we could not find that product option; please reload the page and try again")
	ErrInStock            = errors.New("good news: this item is in stock, so you can buy it now")
	ErrNotRestockable     = errors.New("this item is always available to order, so there is nothing to wait for")
	ErrCatalogUnavailable = errors.New("we could not check this product right now; please try again in a minute")
	ErrTooManyForEmail    = errors.New("this email address already waits for many items in this store")
)

// MaxWaitsPerEmail bounds how many variants one address may wait for in one shop.
const MaxWaitsPerEmail = 100

// SignupRequest is a shopper's "notify me" request, the shop taken from the
// signed proxy query.
type SignupRequest struct {
	Shop             string
	VariantID        int64
	Email            string
	Locale           string
	AcceptsMarketing bool
	CustomerID       int64
}

// SignupResult says whether the shopper was newly subscribed.
type SignupResult struct {
	Created      bool
	Subscription store.Subscription
	Variant      store.Variant
}

// NormalizeEmail trims and lower-cases an address, and writes an
// internationalized domain in its ASCII (punycode) form, so one mailbox has
// one spelling.
func NormalizeEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		if d, err := idna.Lookup.ToASCII(s[at+1:]); err == nil {
			s = s[:at+1] + d
		}
	}
	return s
}

var localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$`)

// cleanLocale keeps a BCP 47-like tag (en, pt-BR, zh-Hant-TW) and drops
// anything else.
func cleanLocale(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 35 || !localePattern.MatchString(s) {
		return ""
	}
	return s
}

// ValidEmail accepts a bare address (no display name) whose domain has a
// dot, at most 254 characters: what SendGrid will take.
func ValidEmail(s string) bool {
	if len(s) == 0 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>,;\"") {
		return false
	}
	for i := 0; i < len(s); i++ {
		// ASCII only (the domain is already punycode): SendGrid and most
		// mailboxes do not take UTF-8 local parts.
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > 64 {
		return false
	}
	return validDomain(s[at+1:])
}

// validDomain accepts a host name of at least two labels, each 1–63 letters,
// digits or inner hyphens, with an alphabetic (or punycode) top level; an
// internationalized name is checked in its ASCII form. No IP literals.
func validDomain(d string) bool {
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		d = a
	} else {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 || len(d) > 253 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.HasPrefix(tld, "xn--") {
		return true
	}
	for i := 0; i < len(tld); i++ {
		if tld[i] < 'a' || tld[i] > 'z' {
			return false
		}
	}
	return len(tld) >= 2
}

// Subscribe adds a shopper to a variant's waiting list. A variant the app
// has not seen is read from the shop's Admin API first; one that is in stock
// (or never runs out) cannot be waited for. Nothing is stored on error.
func (f *Flow) Subscribe(ctx context.Context, r SignupRequest) (SignupResult, error) {
	addr := NormalizeEmail(r.Email)
	if !ValidEmail(addr) {
		return SignupResult{}, ErrInvalidEmail
	}
	if r.VariantID <= 0 {
		return SignupResult{}, ErrUnknownVariant
	}
	shop, err := store.ShopByDomain(ctx, f.db.DB, r.Shop)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !shop.Active()) {
		return SignupResult{}, ErrUnknownShop
	}
	if err != nil {
		return SignupResult{}, err
	}
	v, err := store.VariantByID(ctx, f.db.DB, shop.ID, r.VariantID)
	if errors.Is(err, store.ErrNotFound) {
		v, err = f.learnVariant(ctx, shop, r.VariantID)
	}
	if err != nil {
		return SignupResult{}, err
	}
	if !v.Tracked || v.Policy == "CONTINUE" {
		return SignupResult{Variant: v}, ErrNotRestockable
	}
	if v.InStock {
		return SignupResult{Variant: v}, ErrInStock
	}
	n, err := store.CountActiveForEmail(ctx, f.db.DB, shop.ID, addr)
	if err != nil {
		return SignupResult{}, err
	}
	sub := &store.Subscription{ShopID: shop.ID, VariantID: v.VariantID, ProductID: v.ProductID, Email: addr,
		Locale: cleanLocale(r.Locale), AcceptsMarketing: r.AcceptsMarketing}
	if r.CustomerID > 0 {
		id := r.CustomerID
		sub.CustomerID = &id
	}
	if n >= MaxWaitsPerEmail {
		// Still idempotent: an existing subscription is reported as such.
		var existing store.Subscription
		if err := f.db.DB.WithContext(ctx).Where("shop_id = ? AND variant_id = ? AND email = ? AND status IN ?",
			shop.ID, v.VariantID, addr, []string{store.SubWaiting, store.SubNotified}).Take(&existing).Error; err == nil {
			return SignupResult{Subscription: existing, Variant: v}, nil
		}
		return SignupResult{}, ErrTooManyForEmail
	}
	created, err := store.Subscribe(ctx, f.db.DB, sub)
	if err != nil {
		return SignupResult{}, fmt.Errorf("save subscription: %w", err)
	}
	return SignupResult{Created: created, Subscription: *sub, Variant: v}, nil
}

// learnVariant reads a variant the app has not seen and caches it with its
// current stock state.
func (f *Flow) learnVariant(ctx context.Context, shop store.Shop, variantID int64) (store.Variant, error) {
	// A shopper is waiting on the form: answer within seconds, not retries.
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sv, err := f.FetchVariant(lctx, shop, variantID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Variant{}, ErrUnknownVariant
	}
	if err != nil {
		f.log.Warn("variant lookup failed", "shop", shop.Domain, "variant_id", variantID, "error", err)
		return store.Variant{}, ErrCatalogUnavailable
	}
	settings, err := store.SettingsFor(ctx, f.db.DB, shop.ID)
	if err != nil {
		return store.Variant{}, err
	}
	v := variantInfo(shop.ID, sv, shop.Currency)
	v.InStock = decideStock(sv, settings.Threshold)
	v.SellableOnline = sv.SellableOnline
	now := f.Now()
	v.StockCheckedAt = &now
	if err := store.SaveVariantInfo(ctx, f.db.DB, &v); err != nil {
		return store.Variant{}, fmt.Errorf("cache variant: %w", err)
	}
	return store.VariantByID(ctx, f.db.DB, shop.ID, variantID)
}
