package restock

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// DemandRow is one variant shoppers are waiting for.
type DemandRow struct {
	VariantID      int64     `json:"variant_id"`
	ProductID      int64     `json:"product_id"`
	ProductTitle   string    `json:"product_title"`
	VariantTitle   string    `json:"variant_title"`
	ImageURL       string    `json:"image_url"`
	Price          string    `json:"price"`
	InStock        bool      `json:"in_stock"`
	SellableOnline int       `json:"sellable_online"`
	Tracked        bool      `json:"tracked"`
	Waiting        int64     `json:"waiting"`
	OldestWait     time.Time `json:"oldest_wait"`
}

// maxDemandRows bounds the demand table: the head of the ranking is what a
// merchant acts on.
const maxDemandRows = 100

// Demand ranks a shop's variants by shoppers waiting, most first, with the
// time the longest wait began.
func (f *Flow) Demand(ctx context.Context, shopDomain string) ([]DemandRow, error) {
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return nil, err
	}
	var counts []struct {
		VariantID int64
		Waiting   int64
		FirstID   int64
	}
	// MIN(id) names the oldest subscription (ids grow with time) without an
	// aggregate over timestamps, which SQLite would return as text.
	if err := f.db.DB.WithContext(ctx).Model(&store.Subscription{}).
		Select("variant_id, COUNT(*) AS waiting, MIN(id) AS first_id").
		Where("shop_id = ? AND status = ?", shop.ID, store.SubWaiting).
		Group("variant_id").Order("waiting DESC, first_id ASC").Limit(maxDemandRows).
		Scan(&counts).Error; err != nil {
		return nil, fmt.Errorf("count waiting shoppers: %w", err)
	}
	if len(counts) == 0 {
		return []DemandRow{}, nil
	}
	variantIDs := make([]int64, len(counts))
	firstIDs := make([]int64, len(counts))
	for i, c := range counts {
		variantIDs[i], firstIDs[i] = c.VariantID, c.FirstID
	}
	var vs []store.Variant
	if err := f.db.DB.WithContext(ctx).Where("shop_id = ? AND variant_id IN ?", shop.ID, variantIDs).Find(&vs).Error; err != nil {
		return nil, err
	}
	byVariant := make(map[int64]store.Variant, len(vs))
	for _, v := range vs {
		byVariant[v.VariantID] = v
	}
	var firsts []store.Subscription
	if err := f.db.DB.WithContext(ctx).Select("id, created_at").Where("id IN ?", firstIDs).Find(&firsts).Error; err != nil {
		return nil, err
	}
	since := make(map[int64]time.Time, len(firsts))
	for _, s := range firsts {
		since[s.ID] = s.CreatedAt.UTC()
	}
	out := make([]DemandRow, 0, len(counts))
	for _, c := range counts {
		v := byVariant[c.VariantID]
		out = append(out, DemandRow{VariantID: c.VariantID, ProductID: v.ProductID, ProductTitle: nonEmpty(v.ProductTitle, "Variant "+strconv.FormatInt(c.VariantID, 10)),
			VariantTitle: variantLabel(v.Title), ImageURL: v.ImageURL, Price: FormatPrice(v.Price, v.Currency), InStock: v.InStock,
			SellableOnline: v.SellableOnline, Tracked: v.Tracked, Waiting: c.Waiting, OldestWait: since[c.FirstID]})
	}
	return out, nil
}

// SubscriberQuery filters and pages the subscriber list.
type SubscriberQuery struct {
	// Search matches part of the email address, without case.
	Search string
	// ProductID keeps the shoppers of one product's variants (0: all).
	ProductID int64
	// Status keeps one status (waiting, notified, converted, unsubscribed,
	// expired; "" for all).
	Status string
	// Before pages backwards: only ids below it (0: from the newest).
	Before int64
	// Limit is the page size (default 50, at most 200).
	Limit int
}

