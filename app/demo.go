package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/restockrelay/restockrelay/app/config"
	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/app/web"
	"github.com/restockrelay/restockrelay/shopify"
)

// demo tells the whole story in one process, against in-process fakes of
// Shopify and SendGrid, with a clock it moves itself. No network.
func demo(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	const (
		shopDomain = "demo-shop.myshopify.com"
		token      = "shpat_demo"
		sgKey      = "SG.demo"
		variantID  = int64(642667041472713922)
		itemID     = int64(271878346596884015)
	)
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	start := time.Now()

	dir, err := os.MkdirTemp("", "restockrelay-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clock := restock.NewFakeClock(time.Now().Truncate(time.Second))

	shop := fake.NewShopify()
	defer shop.Close()
	shop.AddShop(shopDomain, token, "USD")
	shop.PutVariant(shopDomain, fake.Variant{ID: variantID, ProductID: 788032119674292922, InventoryItemID: itemID,
		Title: "Small", SKU: "example-shirt-s", Price: "19.99", Policy: "DENY", Tracked: true, ProductTitle: "Example T-Shirt",
		Handle: "example-t-shirt", ProductStatus: "ACTIVE", OnlineStoreURL: "https://demo-shop.example/products/example-t-shirt",
		ImageURL: "https://cdn.shopify.example/example-t-shirt.png",
		Levels:   []fake.Level{{LocationID: 24826418, LocationName: "Warehouse", FulfillsOnline: true}, {LocationID: 24826419, LocationName: "Shop floor", FulfillsOnline: true}}})
	sg := fake.NewSendGrid(sgKey)
	defer sg.Close()
	sg.NowFunc = clock.Now

	srv := httptest.NewUnstartedServer(nil)
	appURL := "http://" + srv.Listener.Addr().String()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"APP_URL": appURL, "SHOPIFY_API_SECRET": "demo-secret", "SENDGRID_API_KEY": sgKey,
			"SENDGRID_API_URL": sg.URL, "SHOPIFY_ADMIN_URL": shop.URL, "MAIL_FROM": "restock@demo-shop.example",
			"DATABASE_URL": "sqlite:" + filepath.Join(dir, "demo.db")}[k]
	})
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{NowFunc: clock.Now})
	if err != nil {
		return err
	}
	defer st.Close()
	flow, err := newFlow(ctx, cfg, st, log, clock, nil)
	if err != nil {
		return err
	}
	srv.Config.Handler = web.New(web.Config{Flow: flow, Store: st, Logger: log, Secrets: cfg.Secrets(), Dev: true,
		APIKey: cfg.APIKey, AppURL: cfg.AppURL, Scopes: cfg.Scopes, OAuth: newOAuth(cfg, clock)}).Handler()
	srv.Start()
	defer srv.Close()
	if err := flow.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = flow.Stop(sctx)
	}()
	drain := func() error {
		for range 10 {
			if err := flow.WaitIdle(ctx); err != nil {
				return err
			}
			n, err := flow.PromoteDue(ctx)
			if err != nil || n == 0 {
				return err
			}
		}
		return nil
	}

	p("Restock Relay demo: one process, a fake Shopify (GraphQL checked against the 2026-10 Admin schema),")
	p("a fake SendGrid (the real sendgrid-go client talks to it), SQLite in %s, and a clock the demo moves.", dir)
	p("")
	p("1. Install the shop %s with an Admin API token (stored encrypted).", shopDomain)
	if _, err := flow.InstallShop(ctx, shopDomain, token, "Demo Shop", "USD"); err != nil {
		return err
	}
	p("   \"Example T-Shirt – Small\" (variant %d) is sold out at both locations.", variantID)
	p("")
	p("2. Three shoppers click \"Notify me\"; each request comes through the signed app proxy.")
	shoppers := []string{"ann@example.com", "bob@example.com", "cy@example.com"}
	for _, s := range shoppers {
		code, body, err := proxySubscribe(ctx, srv.URL, cfg.APISecret, shopDomain, clock.Now(), s, variantID)
		if err != nil {
			return err
		}
		p("   POST /apps/restock/subscribe %-18s -> %d %s", s, code, body)
	}
	code, body, err := proxySubscribe(ctx, srv.URL, cfg.APISecret, shopDomain, clock.Now(), "ANN@example.com ", variantID)
	if err != nil {
		return err
	}
	p("   POST /apps/restock/subscribe %-18s -> %d %s (same shopper, any case: no duplicate)", "ANN@example.com", code, body)
	p("")

	p("3. The merchant receives 12 units at the warehouse; Shopify sends inventory_levels/update.")
	shop.SetAvailable(shopDomain, variantID, 24826418, 12)
	levelBody, _ := json.Marshal(map[string]any{"inventory_item_id": itemID, "location_id": 24826418, "available": 12,
		"updated_at": clock.Now().Format(time.RFC3339), "admin_graphql_api_id": fmt.Sprintf("gid://shopify/InventoryLevel/24826418?inventory_item_id=%d", itemID)})
	for i := range 2 {
		code, err := signedWebhook(ctx, srv.URL, cfg.APISecret, shopDomain, shopify.TopicInventoryLevelsUpdate, "demo-level-1", levelBody)
		if err != nil {
			return err
		}
		note := ""
		if i == 1 {
			note = " (Shopify retried the same delivery: acknowledged, not processed again)"
		}
		p("   POST /webhooks inventory_levels/update -> %d%s", code, note)
	}
	// Stock checks wait a second after a cue, so a burst costs one read.
	if err := drain(); err != nil {
		return err
	}
	clock.Advance(time.Second)
	if err := drain(); err != nil {
		return err
	}
	p("")
	p("4. Step 1, the restock notice, leaves a second later (checks wait for the burst), one SendGrid request for all:")
	step1 := sg.Recipients()
	for _, d := range step1 {
		p("   to %-16s %q", d.To, d.Subject)
	}
	if len(step1) > 0 {
		d := step1[0]
		p("   each has its own links, e.g. %s", firstLink(d.Text, appURL+"/r/"))
		p("   and List-Unsubscribe: %s", d.Headers["List-Unsubscribe"])
	}
	p("")

	p("5. Two hours later Ann buys two; Shopify sends orders/create (time written with a -07:00 offset).")
	clock.Advance(2 * time.Hour)
	var order map[string]any
	dec := json.NewDecoder(strings.NewReader(demoOrder))
	dec.UseNumber()
	if err := dec.Decode(&order); err != nil {
		return err
	}
	order["created_at"] = clock.Now().In(time.FixedZone("", -7*3600)).Format(time.RFC3339)
	ob, _ := json.Marshal(order)
	if code, err := signedWebhook(ctx, srv.URL, cfg.APISecret, shopDomain, shopify.TopicOrdersCreate, "demo-order-1", ob); err != nil {
		return err
	} else {
		p("   POST /webhooks orders/create -> %d", code)
	}
	if err := drain(); err != nil {
		return err
	}
	var conv store.Conversion
	if err := st.DB.WithContext(ctx).Take(&conv).Error; err == nil && conv.SecondsToPurchase != nil {
		p("   conversion recorded: %s %s, %s after the first email", conv.Revenue, conv.Currency, time.Duration(*conv.SecondsToPurchase)*time.Second)
	}
	p("")

	p("6. The clock moves 24 hours: step 2, the limited-availability reminder, is due.")
	clock.Advance(22*time.Hour - time.Second + time.Minute)
	if err := drain(); err != nil {
		return err
	}
	for _, d := range sg.Recipients()[len(step1):] {
		p("   to %-16s %q", d.To, d.Subject)
	}
	var skipped []store.Message
	st.DB.WithContext(ctx).Where("step = 2 AND status = ?", store.MsgSkipped).Find(&skipped)
	for _, m := range skipped {
		var sub store.Subscription
		st.DB.WithContext(ctx).Take(&sub, m.SubscriptionID)
		p("   skipped %s at step 2: %s", sub.Email, m.SkipReason)
	}
	p("")

	var sent1, sent2, convs int64
	st.DB.WithContext(ctx).Model(&store.Message{}).Where("step = 1 AND status = ?", store.MsgSent).Count(&sent1)
	st.DB.WithContext(ctx).Model(&store.Message{}).Where("step = 2 AND status = ?", store.MsgSent).Count(&sent2)
	st.DB.WithContext(ctx).Model(&store.Conversion{}).Count(&convs)
	p("Summary: 1 restock, %d restock notices, %d reminders, %d skipped, %d conversion(s), revenue %s %s.",
		sent1, sent2, len(skipped), convs, conv.Revenue, conv.Currency)
	p("SendGrid requests: %d; Admin GraphQL queries: %d (%d failed schema validation). Took %s.",
		len(sg.Requests()), len(shop.Queries()), shop.InvalidQueries(), time.Since(start).Round(time.Millisecond))
	if sent1 != 3 || sent2 != 2 || convs != 1 {
		return fmt.Errorf("demo went wrong: %d notices, %d reminders, %d conversions", sent1, sent2, convs)
	}
	return nil
}

