package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	goshopify "github.com/bold-commerce/go-shopify/v4"
)

// DefaultAPIVersion is the Admin API version the client pins when
// AdminConfig.APIVersion is empty. Never the moving "stable" alias.
const DefaultAPIVersion = "2026-10"

// Errors of the Admin API client; match them with errors.Is.
var (
	// ErrUnauthorized means Shopify refused the access token (HTTP 401): it
	// was revoked (app uninstalled) or expired. Retrying will not help.
	ErrUnauthorized = errors.New("shopify: unauthorized")
	// ErrNotFound means the object asked for does not exist, or (HTTP 404)
	// the shop itself is gone.
	ErrNotFound = errors.New("shopify: not found")
	// ErrThrottled means the query stayed throttled after the allowed
	// retries; try again later.
	ErrThrottled = errors.New("shopify: throttled")
	// ErrShopUnavailable means the shop is frozen or locked (HTTP 402/423),
	// for example for unpaid bills; retrying soon will not help.
	ErrShopUnavailable = errors.New("shopify: shop unavailable")
)

// AdminConfig configures an AdminClient.
type AdminConfig struct {
	Shop        string // x.myshopify.com
	AccessToken string
	APIVersion  string // YYYY-MM; default DefaultAPIVersion
	// BaseURL, if set, replaces https://{shop} (scheme, host and an optional
	// path prefix), e.g. the URL of a fake Shopify in tests.
	BaseURL string
	// HTTPClient is copied, never modified (its Transport is wrapped and
	// redirects are refused); nil means a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt; default 10s.
	Timeout time.Duration
	// MaxRetries bounds the retries of one call (throttling, 429, 5xx,
	// network errors and timeouts together); 0 means 5, negative means none.
	MaxRetries int
	// SleepFunc waits between attempts; nil means a timer that stops early
	// with the context's error.
	SleepFunc func(context.Context, time.Duration) error
}

// AdminClient calls Shopify's Admin GraphQL API for one shop. It is built on
// go-shopify's GraphQL client and is safe for concurrent use.
type AdminClient struct {
	shop       string
	token      string
	version    string
	httpClient *http.Client
	timeout    time.Duration
	maxRetries int
	sleep      func(context.Context, time.Duration) error
}

var apiVersionRegexp = regexp.MustCompile(`^\d{4}-\d{2}$`)

const (
	defaultAdminTimeout    = 10 * time.Second
	defaultAdminMaxRetries = 5
	backoffBase            = 500 * time.Millisecond
	backoffMax             = 30 * time.Second
	maxResponseBytes       = 16 << 20
	// variantBatchSize is how many ids one nodes(ids:) query asks for.
	variantBatchSize = 100
)

// NewAdminClient checks cfg and returns a client for cfg.Shop.
func NewAdminClient(cfg AdminConfig) (*AdminClient, error) {
	if !ValidShop(cfg.Shop) {
		return nil, fmt.Errorf("new admin client for %q: %w", clipText(cfg.Shop, 80), ErrBadShop)
	}
	if cfg.AccessToken == "" {
		return nil, fmt.Errorf("new admin client for %s: empty access token", cfg.Shop)
	}
	c := &AdminClient{
		shop:       cfg.Shop,
		token:      cfg.AccessToken,
		version:    cfg.APIVersion,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		sleep:      cfg.SleepFunc,
	}
	if c.version == "" {
		c.version = DefaultAPIVersion
	}
	if !apiVersionRegexp.MatchString(c.version) {
		// go-shopify would silently fall back to the unversioned path.
		return nil, fmt.Errorf("new admin client for %s: API version %q is not YYYY-MM", cfg.Shop, c.version)
	}
	if c.timeout <= 0 {
		c.timeout = defaultAdminTimeout
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = defaultAdminMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.sleep == nil {
		c.sleep = sleepContext
	}

	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	rt := &adminTransport{base: hc.Transport, shopHost: cfg.Shop}
	if rt.base == nil {
		rt.base = http.DefaultTransport
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("new admin client for %s: base URL %q must be http(s)://host[/path]", cfg.Shop, cfg.BaseURL)
		}
		rt.override = u
	}
	hc.Transport = rt
	// The Admin API does not redirect; following one would carry
	// X-Shopify-Access-Token to wherever it points (Go only strips
	// Authorization and cookies on cross-host redirects).
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.httpClient = hc
	return c, nil
}