// SubscriberStatuses are the statuses the list filters by.
var SubscriberStatuses = []string{store.SubWaiting, store.SubNotified, store.SubConverted, store.SubUnsubscribed, store.SubExpired}

// Validate checks the query, naming the bad parameter.
func (q *SubscriberQuery) Validate() error {
	if q.Status != "" && !contains(SubscriberStatuses, q.Status) {
		return ValidationError{{Field: "status", Message: "status is one of " + strings.Join(SubscriberStatuses, ", ")}}
	}
	if len(q.Search) > 254 || hasControl(q.Search, false) {
		return ValidationError{{Field: "q", Message: "the search is at most 254 characters, without control characters"}}
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 200)
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// SubscriberRow is one shopper waiting (or done waiting) for one variant.
type SubscriberRow struct {
	ID               int64      `json:"id"`
	Email            string     `json:"email"`
	Status           string     `json:"status"`
	VariantID        int64      `json:"variant_id"`
	ProductID        int64      `json:"product_id"`
	ProductTitle     string     `json:"product_title"`
	VariantTitle     string     `json:"variant_title"`
	Locale           string     `json:"locale"`
	AcceptsMarketing bool       `json:"accepts_marketing"`
	CreatedAt        time.Time  `json:"created_at"`
	NotifiedAt       *time.Time `json:"notified_at"`
	ConvertedAt      *time.Time `json:"converted_at"`
	UnsubscribedAt   *time.Time `json:"unsubscribed_at"`
}

// SubscriberPage is one page of the list, newest first.
type SubscriberPage struct {
	Subscribers []SubscriberRow `json:"subscribers"`
	// Total counts every row the filters match.
	Total int64 `json:"total"`
	// Next is the Before of the next page (0: this is the last).
	Next int64 `json:"next"`
}

// filtered applies the query's filters (not its page) to subscriptions.
func (f *Flow) filtered(ctx context.Context, shopID int64, q SubscriberQuery) *gorm.DB {
	db := f.db.DB.WithContext(ctx).Model(&store.Subscription{}).Where("subscriptions.shop_id = ?", shopID)
	if s := strings.ToLower(strings.TrimSpace(q.Search)); s != "" {
		r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
		db = db.Where(`subscriptions.email LIKE ? ESCAPE '\'`, "%"+r.Replace(s)+"%")
	}
	if q.Status != "" {
		db = db.Where("subscriptions.status = ?", q.Status)
	}
	if q.ProductID != 0 {
		db = db.Where("subscriptions.variant_id IN (?)",
			f.db.DB.Model(&store.Variant{}).Select("variant_id").Where("shop_id = ? AND product_id = ?", shopID, q.ProductID))
	}
	return db
}

const subscriberColumns = "subscriptions.id, subscriptions.email, subscriptions.status, subscriptions.variant_id, " +
	"COALESCE(variants.product_id, subscriptions.product_id) AS product_id, COALESCE(variants.product_title, '') AS product_title, " +
	"COALESCE(variants.title, '') AS variant_title, subscriptions.locale, subscriptions.accepts_marketing, subscriptions.created_at, " +
	"subscriptions.notified_at, subscriptions.converted_at, subscriptions.unsubscribed_at"

const variantsJoin = "LEFT JOIN variants ON variants.shop_id = subscriptions.shop_id AND variants.variant_id = subscriptions.variant_id"

// Subscribers lists a shop's subscribers, newest first, a page at a time
// (keyset paging on the id: page 2,000 costs what page 1 does).
func (f *Flow) Subscribers(ctx context.Context, shopDomain string, q SubscriberQuery) (SubscriberPage, error) {
	if err := q.Validate(); err != nil {
		return SubscriberPage{}, err
	}
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return SubscriberPage{}, err
	}
	page := SubscriberPage{Subscribers: []SubscriberRow{}}
	if err := f.filtered(ctx, shop.ID, q).Count(&page.Total).Error; err != nil {
		return SubscriberPage{}, fmt.Errorf("count subscribers: %w", err)
	}
	db := f.filtered(ctx, shop.ID, q).Select(subscriberColumns).Joins(variantsJoin)
	if q.Before > 0 {
		db = db.Where("subscriptions.id < ?", q.Before)
	}
	var rows []SubscriberRow
	if err := db.Order("subscriptions.id DESC").Limit(q.Limit + 1).Scan(&rows).Error; err != nil {
		return SubscriberPage{}, fmt.Errorf("list subscribers: %w", err)
	}
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		page.Next = rows[len(rows)-1].ID
	}
	for i := range rows {
		rows[i].VariantTitle = variantLabel(rows[i].VariantTitle)
		rows[i].CreatedAt = rows[i].CreatedAt.UTC()
	}
	page.Subscribers = append(page.Subscribers, rows...)
	return page, nil
}

