package apptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/app/web"
	"github.com/restockrelay/restockrelay/shopify"
)

// Test constants shared by the kit and the tests.
const (
	Secret      = "test-shopify-secret"
	APIKey      = "test-api-key"
	ShopDomain  = "demo-shop.myshopify.com"
	AccessToken = "shpat_test_token_0123456789"
	SendGridKey = "SG.test-key"
	MailFrom    = "restock@relay.test"
)

// Start is where every test's fake clock begins: in the future, so that
// nothing River schedules by the flow's clock falls due by the wall clock.
var Start = time.Date(2030, 3, 1, 15, 0, 0, 0, time.UTC)

// Env is a whole app against fakes: a real store, flow, River, router and
// SendGrid client; a fake Shopify and SendGrid; a clock that only moves
// when told.
type Env struct {
	T        testing.TB
	Store    *store.Store
	Flow     *restock.Flow
	Clock    *restock.FakeClock
	Shopify  *fake.Shopify
	SendGrid *fake.SendGrid
	Server   *httptest.Server
	Shop     store.Shop
	Sleeps   atomic.Int64 // backoff waits the sender asked for
	seq      atomic.Int64
}

// Options adjust New.
type Options struct {
	// NoStart leaves River stopped (jobs stay queued).
	NoStart bool
	// Sender replaces the SendGrid sender.
	Sender email.Sender
	// Logger defaults to discarding.
	Logger *slog.Logger
	// EventKey makes the server require signed SendGrid events.
	EventKey *ecdsa.PublicKey
	// CheckDelay debounces stock checks (default 0 in tests: at once).
	CheckDelay time.Duration
	// SignupLimits replace the test default, which is too generous to
	// matter (tests sign up many shoppers from one address).
	SignupLimits *web.SignupLimits
}