func firstLink(text, prefix string) string {
	i := strings.Index(text, prefix)
	if i < 0 {
		return ""
	}
	end := strings.IndexAny(text[i:], " \n")
	if end < 0 {
		return text[i:]
	}
	return text[i : i+end]
}

func proxySubscribe(ctx context.Context, base, secret, shop string, now time.Time, addr string, variantID int64) (int, string, error) {
	q := url.Values{"shop": {shop}, "logged_in_customer_id": {""}, "path_prefix": {"/apps/restock"},
		"timestamp": {strconv.FormatInt(now.Unix(), 10)}}
	q.Set("signature", shopify.SignProxyQuery(secret, q))
	body, _ := json.Marshal(map[string]string{"email": addr, "variant_id": strconv.FormatInt(variantID, 10), "locale": "en"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/proxy/subscribe?"+q.Encode(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

func signedWebhook(ctx context.Context, base, secret, shop, topic, id string, body []byte) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(shopify.HeaderTopic, topic)
	req.Header.Set(shopify.HeaderShopDomain, shop)
	req.Header.Set(shopify.HeaderWebhookID, id)
	req.Header.Set(shopify.HeaderAPIVersion, "2026-10")
	req.Header.Set(shopify.HeaderHMAC, shopify.SignWebhook(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// demoOrder is Shopify's orders/create sample cut to what matters here.
const demoOrder = `{"id":820982911946154508,"name":"#1001","email":"Ann@Example.com","contact_email":"ann@example.com",
"created_at":"2021-12-31T19:00:00-05:00","currency":"USD","total_price":"39.98","financial_status":"paid","customer":null,
"line_items":[{"id":466157049,"variant_id":642667041472713922,"product_id":788032119674292922,"quantity":2,"price":"19.99",
"title":"Example T-Shirt","variant_title":"Small"},{"id":466157050,"variant_id":null,"product_id":null,"quantity":1,"price":"5.00","title":"Gift wrap"}]}`