// ProductOption is a product shoppers wait for, for the list's filter.
type ProductOption struct {
	ProductID int64  `json:"product_id"`
	Title     string `json:"title"`
}

// SubscribedProducts lists the products that have subscribers, by title.
func (f *Flow) SubscribedProducts(ctx context.Context, shopDomain string) ([]ProductOption, error) {
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return nil, err
	}
	out := []ProductOption{}
	err = f.db.DB.WithContext(ctx).Model(&store.Variant{}).
		Select("product_id, MIN(product_title) AS title").
		Where("shop_id = ? AND variant_id IN (?)", shop.ID,
			f.db.DB.Model(&store.Subscription{}).Select("variant_id").Where("shop_id = ?", shop.ID)).
		Group("product_id").Order("title").Limit(1000).Scan(&out).Error
	return out, err
}

// csvFlushEvery is how many rows the export buffers before flushing to the
// client: the download starts at once and memory stays flat.
const csvFlushEvery = 500

// CSVHeader is the export's first line.
var CSVHeader = []string{"email", "status", "product", "variant", "product_id", "variant_id", "locale",
	"accepts_marketing", "subscribed_at", "notified_at", "converted_at", "unsubscribed_at"}

// ExportSubscribers streams every subscriber the query's filters match
// (its page fields are ignored) as CSV to w, oldest first, row by row from
// a database cursor. flush is called every few hundred rows. It returns the
// number of rows written.
func (f *Flow) ExportSubscribers(ctx context.Context, shopDomain string, q SubscriberQuery, w io.Writer, flush func()) (int, error) {
	if err := q.Validate(); err != nil {
		return 0, err
	}
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return 0, err
	}
	rows, err := f.filtered(ctx, shop.ID, q).Select(subscriberColumns).Joins(variantsJoin).Order("subscriptions.id").Rows()
	if err != nil {
		return 0, fmt.Errorf("export subscribers: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		var r SubscriberRow
		if err := f.db.DB.ScanRows(rows, &r); err != nil {
			return n, fmt.Errorf("export subscribers: %w", err)
		}
		rec := []string{r.Email, r.Status, r.ProductTitle, variantLabel(r.VariantTitle), strconv.FormatInt(r.ProductID, 10),
			strconv.FormatInt(r.VariantID, 10), r.Locale, strconv.FormatBool(r.AcceptsMarketing), csvTime(&r.CreatedAt),
			csvTime(r.NotifiedAt), csvTime(r.ConvertedAt), csvTime(r.UnsubscribedAt)}
		for i := range rec {
			rec[i] = csvSafe(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
		if n%csvFlushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return n, err
			}
			flush()
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("export subscribers: %w", err)
	}
	cw.Flush()
	flush()
	return n, cw.Error()
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSafe keeps a spreadsheet from reading a cell as a formula: shoppers
// type their own email and merchants their product titles, and either may
// begin with = + - @ or a control character (CSV injection).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// DeleteSubscriber removes one subscription of the shop and its messages
// (a merchant's "delete"; a shopper's erasure goes through customers/redact).
func (f *Flow) DeleteSubscriber(ctx context.Context, shopDomain string, id int64) error {
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return err
	}
	return f.tx(ctx, func(tx *txn) error {
		res := tx.Where("id = ? AND shop_id = ?", id, shop.ID).Delete(&store.Subscription{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		return tx.Where("subscription_id = ? AND shop_id = ?", id, shop.ID).Delete(&store.Message{}).Error
	})
}

// PreviewInput is a step's copy as the merchant is typing it, and the
// product to show (0: the most wanted one, else a sample).
type PreviewInput struct {
	CopyInput
	BrandColor string `json:"brand_color"`
	LogoURL    string `json:"logo_url"`
	VariantID  int64  `json:"variant_id"`
}

// PreviewResult is a rendered step and the product it shows.
type PreviewResult struct {
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
	// Product names what the preview shows ("sample" when the shop has no
	// catalog yet).
	Product string `json:"product"`
}

func (in PreviewInput) validate() error {
	var errs ValidationError
	if in.Step < 1 || in.Step > 3 {
		errs = append(errs, FieldError{Field: "step", Message: "steps are 1, 2 and 3"})
	}
	if in.BrandColor != "" && !colorPattern.MatchString(in.BrandColor) {
		errs = append(errs, FieldError{Field: "brand_color", Message: "the brand colour is a hex colour such as #1a73e8"})
	}
	if in.LogoURL != "" && !validLogoURL(in.LogoURL) {
		errs = append(errs, FieldError{Field: "logo_url", Message: "the logo is an https:// image address"})
	}
	for _, fld := range []struct{ name, value string }{{"subject", in.Subject}, {"preheader", in.Preheader},
		{"heading", in.Heading}, {"body", in.Body}, {"button", in.Button}} {
		if len(fld.value) > 4000 {
			errs = append(errs, FieldError{Field: fld.name, Message: fld.name + " is too long"})
		} else if hasControl(fld.value, fld.name == "body") {
			errs = append(errs, FieldError{Field: fld.name, Message: fld.name + " must not contain control characters"})
		} else if _, err := email.Expand(fld.value, sampleData); err != nil {
			errs = append(errs, FieldError{Field: fld.name, Message: err.Error()})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// stepData fills a step for previews and tests: the chosen variant, else the
// one most shoppers wait for, else any from the catalog, else a sample.
func (f *Flow) stepData(ctx context.Context, shop store.Shop, in PreviewInput) (email.StepData, string, error) {
	d := sampleData
	d.Step, d.BrandColor, d.LogoURL = in.Step, in.BrandColor, in.LogoURL
	d.ShopName = nonEmpty(shop.Name, shopLabel(shop.Domain))
	var v store.Variant
	var err error
	switch {
	case in.VariantID != 0:
		v, err = store.VariantByID(ctx, f.db.DB, shop.ID, in.VariantID)
		if errors.Is(err, store.ErrNotFound) {
			return d, "", ValidationError{{Field: "variant_id", Message: "that variant is not in the shop's catalog"}}
		}
	default:
		err = f.db.DB.WithContext(ctx).Where("shop_id = ? AND variant_id IN (?)", shop.ID,
			f.db.DB.Model(&store.Subscription{}).Select("variant_id").Where("shop_id = ? AND status = ?", shop.ID, store.SubWaiting)).
			Order("updated_at DESC").Take(&v).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			err = f.db.DB.WithContext(ctx).Where("shop_id = ?", shop.ID).Order("updated_at DESC").Take(&v).Error
		}
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return d, "sample", nil
		}
	}
	if err != nil {
		return d, "", err
	}
	var waiting int64
	if err := f.db.DB.WithContext(ctx).Model(&store.Subscription{}).
		Where("shop_id = ? AND variant_id = ? AND status = ?", shop.ID, v.VariantID, store.SubWaiting).Count(&waiting).Error; err != nil {
		return d, "", err
	}
	d.ProductTitle, d.VariantTitle, d.ImageURL = v.ProductTitle, variantLabel(v.Title), v.ImageURL
	d.Price, d.StockLeft, d.WaitingCount = FormatPrice(v.Price, v.Currency), max(v.SellableOnline, 0), int(waiting)
	if v.ProductURL != "" {
		d.ClickURL = v.ProductURL
	}
	name := v.ProductTitle
	if t := variantLabel(v.Title); t != "" {
		name += " · " + t
	}
	return d, name, nil
}

// ShopPreview renders one step of the shop's emails with the copy being
// edited and a real product of the shop's catalog (else a sample).
func (f *Flow) ShopPreview(ctx context.Context, shopDomain string, in PreviewInput) (PreviewResult, error) {
	if err := in.validate(); err != nil {
		return PreviewResult{}, err
	}
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return PreviewResult{}, err
	}
	d, product, err := f.stepData(ctx, shop, in)
	if err != nil {
		return PreviewResult{}, err
	}
	r, err := f.cfg.Renderer.Render(d, email.Copy{Subject: in.Subject, Preheader: in.Preheader, Heading: in.Heading, Body: in.Body, Button: in.Button})
	if err != nil {
		return PreviewResult{}, ValidationError{{Field: "copy", Message: err.Error()}}
	}
	return PreviewResult{Subject: r.Subject, HTML: r.HTML, Text: r.Text, Product: product}, nil
}

// TestInput is a test send: the copy being edited, to one address.
type TestInput struct {
	PreviewInput
	To string `json:"to"`
}

// ValidateTest checks a test send as a save would check its copy, before
// anything counts against the shop's test-email allowance.
func ValidateTest(in TestInput) error {
	var errs ValidationError
	if !ValidEmail(NormalizeEmail(in.To)) {
		errs = append(errs, FieldError{Field: "to", Message: "enter the email address the test should go to, such as you@example.com"})
	}
	if err := in.PreviewInput.validate(); err != nil {
		errs = append(errs, err.(ValidationError)...)
	} else {
		errs = append(errs, copyErrors(in.CopyInput, "")...)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// SendTest renders a step as ShopPreview does and sends it to one address
// through the real sender (SendGrid or the outbox), with "[Test]" before
// the subject. It records the send for the onboarding checklist.
func (f *Flow) SendTest(ctx context.Context, shopDomain string, in TestInput) (PreviewResult, error) {
	if err := ValidateTest(in); err != nil {
		return PreviewResult{}, err
	}
	to := NormalizeEmail(in.To)
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return PreviewResult{}, err
	}
	if !shop.Active() {
		return PreviewResult{}, ValidationError{{Field: "shop", Message: "the app is not installed on this shop; reload it from the Shopify admin"}}
	}
	r, err := f.ShopPreview(ctx, shopDomain, in.PreviewInput)
	if err != nil {
		return PreviewResult{}, err
	}
	settings, err := store.SettingsFor(ctx, f.db.DB, shop.ID)
	if err != nil {
		return PreviewResult{}, err
	}
	m := &email.Message{
		From:       email.Address{Email: f.cfg.MailFrom, Name: nonEmpty(settings.SenderName, nonEmpty(shop.Name, shopLabel(shop.Domain)))},
		Subject:    "[Test] " + r.Subject,
		Text:       r.Text,
		HTML:       r.HTML,
		Categories: []string{"restock-test"},
		Recipients: []email.Recipient{{Email: to, CustomArgs: map[string]string{"shop": shop.Domain, "test": "1"}}},
	}
	if settings.ReplyTo != "" {
		m.ReplyTo = &email.Address{Email: settings.ReplyTo}
	}
	res, err := f.cfg.Sender.Send(ctx, m)
	if err != nil {
		return PreviewResult{}, fmt.Errorf("send test email: %w", err)
	}
	if len(res.Accepted) == 0 {
		reason := "the mail provider refused the address"
		for _, why := range res.Rejected {
			reason = why
		}
		return PreviewResult{}, ValidationError{{Field: "to", Message: reason}}
	}
	r.Subject = m.Subject
	return r, store.MarkTestSent(ctx, f.db.DB, shop.ID, f.Now())
}

// Onboarding is the first-run checklist.
type Onboarding struct {
	// BlockAdded: the block or embed is placed in the published theme, or
	// shoppers have already signed up through it.
	BlockAdded bool `json:"block_added"`
	// BlockEvidence says how BlockAdded was learnt: "theme", "signups" or "".
	BlockEvidence string `json:"block_evidence"`
	ThemeName     string `json:"theme_name"`
	// ThemeError is set when the theme could not be read (say, a shop
	// installed before the app asked for read_themes).
	ThemeError string `json:"theme_error,omitempty"`
	SenderSet  bool   `json:"sender_set"`
	TestSent   bool   `json:"test_sent"`
}

// The handles of the extension's app block and app embed
// (extensions/notify-me/blocks/*.liquid).
const (
	BlockHandle = "notify-me"
	EmbedHandle = "notify-embed"
)

type themeReader interface {
	ThemeAppBlocks(ctx context.Context) (shopify.ThemeBlocks, error)
}

type themeCacheEntry struct {
	at     time.Time
	blocks shopify.ThemeBlocks
	err    error
}

// themeCacheTTL spares the Admin API a theme read on every page load.
const themeCacheTTL = time.Minute

// ShopOnboarding answers the checklist: the theme is read through the Admin
// API (cached for a minute).
func (f *Flow) ShopOnboarding(ctx context.Context, shopDomain string) (Onboarding, error) {
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return Onboarding{}, err
	}
	s, err := store.SettingsFor(ctx, f.db.DB, shop.ID)
	if err != nil {
		return Onboarding{}, err
	}
	o := Onboarding{SenderSet: s.SenderName != "" && s.ReplyTo != "", TestSent: s.TestSentAt != nil}
	tb, terr := f.themeBlocks(ctx, shop)
	switch {
	case terr != nil:
		f.log.Warn("read the published theme", "shop", shop.Domain, "error", terr)
		o.ThemeError = "Shopify did not let us read your published theme just now, so we cannot tell whether the block is there"
	case tb.Has(BlockHandle) || tb.Has(EmbedHandle):
		o.BlockAdded, o.BlockEvidence = true, "theme"
	}
	o.ThemeName = tb.ThemeName
	if !o.BlockAdded {
		// One signup is evidence enough: look for one, do not count them all.
		var ids []int64
		if err := f.db.DB.WithContext(ctx).Model(&store.Subscription{}).Where("shop_id = ?", shop.ID).Limit(1).Pluck("id", &ids).Error; err != nil {
			return Onboarding{}, err
		}
		if len(ids) > 0 {
			o.BlockAdded, o.BlockEvidence = true, "signups"
		}
	}
	return o, nil
}

func (f *Flow) themeBlocks(ctx context.Context, shop store.Shop) (shopify.ThemeBlocks, error) {
	now := f.Now()
	if e, ok := f.themes.Load(shop.Domain); ok {
		if e := e.(themeCacheEntry); now.Sub(e.at) < themeCacheTTL && now.Sub(e.at) >= 0 {
			return e.blocks, e.err
		}
	}
	tok, err := f.AccessToken(ctx, shop, false)
	if err != nil {
		return shopify.ThemeBlocks{}, err
	}
	cat, err := f.cfg.CatalogFunc(shop.Domain, tok)
	if err != nil {
		return shopify.ThemeBlocks{}, err
	}
	tr, ok := cat.(themeReader)
	if !ok {
		return shopify.ThemeBlocks{}, errors.New("this catalog cannot read themes")
	}
	// A checklist is not worth a slow page: a few seconds, then "unknown".
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	blocks, err := tr.ThemeAppBlocks(ctx)
	f.themes.Store(shop.Domain, themeCacheEntry{at: now, blocks: blocks, err: err})
	return blocks, err
}

// ForgetTheme drops the cached theme read of a shop (the merchant came back
// from the theme editor and asks again).
func (f *Flow) ForgetTheme(shopDomain string) { f.themes.Delete(shopDomain) }