// Variant is a product variant with what restock decisions need: its product,
// stock and whether it can be bought online.
type Variant struct {
	ID, ProductID, InventoryItemID int64
	Title, SKU, Price, Currency    string // Price is a decimal string in Currency (the shop's)
	ProductTitle, Handle           string
	ProductStatus                  string // ACTIVE, DRAFT, ARCHIVED
	ProductURL                     string // Online Store URL; "" when unpublished
	ImageURL                       string // featured media preview; may be ""
	Policy                         string // DENY or CONTINUE
	Tracked                        bool
	SellableOnline                 int // sellableOnlineQuantity: sum over locations that fulfil online orders
	InventoryQuantity              int // all locations
	AvailableForSale               bool
	Published                      bool // published on the Online Store (onlineStoreUrl not null)
}

// The variant fields both queries read. Checked against the 2026-10 schema
// (the fake Shopify validates them in tests).
const variantFragment = `
fragment RestockVariant on ProductVariant {
  id
  title
  sku
  price
  inventoryPolicy
  inventoryQuantity
  sellableOnlineQuantity
  availableForSale
  product {
    id
    title
    handle
    status
    onlineStoreUrl
    featuredMedia { preview { image { url } } }
  }
}`

// InventoryItem.variant is deprecated (2026-01): read variants instead.
const variantForItemQuery = `query VariantForItem($id: ID!) {
  inventoryItem(id: $id) {
    id
    tracked
    variants(first: 10) { nodes { ...RestockVariant } }
  }
  shop { currencyCode }
}` + variantFragment

const variantsQuery = `query Variants($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      ...RestockVariant
      inventoryItem { id tracked }
    }
  }
  shop { currencyCode }
}` + variantFragment

type gqlVariant struct {
	ID                     string  `json:"id"`
	Title                  string  `json:"title"`
	SKU                    *string `json:"sku"`
	Price                  string  `json:"price"`
	InventoryPolicy        string  `json:"inventoryPolicy"`
	InventoryQuantity      *int    `json:"inventoryQuantity"`
	SellableOnlineQuantity int     `json:"sellableOnlineQuantity"`
	AvailableForSale       bool    `json:"availableForSale"`
	Product                *struct {
		ID             string  `json:"id"`
		Title          string  `json:"title"`
		Handle         string  `json:"handle"`
		Status         string  `json:"status"`
		OnlineStoreURL *string `json:"onlineStoreUrl"`
		FeaturedMedia  *struct {
			Preview *struct {
				Image *struct {
					URL string `json:"url"`
				} `json:"image"`
			} `json:"preview"`
		} `json:"featuredMedia"`
	} `json:"product"`
	InventoryItem *gqlInventoryItem `json:"inventoryItem"`
}

type gqlInventoryItem struct {
	ID      string `json:"id"`
	Tracked bool   `json:"tracked"`
}

type gqlShop struct {
	CurrencyCode string `json:"currencyCode"`
}

