package web_test

// Regression tests for what a hostile tester found, each with its input.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

func post(t *testing.T, u, ct, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, ct, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The proxy signature joins sorted k=v pairs with no separator: extra keys
// let a signed query be re-split into another shop or customer.
func TestProxySignatureCannotBeResplit(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	ts := strconv.FormatInt(e.Clock.Now().Unix(), 10)
	// What Shopify signs for a logged-out visitor who added ?a=X...m.
	orig := url.Values{"a": {"Xlogged_in_customer_id=777m"}, "logged_in_customer_id": {""}, "path_prefix": {"/apps/restock"},
		"shop": {apptest.ShopDomain}, "timestamp": {ts}, "variant_id": {"1"}}
	sig := shopify.SignProxyQuery(apptest.Secret, orig)
	// The same signature on a re-split query claiming customer 777.
	forged := "a=X&logged_in_customer_id=777&mlogged_in_customer_id=&path_prefix=%2Fapps%2Frestock&shop=" + apptest.ShopDomain +
		"&timestamp=" + ts + "&variant_id=1&signature=" + sig
	resp, err := http.Get(e.Server.URL + "/proxy/status?" + forged)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("re-split query: %d, want 401", resp.StatusCode)
	}
	// Forged shop: "sh=Xshop=other…timestamp=T2u" re-split.
	orig2 := url.Values{"sh": {"Xshop=other-shop.myshopify.comtimestamp=" + ts + "u"}, "logged_in_customer_id": {""},
		"path_prefix": {"/apps/restock"}, "shop": {apptest.ShopDomain}, "timestamp": {ts}}
	sig2 := shopify.SignProxyQuery(apptest.Secret, orig2)
	forged2 := "logged_in_customer_id=&path_prefix=%2Fapps%2Frestock&sh=X&shop=other-shop.myshopify.com&timestamp=" + ts +
		"&ushop=" + apptest.ShopDomain + "timestamp%3D" + ts + "&signature=" + sig2
	if code, body := post(t, e.Server.URL+"/proxy/subscribe?"+forged2, "application/json", `{"email":"x@example.com","variant_id":"1"}`); code != 401 {
		t.Fatalf("re-split shop: %d %s, want 401", code, body)
	}
}

func TestSignupNeverLiftsSuppression(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		const vid = int64(77)
		v := apptest.Variant(vid)
		e.Shopify.PutVariant(apptest.ShopDomain, v)
		e.Subscribe("bob@example.com", vid)
		if err := store.Unsubscribe(t.Context(), e.Store.DB, e.Shop.ID, "bob@example.com", "spamreport"); err != nil {
			t.Fatal(err)
		}
		if code, _ := e.Subscribe("bob@example.com", vid); code != http.StatusCreated {
			t.Fatalf("signup after spam report: %d", code)
		}
		e.Shopify.SetAvailable(apptest.ShopDomain, vid, 1, 5)
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(v.InventoryItemID, 1, apptest.Int(5), e.Clock.Now()))
		e.Drain()
		if n := len(e.SendGrid.Recipients()); n != 0 {
			t.Fatalf("a suppressed address was emailed %d times", n)
		}
		if n := e.Count(&store.Message{}, "skip_reason = ?", store.SkipSuppressed); n != 1 {
			t.Fatalf("suppressed skips = %d", n)
		}
	})
}

func TestConcurrentIdenticalSignupsOneRowNo500(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(3))
		var wg sync.WaitGroup
		codes := make(chan int, 40)
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _ := e.Subscribe("same@example.com", 3)
				codes <- code
			}()
		}
		wg.Wait()
		close(codes)
		created := 0
		for c := range codes {
			switch c {
			case 201:
				created++
			case 200:
			default:
				t.Errorf("status %d", c)
			}
		}
		if created != 1 || e.Count(&store.Subscription{}, "") != 1 {
			t.Fatalf("created %d, rows %d; want 1 and 1", created, e.Count(&store.Subscription{}, ""))
		}
	})
}

func TestHostileSignupFields(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(20))
		u := e.ProxyURL("/proxy/subscribe", "", nil)
		for _, c := range []struct {
			name, ct, body string
			want           int
		}{
			{"locale cut mid-character", "application/json", `{"email":"loc1@example.com","variant_id":"20","locale":"aéééééééééé"}`, 201},
			{"locale with NUL", "application/json", `{"email":"loc2@example.com","variant_id":"20","locale":"x\u0000y"}`, 201},
			{"locale invalid UTF-8", "application/x-www-form-urlencoded", "email=loc3%40example.com&variant_id=20&locale=%ff%fe", 201},
			{"email invalid UTF-8", "application/x-www-form-urlencoded", "email=a%ff%40example.com&variant_id=20", 422},
			{"email UTF-8 local part", "application/json", `{"email":"ünï@example.com","variant_id":"20"}`, 422},
			{"IDN domain", "application/json", `{"email":"a@пример.рф","variant_id":"20"}`, 201},
			{"the same IDN in punycode", "application/json", `{"email":"a@xn--e1afmkfd.xn--p1ai","variant_id":"20"}`, 200},
		} {
			if code, body := post(t, u, c.ct, c.body); code != c.want {
				t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
			}
		}
		var locales []string
		e.Store.DB.Model(&store.Subscription{}).Where("email LIKE 'loc%'").Pluck("locale", &locales)
		for _, l := range locales {
			if l != "" {
				t.Errorf("stored locale %q, want it dropped", l)
			}
		}
	})
}