// New builds an Env on databaseURL with one installed shop.
func New(t testing.TB, databaseURL string, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	e := &Env{T: t, Clock: restock.NewFakeClock(Start)}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		if os.Getenv("TEST_LOG") != "" {
			log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	st, err := store.Open(ctx, databaseURL, store.Options{NowFunc: e.Clock.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e.Store = st

	e.Shopify = fake.NewShopify()
	t.Cleanup(e.Shopify.Close)
	e.Shopify.AddShop(ShopDomain, AccessToken, "USD")
	e.Shopify.SetOAuthApp(APIKey, Secret)
	e.Shopify.NowFunc = e.Clock.Now
	oauth := shopify.NewOAuth(shopify.OAuthConfig{APIKey: APIKey, APISecret: Secret, BaseURL: e.Shopify.URL, NowFunc: e.Clock.Now})
	e.SendGrid = fake.NewSendGrid(SendGridKey)
	e.SendGrid.NowFunc = e.Clock.Now
	t.Cleanup(e.SendGrid.Close)

	sender := o.Sender
	if sender == nil {
		sender = email.NewSendGrid(email.SendGridConfig{APIKey: SendGridKey, BaseURL: e.SendGrid.URL, NowFunc: e.Clock.Now,
			SleepFunc: func(ctx context.Context, d time.Duration) error { e.Sleeps.Add(1); return ctx.Err() }})
	}
	key := bytes.Repeat([]byte{7}, 32)
	sealer, _ := store.NewSealer(key)
	renderer, err := email.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	e.Server = httptest.NewUnstartedServer(nil)
	baseURL := "http://" + e.Server.Listener.Addr().String()
	flow, err := restock.New(ctx, restock.Config{
		Store: st, Sender: sender, Renderer: renderer, Links: restock.NewLinks(key, baseURL), Sealer: sealer,
		CatalogFunc: func(shop, token string) (restock.Catalog, error) {
			return shopify.NewAdminClient(shopify.AdminConfig{Shop: shop, AccessToken: token, BaseURL: e.Shopify.URL,
				SleepFunc: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
		},
		Clock: e.Clock, Logger: log, MailFrom: MailFrom, OAuth: oauth, CheckDelay: o.CheckDelay,
	})
	if err != nil {
		t.Fatalf("new flow: %v", err)
	}
	e.Flow = flow
	limits := web.SignupLimits{PerIP: web.RateLimit{Every: time.Microsecond, Burst: 1 << 20},
		PerEmail: web.RateLimit{Every: time.Microsecond, Burst: 1 << 20}, PerShop: web.RateLimit{Every: time.Microsecond, Burst: 1 << 20}}
	if o.SignupLimits != nil {
		limits = *o.SignupLimits
	}
	srv := web.New(web.Config{Flow: flow, Store: st, Logger: log, Secrets: []string{Secret}, Dev: true, EventKey: o.EventKey, SignupLimits: limits,
		APIKey: APIKey, AppURL: baseURL, Scopes: "read_products,read_inventory,read_orders,read_themes,write_app_proxy", OAuth: oauth})
	e.Server.Config.Handler = srv.Handler()
	e.Server.Start()
	t.Cleanup(e.Server.Close)

	e.Shop, err = flow.InstallShop(ctx, ShopDomain, AccessToken, "Demo Shop", "USD")
	if err != nil {
		t.Fatalf("install shop: %v", err)
	}
	if !o.NoStart {
		e.StartJobs()
	}
	return e
}

// StartJobs starts River; it stops at cleanup.
func (e *Env) StartJobs() {
	e.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Flow.Start(ctx); err != nil {
		e.T.Fatalf("start river: %v", err)
	}
	e.T.Cleanup(func() {
		sctx, c2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer c2()
		_ = e.Flow.Stop(sctx)
		cancel()
	})
}

// Variant is a default sold-out, tracked, deny-policy variant at two locations.
func Variant(id int64) fake.Variant {
	return fake.Variant{ID: id, ProductID: 788032119674292922, InventoryItemID: id + 1000, Title: "Small", SKU: "SKU-" + strconv.FormatInt(id, 10),
		Price: "19.99", Policy: "DENY", Tracked: true, ProductTitle: "Example T-Shirt", Handle: "example-t-shirt", ProductStatus: "ACTIVE",
		OnlineStoreURL: "https://demo-shop.example/products/example-t-shirt", ImageURL: "https://cdn.example/shirt.png",
		Levels: []fake.Level{{LocationID: 1, LocationName: "Warehouse", FulfillsOnline: true}, {LocationID: 2, LocationName: "Store", FulfillsOnline: true}}}
}

// Drain runs every job that is due now, including those a moved clock made due.
func (e *Env) Drain() {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for range 20 {
		if err := e.Flow.WaitIdle(ctx); err != nil {
			e.T.Fatalf("drain: %v", err)
		}
		n, err := e.Flow.PromoteDue(ctx)
		if err != nil {
			e.T.Fatalf("promote: %v", err)
		}
		if n == 0 {
			return
		}
	}
	e.T.Fatal("drain: jobs keep coming")
}

// Advance moves the clock and runs what became due.
func (e *Env) Advance(d time.Duration) {
	e.T.Helper()
	e.Clock.Advance(d)
	e.Drain()
}

// WebhookRequest builds a signed webhook request as Shopify sends it.
func (e *Env) WebhookRequest(topic, id string, body []byte) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, e.Server.URL+"/webhooks", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(shopify.HeaderTopic, topic)
	req.Header.Set(shopify.HeaderShopDomain, ShopDomain)
	req.Header.Set(shopify.HeaderAPIVersion, "2026-10")
	req.Header.Set(shopify.HeaderWebhookID, id)
	req.Header.Set(shopify.HeaderTriggeredAt, e.Clock.Now().Format(time.RFC3339Nano))
	req.Header.Set(shopify.HeaderHMAC, shopify.SignWebhook(Secret, body))
	return req
}

// Webhook delivers a signed webhook with a fresh id and returns the status.
func (e *Env) Webhook(topic string, body []byte) int {
	e.T.Helper()
	return e.WebhookID(topic, fmt.Sprintf("wh-%d-%d", time.Now().UnixNano(), e.seq.Add(1)), body)
}

// WebhookID delivers a signed webhook with the given id.
func (e *Env) WebhookID(topic, id string, body []byte) int {
	e.T.Helper()
	resp, err := http.DefaultClient.Do(e.WebhookRequest(topic, id, body))
	if err != nil {
		e.T.Fatalf("webhook: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// InventoryLevel is an inventory_levels/update body like Shopify's.
func InventoryLevel(itemID, locationID int64, available *int, updatedAt time.Time) []byte {
	m := map[string]any{"inventory_item_id": itemID, "location_id": locationID, "available": available,
		"updated_at":           updatedAt.Format(time.RFC3339),
		"admin_graphql_api_id": fmt.Sprintf("gid://shopify/InventoryLevel/%d?inventory_item_id=%d", locationID, itemID)}
	b, _ := json.Marshal(m)
	return b
}

// Int is a pointer to n.
func Int(n int) *int { return &n }

// ProxyURL signs an app-proxy URL the way Shopify's proxy forwards it.
func (e *Env) ProxyURL(path string, customerID string, extra url.Values) string {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	q.Set("shop", ShopDomain)
	q.Set("logged_in_customer_id", customerID)
	q.Set("path_prefix", "/apps/restock")
	q.Set("timestamp", strconv.FormatInt(e.Clock.Now().Unix(), 10))
	q.Set("signature", shopify.SignProxyQuery(Secret, q))
	return e.Server.URL + path + "?" + q.Encode()
}

// Subscribe posts the storefront form as JSON through the signed proxy and
// returns the status and decoded body.
func (e *Env) Subscribe(addr string, variantID int64) (int, map[string]string) {
	e.T.Helper()
	body, _ := json.Marshal(map[string]any{"email": addr, "variant_id": strconv.FormatInt(variantID, 10), "locale": "en"})
	resp, err := http.Post(e.ProxyURL("/proxy/subscribe", "", nil), "application/json", bytes.NewReader(body))
	if err != nil {
		e.T.Fatalf("subscribe: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Count counts rows of a model matching a condition.
func (e *Env) Count(model any, where string, args ...any) int64 {
	e.T.Helper()
	var n int64
	q := e.Store.DB.Model(model)
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		e.T.Fatalf("count: %v", err)
	}
	return n
}

// SessionToken signs an App Bridge session token for shop, valid at the
// clock's now for a minute, with the app's key and secret.
func (e *Env) SessionToken(shop string) string {
	e.T.Helper()
	now := e.Clock.Now()
	tok, err := shopify.SignSessionToken(Secret, map[string]any{
		"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": APIKey, "sub": "42",
		"exp": now.Add(time.Minute).Unix(), "nbf": now.Add(-time.Second).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprintf("jti-%d", e.seq.Add(1)), "sid": "sid-1",
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return tok
}