// VariantsForInventoryItem returns the variants stocked by an inventory item
// (one, in practice), read fresh from Shopify. It returns an error wrapping
// ErrNotFound if the item does not exist.
func (c *AdminClient) VariantsForInventoryItem(ctx context.Context, inventoryItemID int64) ([]Variant, error) {
	var data struct {
		InventoryItem *struct {
			gqlInventoryItem
			Variants struct {
				Nodes []gqlVariant `json:"nodes"`
			} `json:"variants"`
		} `json:"inventoryItem"`
		Shop gqlShop `json:"shop"`
	}
	vars := map[string]any{"id": GID("InventoryItem", inventoryItemID)}
	if err := c.query(ctx, "VariantForItem", variantForItemQuery, vars, &data); err != nil {
		return nil, err
	}
	if data.InventoryItem == nil {
		return nil, fmt.Errorf("query VariantForItem for %s: inventory item %d: %w", c.shop, inventoryItemID, ErrNotFound)
	}
	out := make([]Variant, 0, len(data.InventoryItem.Variants.Nodes))
	for i := range data.InventoryItem.Variants.Nodes {
		gv := &data.InventoryItem.Variants.Nodes[i]
		gv.InventoryItem = &data.InventoryItem.gqlInventoryItem
		v, err := gv.variant(data.Shop.CurrencyCode)
		if err != nil {
			return nil, fmt.Errorf("query VariantForItem for %s: %w", c.shop, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Variants reads the given variants from Shopify, up to 100 per request.
// Ids that do not exist (or are not variants) are simply absent from the
// result; the others come back in the order asked, duplicates once.
func (c *AdminClient) Variants(ctx context.Context, variantIDs []int64) ([]Variant, error) {
	seen := make(map[int64]bool, len(variantIDs))
	var ids []string
	for _, id := range variantIDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, GID("ProductVariant", id))
		}
	}
	var out []Variant
	for start := 0; start < len(ids); start += variantBatchSize {
		batch := ids[start:min(start+variantBatchSize, len(ids))]
		var data struct {
			Nodes []*gqlVariant `json:"nodes"`
			Shop  gqlShop       `json:"shop"`
		}
		if err := c.query(ctx, "Variants", variantsQuery, map[string]any{"ids": batch}, &data); err != nil {
			return nil, err
		}
		for _, gv := range data.Nodes {
			if gv == nil || gv.ID == "" {
				continue // unknown id, or a node of another type
			}
			v, err := gv.variant(data.Shop.CurrencyCode)
			if err != nil {
				return nil, fmt.Errorf("query Variants for %s: %w", c.shop, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func (gv *gqlVariant) variant(currency string) (Variant, error) {
	v := Variant{
		Title:            gv.Title,
		Price:            gv.Price,
		Currency:         currency,
		Policy:           gv.InventoryPolicy,
		SellableOnline:   gv.SellableOnlineQuantity,
		AvailableForSale: gv.AvailableForSale,
	}
	var err error
	if _, v.ID, err = parseGIDOf("ProductVariant", gv.ID); err != nil {
		return Variant{}, err
	}
	if gv.SKU != nil {
		v.SKU = *gv.SKU
	}
	if gv.InventoryQuantity != nil {
		v.InventoryQuantity = *gv.InventoryQuantity
	}
	if p := gv.Product; p != nil {
		if _, v.ProductID, err = parseGIDOf("Product", p.ID); err != nil {
			return Variant{}, err
		}
		v.ProductTitle, v.Handle, v.ProductStatus = p.Title, p.Handle, p.Status
		if p.OnlineStoreURL != nil {
			v.ProductURL, v.Published = *p.OnlineStoreURL, true
		}
		if m := p.FeaturedMedia; m != nil && m.Preview != nil && m.Preview.Image != nil {
			v.ImageURL = m.Preview.Image.URL
		}
	}
	if it := gv.InventoryItem; it != nil {
		if _, v.InventoryItemID, err = parseGIDOf("InventoryItem", it.ID); err != nil {
			return Variant{}, err
		}
		v.Tracked = it.Tracked
	}
	return v, nil
}

// GID returns the Admin API global id of a resource, e.g.
// GID("ProductVariant", 123) = "gid://shopify/ProductVariant/123".
func GID(kind string, id int64) string {
	return "gid://shopify/" + kind + "/" + strconv.FormatInt(id, 10)
}

// ParseGID splits a global id such as "gid://shopify/ProductVariant/123" into
// its kind and numeric id. A query string, as in InventoryLevel ids
// ("gid://shopify/InventoryLevel/1?inventory_item_id=2"), is ignored. The id
// is parsed as a decimal int64, never through float64.
func ParseGID(gid string) (kind string, id int64, err error) {
	rest, ok := strings.CutPrefix(gid, "gid://shopify/")
	if !ok {
		return "", 0, fmt.Errorf("parse gid %q: not gid://shopify/", clipText(gid, 80))
	}
	rest, _, _ = strings.Cut(rest, "?")
	kind, num, ok := strings.Cut(rest, "/")
	if !ok || kind == "" || strings.Contains(num, "/") {
		return "", 0, fmt.Errorf("parse gid %q: want gid://shopify/Kind/ID", clipText(gid, 80))
	}
	id, err = strconv.ParseInt(num, 10, 64)
	if err != nil || id <= 0 || num[0] == '+' {
		return "", 0, fmt.Errorf("parse gid %q: id is not a positive 64-bit integer", clipText(gid, 80))
	}
	return kind, id, nil
}

func parseGIDOf(want, gid string) (string, int64, error) {
	kind, id, err := ParseGID(gid)
	if err == nil && kind != want {
		err = fmt.Errorf("parse gid %q: kind %s, want %s", clipText(gid, 80), kind, want)
	}
	return kind, id, err
}

// query runs one GraphQL operation with retries and decodes its data into out.
//
// go-shopify's own retries are not used (WithRetry): they sleep with
// time.Sleep, ignoring the context and any injected clock, round throttle
// waits up to whole seconds, and keep the last cost in shared client state.
// Each attempt here gets a fresh go-shopify client (so concurrent calls share
// nothing mutable), its own timeout, and a transport that keeps the raw
// answer, from which the status, error codes and query cost are read.
func (c *AdminClient) query(ctx context.Context, opName, query string, vars map[string]any, out any) error {
	for attempt := 0; ; attempt++ {
		res, err := c.attempt(ctx, query, vars)
		if err == nil {
			if err := json.Unmarshal(res.data, out); err != nil {
				return c.fail(opName, fmt.Errorf("decode data: %w", err))
			}
			return nil
		}
		if ctx.Err() != nil {
			return c.fail(opName, fmt.Errorf("%w (after %d attempts)", ctx.Err(), attempt+1))
		}
		var wait time.Duration
		switch {
		case res.throttled:
			wait = res.throttleWait()
			if wait < 0 || attempt >= c.maxRetries {
				return c.fail(opName, fmt.Errorf("%w: %v", ErrThrottled, err))
			}
		case res.retryable:
			if attempt >= c.maxRetries {
				return c.fail(opName, fmt.Errorf("%w (after %d attempts)", err, attempt+1))
			}
			wait = max(backoff(attempt), res.retryAfter)
		default:
			return c.fail(opName, err)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return c.fail(opName, fmt.Errorf("wait %v before retry: %w", wait, err))
		}
	}
}

// fail wraps err with the operation and shop, and makes sure the access
// token can never appear in its message.
func (c *AdminClient) fail(opName string, err error) error {
	return &redactedError{
		msg: strings.ReplaceAll(fmt.Sprintf("query %s for %s: %v", opName, c.shop, err), c.token, "[redacted]"),
		err: err,
	}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// attemptResult is what one HTTP attempt returned.
type attemptResult struct {
	data       json.RawMessage
	throttled  bool
	retryable  bool
	retryAfter time.Duration
	cost       *goshopify.GraphQLCost
}

// throttleWait is how long the bucket needs to refill enough for the query:
// (requested - currentlyAvailable) / restoreRate seconds. It is negative
// when waiting cannot help (the query asks for more than the bucket holds).
func (r attemptResult) throttleWait() time.Duration {
	if r.cost == nil || r.cost.ThrottleStatus.RestoreRate <= 0 {
		return time.Second
	}
	ts := r.cost.ThrottleStatus
	requested := float64(r.cost.RequestedQueryCost)
	if ts.MaximumAvailable > 0 && requested > ts.MaximumAvailable {
		return -1
	}
	secs := (requested - ts.CurrentlyAvailable) / ts.RestoreRate
	if secs <= 0 {
		// The bucket looked full enough; someone else is using it too.
		secs = 1 / ts.RestoreRate
	}
	// Whole milliseconds, rounded up (less a hair of float error).
	return time.Duration(math.Ceil(secs*1000-1e-6)) * time.Millisecond
}

type graphQLAnswer struct {
	Errors     json.RawMessage `json:"errors"`
	Extensions *struct {
		Cost *goshopify.GraphQLCost `json:"cost"`
	} `json:"extensions"`
}

type graphQLAnswerError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

func (c *AdminClient) attempt(ctx context.Context, query string, vars map[string]any) (attemptResult, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rec := &responseRecord{}
	actx = context.WithValue(actx, responseRecordKey{}, rec)

	gc, err := goshopify.NewClient(goshopify.App{}, c.shop, c.token,
		goshopify.WithVersion(c.version),
		goshopify.WithHTTPClient(c.httpClient),
		goshopify.WithLogger(&goshopify.LeveledLogger{}), // silent: bodies could hold shopper data
	)
	if err != nil {
		return attemptResult{}, fmt.Errorf("build go-shopify client: %w", err)
	}
	var data json.RawMessage
	qerr := gc.GraphQL.Query(actx, query, vars, &data)

	res := attemptResult{data: data}
	if rec.status == 0 {
		// No answer: network error or this attempt's timeout.
		if qerr == nil {
			qerr = errors.New("no response")
		}
		res.retryable = true
		return res, fmt.Errorf("request: %w", qerr)
	}
	if rec.err != nil {
		res.retryable = true
		return res, fmt.Errorf("read response (HTTP %d): %w", rec.status, rec.err)
	}

	switch status := rec.status; {
	case status == http.StatusUnauthorized:
		return res, ErrUnauthorized
	case status == http.StatusPaymentRequired || status == http.StatusLocked:
		return res, fmt.Errorf("HTTP %d: %w", status, ErrShopUnavailable)
	case status == http.StatusNotFound:
		return res, fmt.Errorf("HTTP 404, shop or API version not found: %w", ErrNotFound)
	case status == http.StatusTooManyRequests:
		res.retryable = true
		res.retryAfter = rec.retryAfter
		return res, fmt.Errorf("HTTP 429: %w", ErrThrottled)
	case status >= 500:
		res.retryable = true
		return res, fmt.Errorf("HTTP %d", status)
	case status < 200 || status >= 300:
		return res, fmt.Errorf("HTTP %d: %s", status, errorText(qerr))
	}

	var ans graphQLAnswer
	if err := json.Unmarshal(rec.body, &ans); err != nil {
		return res, fmt.Errorf("decode answer (HTTP %d): %w", rec.status, err)
	}
	if ans.Extensions != nil {
		res.cost = ans.Extensions.Cost
	}
	var gerrs []graphQLAnswerError
	if len(ans.Errors) > 0 && string(ans.Errors) != "null" {
		if err := json.Unmarshal(ans.Errors, &gerrs); err != nil {
			var msg string
			_ = json.Unmarshal(ans.Errors, &msg)
			gerrs = []graphQLAnswerError{{Message: msg}}
		}
	}
	if len(gerrs) == 0 {
		if qerr != nil {
			// go-shopify saw a problem the answer does not explain.
			return res, fmt.Errorf("graphql: %s", errorText(qerr))
		}
		if len(res.data) == 0 || string(res.data) == "null" {
			return res, errors.New("graphql: answer has no data")
		}
		return res, nil
	}
	var msgs []string
	for _, e := range gerrs {
		switch e.Extensions.Code {
		case "THROTTLED":
			res.throttled = true
		case "INTERNAL_SERVER_ERROR":
			res.retryable = true
		}
		if e.Extensions.Code != "" {
			msgs = append(msgs, e.Extensions.Code+": "+e.Message)
		} else {
			msgs = append(msgs, e.Message)
		}
		if len(msgs) == 3 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(gerrs)-3))
			break
		}
	}
	return res, fmt.Errorf("graphql errors: %s", strings.Join(msgs, "; "))
}

// clipText shortens s to at most n bytes for an error message.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// errorText is the message of a go-shopify error, shortened.
func errorText(err error) string {
	if err == nil {
		return "unexpected answer"
	}
	return clipText(err.Error(), 200)
}

// backoff is the wait before retry n (0-based): exponential from 500ms,
// capped at 30s, with full jitter over its upper half.
func backoff(n int) time.Duration {
	d := backoffBase << min(n, 16)
	if d <= 0 || d > backoffMax {
		d = backoffMax
	}
	half := d / 2
	return half + rand.N(half+1)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// responseRecord receives, through the request context, what adminTransport
// saw of the answer: go-shopify keeps neither the status of a 2xx nor the
// GraphQL error codes.
type responseRecord struct {
	status     int
	retryAfter time.Duration
	body       []byte
	err        error
}

type responseRecordKey struct{}

// adminTransport sends requests for the shop's host to the override base
// URL, if any, and copies each answer's status and body into the request's
// responseRecord.
type adminTransport struct {
	base     http.RoundTripper
	shopHost string
	override *url.URL
}

func (t *adminTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.override != nil && req.URL.Host == t.shopHost {
		r := req.Clone(req.Context())
		r.URL.Scheme = t.override.Scheme
		r.URL.Host = t.override.Host
		r.URL.Path = strings.TrimSuffix(t.override.Path, "/") + req.URL.Path
		r.URL.RawPath = ""
		r.Host = ""
		req = r
	}
	resp, err := t.base.RoundTrip(req)
	rec, _ := req.Context().Value(responseRecordKey{}).(*responseRecord)
	if err != nil || rec == nil {
		return resp, err
	}
	rec.status = resp.StatusCode
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.ParseFloat(s, 64); err == nil && secs > 0 && secs < 3600 {
			rec.retryAfter = time.Duration(secs * float64(time.Second))
		}
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	resp.Body.Close()
	if rerr == nil && len(body) > maxResponseBytes {
		rerr = fmt.Errorf("answer larger than %d bytes", maxResponseBytes)
	}
	rec.body, rec.err = body, rerr
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