func TestWebhookBodyMustNameTheHeaderShop(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		// A signed shop/redact for fake-shop replayed under our shop's header.
		e.Webhook(shopify.TopicAppUninstalled, []byte(`{"id":1,"myshopify_domain":"`+apptest.ShopDomain+`"}`))
		e.Drain()
		e.Webhook(shopify.TopicShopRedact, apptest.Fixture(t, "shopify/shop_redact.json"))
		e.Drain()
		if n := e.Count(&store.Shop{}, "domain = ?", apptest.ShopDomain); n != 1 {
			t.Fatal("a redact naming another shop deleted this one")
		}
		// An uninstall body naming another shop does not uninstall.
		other, _ := e.Flow.InstallShop(t.Context(), "victim.myshopify.com", "shpat_v", "", "")
		req := e.WebhookRequest(shopify.TopicAppUninstalled, "x-1", []byte(`{"id":2,"myshopify_domain":"fake-shop.myshopify.com"}`))
		req.Header.Set(shopify.HeaderShopDomain, "victim.myshopify.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		e.Drain()
		sh, _ := store.ShopByDomain(t.Context(), e.Store.DB, other.Domain)
		if !sh.Active() {
			t.Fatal("an uninstall naming another shop uninstalled victim")
		}
		// NUL in a payload: kept as invalid, never retried forever.
		e.Webhook(shopify.TopicCustomersRedact, []byte(`{"shop_domain":"`+apptest.ShopDomain+`","customer":{"email":"a\u0000@example.com"}}`))
		e.Drain()
		if n := e.Count(&store.Webhook{}, "status = ?", store.WebhookInvalid); n < 2 {
			t.Fatalf("invalid webhooks = %d", n)
		}
	})
}

func TestEventTimestampsOutOfRange(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		v := apptest.Variant(5)
		e.Shopify.PutVariant(apptest.ShopDomain, v)
		e.Subscribe("a@example.com", 5)
		e.Subscribe("b@example.com", 5)
		e.Shopify.SetAvailable(apptest.ShopDomain, 5, 1, 5)
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(v.InventoryItemID, 1, apptest.Int(5), e.Clock.Now()))
		e.Drain()
		var ids []string
		var unsub string
		for _, d := range e.SendGrid.Recipients() {
			ids = append(ids, d.CustomArgs["message_id"])
			unsub = strings.Trim(d.Headers["List-Unsubscribe"], "<>")
		}
		events := fmt.Sprintf(`[{"event":"open","message_id":"%s","shop":"%s","timestamp":9223372036854775807},
			{"event":"click","message_id":"%s","shop":"%s","timestamp":9300000000000},
			{"event":"spamreport","message_id":"%s","shop":"%s"}]`, ids[0], apptest.ShopDomain, ids[0], apptest.ShopDomain, ids[1], apptest.ShopDomain)
		if code, body := post(t, e.Server.URL+"/sendgrid/events", "application/json", events); code != 200 {
			t.Fatalf("events: %d %s", code, body)
		}
		if n := e.Count(&store.Suppression{}, ""); n != 1 {
			t.Fatalf("the spam report after the bad timestamps was not applied")
		}
		// The message stays readable: its links still work.
		resp, err := http.Get(unsub)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("unsubscribe page after a bad event: %d", resp.StatusCode)
		}
	})
}

func TestOrderWithTheVariantOnTwoLines(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	v := apptest.Variant(20)
	e.Shopify.PutVariant(apptest.ShopDomain, v)
	e.Subscribe("buyer@example.com", 20)
	e.Clock.Advance(60e9)
	body, _ := json.Marshal(map[string]any{"id": 9, "email": "buyer@example.com", "created_at": e.Clock.Now().Format("2006-01-02T15:04:05Z07:00"),
		"currency": "USD", "line_items": []map[string]any{{"variant_id": 20, "quantity": 1, "price": "9.99"}, {"variant_id": 20, "quantity": 2, "price": "9.99"}}})
	e.Webhook(shopify.TopicOrdersCreate, body)
	e.Drain()
	var c store.Conversion
	if err := e.Store.DB.Take(&c).Error; err != nil {
		t.Fatal(err)
	}
	if c.Quantity != 3 || c.Revenue != "29.97" {
		t.Fatalf("conversion %d for %s, want 3 for 29.97", c.Quantity, c.Revenue)
	}
}
