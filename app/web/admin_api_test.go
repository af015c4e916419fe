package web_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// seedSubscribers stores n shoppers of variant (already in the catalog) at
// once, as the signup route would have: shopper-00000@example.com upwards,
// every fifth unsubscribed, every seventh converted.
func seedSubscribers(t *testing.T, e *apptest.Env, shopID, variantID, productID int64, n int) {
	t.Helper()
	now := e.Clock.Now()
	rows := make([]store.Subscription, n)
	for i := range rows {
		st := store.SubWaiting
		switch {
		case i%5 == 4:
			st = store.SubUnsubscribed
		case i%7 == 6:
			st = store.SubConverted
		}
		rows[i] = store.Subscription{ShopID: shopID, VariantID: variantID, ProductID: productID, Email: fmt.Sprintf("shopper-%05d@example.com", i),
			Locale: "en", Status: st, CreatedAt: now.Add(time.Duration(i) * time.Second), UpdatedAt: now}
	}
	if err := e.Store.DB.CreateInBatches(rows, 500).Error; err != nil {
		t.Fatalf("seed subscribers: %v", err)
	}
}

// catalogVariant puts a sold-out variant in the fake Shopify and the store.
func catalogVariant(t *testing.T, e *apptest.Env, id int64) fake.Variant {
	t.Helper()
	return catalogPut(t, e, apptest.Variant(id))
}

func catalogPut(t *testing.T, e *apptest.Env, v fake.Variant) fake.Variant {
	t.Helper()
	id := v.ID
	e.Shopify.PutVariant(apptest.ShopDomain, v)
	if code, body := e.Subscribe(fmt.Sprintf("first-%d@example.com", id), id); code != 201 {
		t.Fatalf("subscribe to %d: %d %v", id, code, body)
	}
	return v
}

func getRaw(t *testing.T, e *apptest.Env, path, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.Server.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestAdminSubscribersAPI(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		v := catalogVariant(t, e, 7)
		mug := apptest.Variant(8)
		mug.ProductID, mug.ProductTitle, mug.Handle, mug.Title = 555, "Enamel Mug", "enamel-mug", "Default Title"
		catalogPut(t, e, mug)
		seedSubscribers(t, e, e.Shop.ID, 7, v.ProductID, 10000)

		// Search finds one of 10,000.
		code, got := adminDo(t, e, http.MethodGet, "/api/admin/subscribers?q=SHOPPER-04321", apptest.ShopDomain, nil)
		subs, _ := got["subscribers"].([]any)
		if code != 200 || got["total"] != float64(1) || len(subs) != 1 || subs[0].(map[string]any)["email"] != "shopper-04321@example.com" {
			t.Fatalf("search: %d %v", code, got)
		}
		if row := subs[0].(map[string]any); row["product_title"] != v.ProductTitle {
			t.Fatalf("row has no product title: %v", row)
		}
		// LIKE wildcards in the search are literal.
		if _, got := adminDo(t, e, http.MethodGet, "/api/admin/subscribers?q=%25", apptest.ShopDomain, nil); got["total"] != float64(0) {
			t.Fatalf("%% matched as a wildcard: %v", got["total"])
		}
		if _, got := adminDo(t, e, http.MethodGet, "/api/admin/subscribers?q=shopper-0432_", apptest.ShopDomain, nil); got["total"] != float64(0) {
			t.Fatalf("_ matched as a wildcard: %v", got["total"])
		}

		// Filters: status and product.
		_, got = adminDo(t, e, http.MethodGet, "/api/admin/subscribers?status=unsubscribed", apptest.ShopDomain, nil)
		if got["total"] != float64(2000) {
			t.Fatalf("unsubscribed: %v", got["total"])
		}
		_, got = adminDo(t, e, http.MethodGet, fmt.Sprintf("/api/admin/subscribers?product_id=%d", mug.ProductID), apptest.ShopDomain, nil)
		if got["total"] != float64(1) {
			t.Fatalf("product filter: %v", got["total"])
		}

		// Keyset pages walk every row once, newest first.
		seen := map[string]bool{}
		before, pages := "", 0
		for {
			_, got = adminDo(t, e, http.MethodGet, "/api/admin/subscribers?limit=200&status=waiting"+before, apptest.ShopDomain, nil)
			pages++
			var last float64
			for _, s := range got["subscribers"].([]any) {
				row := s.(map[string]any)
				if seen[row["email"].(string)] {
					t.Fatalf("row twice: %v", row["email"])
				}
				seen[row["email"].(string)] = true
				if last != 0 && row["id"].(float64) >= last {
					t.Fatal("not newest first")
				}
				last = row["id"].(float64)
			}
			next := got["next"].(float64)
			if next == 0 {
				break
			}
			before = fmt.Sprintf("&before=%d", int64(next))
		}
		waiting := int(e.Count(&store.Subscription{}, "status = ?", store.SubWaiting))
		if len(seen) != waiting || pages != (waiting+199)/200 {
			t.Fatalf("pages saw %d rows in %d pages, want %d", len(seen), pages, waiting)
		}

		// Bad parameters are named.
		for _, q := range []string{"status=gone", "limit=abc", "before=-1", "product_id=x", "q=" + strings.Repeat("a", 300)} {
			code, got := adminDo(t, e, http.MethodGet, "/api/admin/subscribers?"+q, apptest.ShopDomain, nil)
			if code != 422 || got["fields"] == nil {
				t.Errorf("%s: %d %v", q, code, got)
			}
		}

		// The CSV streams every row with the header.
		resp := getRaw(t, e, "/api/admin/subscribers.csv", e.SessionToken(apptest.ShopDomain))
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") || resp.ContentLength != -1 {
			t.Fatalf("csv: %d %v (length %d)", resp.StatusCode, resp.Header, resp.ContentLength)
		}
		r := csv.NewReader(bufio.NewReader(resp.Body))
		header, err := r.Read()
		if err != nil || strings.Join(header, ",") != strings.Join(restock.CSVHeader, ",") {
			t.Fatalf("csv header %v %v", header, err)
		}
		n := 0
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 2 && (rec[0] != "shopper-00000@example.com" || rec[2] != v.ProductTitle || rec[8] == "") {
				t.Fatalf("csv row: %v", rec)
			}
			n++
		}
		if n != 10002 {
			t.Fatalf("csv rows = %d, want 10002", n)
		}
		// Filtered exports.
		resp2 := getRaw(t, e, "/api/admin/subscribers.csv?status=converted", e.SessionToken(apptest.ShopDomain))
		b, _ := io.ReadAll(resp2.Body)
		resp2.Body.Close()
		if lines := strings.Count(string(b), "\n"); lines != 1+int(e.Count(&store.Subscription{}, "status = ?", store.SubConverted)) {
			t.Fatalf("converted export has %d lines", lines)
		}

		// Delete removes one row of this shop, and its messages.
		var sub store.Subscription
		e.Store.DB.Where("email = ?", "shopper-00001@example.com").Take(&sub)
		e.Store.DB.Create(&store.Message{ShopID: e.Shop.ID, CampaignID: 0, SubscriptionID: sub.ID, Step: 1, Status: store.MsgSkipped})
		code, got = adminDo(t, e, http.MethodDelete, fmt.Sprintf("/api/admin/subscribers/%d", sub.ID), apptest.ShopDomain, nil)
		if code != 200 || e.Count(&store.Subscription{}, "id = ?", sub.ID) != 0 || e.Count(&store.Message{}, "subscription_id = ?", sub.ID) != 0 {
			t.Fatalf("delete: %d %v", code, got)
		}
		if code, _ := adminDo(t, e, http.MethodDelete, fmt.Sprintf("/api/admin/subscribers/%d", sub.ID), apptest.ShopDomain, nil); code != 404 {
			t.Fatalf("second delete: %d", code)
		}
		if code, _ := adminDo(t, e, http.MethodDelete, "/api/admin/subscribers/abc", apptest.ShopDomain, nil); code != 400 {
			t.Fatalf("bad id: %d", code)
		}

		// Demand ranks variant 7 (10,000 rows, a share waiting) first.
		_, got = adminDo(t, e, http.MethodGet, "/api/admin/demand", apptest.ShopDomain, nil)
		rows := got["variants"].([]any)
		top := rows[0].(map[string]any)
		if len(rows) != 2 || top["variant_id"] != float64(7) || top["waiting"] != float64(e.Count(&store.Subscription{}, "variant_id = 7 AND status = 'waiting'")) ||
			top["in_stock"] != false || top["oldest_wait"] == "" || !strings.HasPrefix(top["oldest_wait"].(string), "2030-03-01") {
			t.Fatalf("demand: %v", rows)
		}
	})
}

// TestAdminAPIIsolation: every /api/admin route refuses a missing, expired,
// forged or other-app token, and a valid token of another shop sees and
// changes nothing of this shop.
func TestAdminAPIIsolation(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		other := "other-shop.myshopify.com"
		if _, err := e.Flow.InstallShop(t.Context(), other, "shpat_other", "Other", "USD"); err != nil {
			t.Fatal(err)
		}
		catalogVariant(t, e, 7)
		var sub store.Subscription
		e.Store.DB.Where("shop_id = ?", e.Shop.ID).Take(&sub)

		routes := []struct{ method, path string }{
			{"GET", "/api/admin/shop"}, {"GET", "/api/admin/settings"}, {"PUT", "/api/admin/settings"},
			{"POST", "/api/admin/preview"}, {"POST", "/api/admin/test-email"}, {"GET", "/api/admin/demand"},
			{"GET", "/api/admin/products"}, {"GET", "/api/admin/subscribers"}, {"GET", "/api/admin/subscribers.csv"},
			{"DELETE", fmt.Sprintf("/api/admin/subscribers/%d", sub.ID)}, {"GET", "/api/admin/onboarding"},
			{"GET", "/api/admin/data-requests"},
		}
		now := e.Clock.Now()
		claims := func(shop string, exp time.Time) map[string]any {
			return map[string]any{"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": apptest.APIKey, "sub": "1",
				"exp": exp.Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": "j", "sid": "s"}
		}
		sign := func(secret string, c map[string]any) string {
			tok, err := shopify.SignSessionToken(secret, c)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		otherAud := claims(apptest.ShopDomain, now.Add(time.Minute))
		otherAud["aud"] = "another-app"
		bad := map[string]string{
			"missing":   "",
			"expired":   sign(apptest.Secret, claims(apptest.ShopDomain, now.Add(-time.Minute))),
			"forged":    sign("not-the-secret", claims(apptest.ShopDomain, now.Add(time.Minute))),
			"other-app": sign(apptest.Secret, otherAud),
			"garbage":   "abc.def.ghi",
		}
		for _, r := range routes {
			for name, tok := range bad {
				req, _ := http.NewRequest(r.method, e.Server.URL+r.path, strings.NewReader(`{}`))
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 || resp.Header.Get("X-Shopify-Retry-Invalid-Session-Request") != "1" {
					t.Errorf("%s %s with a %s token: %d", r.method, r.path, name, resp.StatusCode)
				}
			}
		}

		// The other shop's valid token reads only its own (empty) data.
		for _, path := range []string{"/api/admin/subscribers?q=first", "/api/admin/demand", "/api/admin/products", "/api/admin/data-requests"} {
			code, got := adminDo(t, e, http.MethodGet, path, other, nil)
			if code != 200 || strings.Contains(mustJSON(got), "first-7@example.com") || strings.Contains(mustJSON(got), apptest.Variant(7).ProductTitle) {
				t.Errorf("%s for the other shop: %d %v", path, code, got)
			}
		}
		resp := getRaw(t, e, "/api/admin/subscribers.csv", e.SessionToken(other))
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "first-7@example.com") || strings.Count(string(b), "\n") != 1 {
			t.Errorf("the other shop's export: %q", b)
		}
		if code, _ := adminDo(t, e, http.MethodDelete, fmt.Sprintf("/api/admin/subscribers/%d", sub.ID), other, nil); code != 404 ||
			e.Count(&store.Subscription{}, "id = ?", sub.ID) != 1 {
			t.Errorf("the other shop deleted this shop's subscriber: %d", code)
		}
		// Its preview never shows this shop's product.
		code, got := adminDo(t, e, http.MethodPost, "/api/admin/preview", other, map[string]any{"step": 1, "subject": "{{ product.title }}",
			"heading": "h", "body": "b", "button": "Buy"})
		if code != 200 || got["subject"] == apptest.Variant(7).ProductTitle || got["product"] != "sample" {
			t.Errorf("the other shop's preview: %d %v", code, got)
		}
		code, _ = adminDo(t, e, http.MethodPost, "/api/admin/preview", other, map[string]any{"step": 1, "subject": "s",
			"heading": "h", "body": "b", "button": "Buy", "variant_id": 7})
		if code != 422 {
			t.Errorf("the other shop previewed this shop's variant: %d", code)
		}
	})
}

func TestAdminTestEmailAndOnboarding(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		e.SendGrid.KeepBodies = true
		v := catalogVariant(t, e, 7)

		_, o := adminDo(t, e, http.MethodGet, "/api/admin/onboarding", apptest.ShopDomain, nil)
		// One signup already came through the block: that counts, even
		// with no theme to read.
		if o["block_added"] != true || o["block_evidence"] != "signups" || o["sender_set"] != false || o["test_sent"] != false {
			t.Fatalf("onboarding at first: %v", o)
		}
		link, _ := url.Parse(o["block_link"].(string))
		if link.Host != apptest.ShopDomain || link.Path != "/admin/themes/current/editor" || link.Query().Get("addAppBlockId") != apptest.APIKey+"/notify-me" ||
			link.Query().Get("template") != "product" || link.Query().Get("target") != "mainSection" {
			t.Fatalf("block deep link: %s", link)
		}

		body := map[string]any{"to": " Merchant@Example.com ", "step": 1, "subject": "Back: {{ product.title }}",
			"heading": "<script>alert(1)</script>", "body": "Hello", "button": "Buy", "brand_color": "#ff0000", "logo_url": "https://cdn.example.com/logo.png"}
		code, got := adminDo(t, e, http.MethodPost, "/api/admin/test-email", apptest.ShopDomain, body)
		if code != 200 || got["status"] != "sent" {
			t.Fatalf("test email: %d %v", code, got)
		}
		var sent *fake.Delivery
		for _, d := range e.SendGrid.Recipients() {
			if d.To == "merchant@example.com" {
				sent = &d
			}
		}
		if sent == nil || sent.Subject != "[Test] Back: "+v.ProductTitle || strings.Contains(sent.HTML, "<script>alert(1)") ||
			!strings.Contains(sent.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(sent.HTML, `src="https://cdn.example.com/logo.png"`) {
			t.Fatalf("sent test: %+v", sent)
		}
		_, o = adminDo(t, e, http.MethodGet, "/api/admin/onboarding", apptest.ShopDomain, nil)
		if o["test_sent"] != true {
			t.Fatalf("test not recorded: %v", o)
		}
		// Saving the settings keeps the record.
		_, view := adminDo(t, e, http.MethodGet, "/api/admin/settings", apptest.ShopDomain, nil)
		s := view["settings"].(map[string]any)
		s["sender_name"], s["reply_to"] = "Demo Shop", "help@demo.example"
		if code, got := adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, s); code != 200 {
			t.Fatalf("save: %d %v", code, got)
		}
		_, o = adminDo(t, e, http.MethodGet, "/api/admin/onboarding", apptest.ShopDomain, nil)
		if o["test_sent"] != true || o["sender_set"] != true {
			t.Fatalf("after save: %v", o)
		}

		// Bad input: named, nothing sent.
		before := e.SendGrid.RecipientCount()
		for _, b := range []map[string]any{
			{"to": "not-an-address", "step": 1, "subject": "s", "heading": "h", "body": "b", "button": "x"},
			{"to": "a@example.com", "step": 1, "subject": "{{ product.titel }}", "heading": "h", "body": "b", "button": "x"},
			{"to": "a@example.com", "step": 9, "subject": "s", "heading": "h", "body": "b", "button": "x"},
			{"to": "a@example.com", "step": 1, "subject": "s", "heading": "h", "body": "b", "button": "x", "logo_url": "javascript:alert(1)"},
		} {
			if code, got := adminDo(t, e, http.MethodPost, "/api/admin/test-email", apptest.ShopDomain, b); code != 422 || got["fields"] == nil {
				t.Errorf("%v: %d %v", b, code, got)
			}
		}
		// A few a minute per shop, then 429 with Retry-After.
		ok := map[string]any{"to": "m@example.com", "step": 2, "subject": "s", "heading": "h", "body": "b", "button": "x"}
		limited := 0
		for range 8 {
			if code, _ := adminDo(t, e, http.MethodPost, "/api/admin/test-email", apptest.ShopDomain, ok); code == 429 {
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("test emails are not rate limited")
		}
		if got := e.SendGrid.RecipientCount() - before; got >= 8 {
			t.Fatalf("%d test emails went out in a burst", got)
		}
		e.Advance(2 * time.Minute)
		if code, got := adminDo(t, e, http.MethodPost, "/api/admin/test-email", apptest.ShopDomain, ok); code != 200 {
			t.Fatalf("after the wait: %d %v", code, got)
		}
	})
}

func TestAdminOnboardingReadsTheTheme(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	_, o := adminDo(t, e, http.MethodGet, "/api/admin/onboarding", apptest.ShopDomain, nil)
	if o["block_added"] != false || o["theme_error"] != nil {
		t.Fatalf("no theme yet: %v", o)
	}
	// Shopify writes a comment above generated templates; a disabled
	// block does not count.
	e.Shopify.SetThemeFile(apptest.ShopDomain, "Dawn", "templates/product.json", `/*
 * IMPORTANT: The contents of this file are auto-generated.
 */
{"sections":{"main":{"type":"main-product","blocks":{"title":{"type":"title"},
 "rr":{"type":"shopify://apps/restock-relay/blocks/notify-me/0f9a1c1e-2b6a-4f7e-9a0a-1c2b3d4e5f60","disabled":true,"settings":{}}},
 "block_order":["title","rr"]}},"order":["main"]}`)
	e.Advance(2 * time.Minute) // past the cache
	_, o = adminDo(t, e, http.MethodGet, "/api/admin/onboarding", apptest.ShopDomain, nil)
	if o["block_added"] != false || o["theme_name"] != "Dawn" {
		t.Fatalf("disabled block counted: %v", o)
	}
	e.Shopify.SetThemeFile(apptest.ShopDomain, "Dawn", "config/settings_data.json", `{"current":{"blocks":{"123":
 {"type":"shopify://apps/restock-relay/blocks/notify-embed/0f9a1c1e-2b6a-4f7e-9a0a-1c2b3d4e5f60","disabled":false,"settings":{}}}}}`)
	// refresh=1 re-reads at once (the merchant is back from the editor).
	_, o = adminDo(t, e, http.MethodGet, "/api/admin/onboarding?refresh=1", apptest.ShopDomain, nil)
	if o["block_added"] != true || o["block_evidence"] != "theme" {
		t.Fatalf("embed not found: %v", o)
	}
	for _, q := range e.Shopify.Queries() {
		if q.OperationName == "ThemeAppBlocks" && (!q.Valid || len(q.Errors) > 0) {
			t.Fatalf("theme query refused by the schema: %+v", q)
		}
	}
}

// TestDevAdmin: in development, /dev/admin opens the page for a shop from
// this machine only, with a token stand-in the page can call.
func TestDevAdmin(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(e.Server.URL + "/dev/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Path != "/app" || loc.Query().Get("shop") != apptest.ShopDomain || loc.Query().Get("dev") != "1" {
		t.Fatalf("/dev/admin: %d %s", resp.StatusCode, loc)
	}
	page, err := http.Get(e.Server.URL + loc.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(b), `src="/dev/app-bridge-shim.js"`) {
		t.Fatalf("dev page: %d", page.StatusCode)
	}
	tok, _ := http.Get(e.Server.URL + "/dev/session-token?shop=" + apptest.ShopDomain)
	tb, _ := io.ReadAll(tok.Body)
	tok.Body.Close()
	if r := getRaw(t, e, "/api/admin/shop", string(tb)); r.StatusCode != 200 {
		t.Fatalf("a dev token is refused: %d", r.StatusCode)
	}
	for _, c := range []struct {
		path, xff string
		want      int
	}{
		{"/dev/session-token?shop=nobody.myshopify.com", "", 400},
		{"/dev/session-token?shop=evil.com", "", 400},
		{"/dev/session-token?shop=" + apptest.ShopDomain, "203.0.113.9", 403},
	} {
		req, _ := http.NewRequest("GET", e.Server.URL+c.path, nil)
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != c.want {
			t.Errorf("%s (XFF %q): %d, want %d", c.path, c.xff, r.StatusCode, c.want)
		}
	}
	// Without dev=1 (and in production) the page has no stand-in.
	q := loc.Query()
	q.Del("dev")
	page, _ = http.Get(e.Server.URL + "/app?" + q.Encode())
	b, _ = io.ReadAll(page.Body)
	page.Body.Close()
	if strings.Contains(string(b), "app-bridge-shim") {
		t.Fatal("the stand-in is on the page without dev=1")
	}
}

// TestAdminSettingsPartialPut: a body with one field changes that field
// only (regression: {"step2_delay_seconds":7200} used to switch the
// reminder off and zero the other fields).
func TestAdminSettingsPartialPut(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	code, got := adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, map[string]any{"step2_delay_seconds": 7200})
	s := got["settings"].(map[string]any)
	if code != 200 || s["step2_delay_seconds"] != float64(7200) || s["step2_enabled"] != true || s["max_cycles"] != float64(3) || len(s["copy"].([]any)) != 3 {
		t.Fatalf("partial put: %d %v", code, got)
	}
	// The GET shape sent back is refused with a pointer to the right one.
	code, got = adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, map[string]any{"settings": s})
	if code != 400 || !strings.Contains(got["error"].(string), `under "settings"`) {
		t.Fatalf("wrapped put: %d %v", code, got)
	}
	// Sending copy makes it the shop's whole copy.
	code, got = adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, map[string]any{"copy": []map[string]any{
		{"step": 2, "subject": "Soon gone", "heading": "h", "body": "b", "button": "Buy"}}})
	if code != 200 || !strings.Contains(mustJSON(got), "Soon gone") || got["settings"].(map[string]any)["step2_delay_seconds"] != float64(7200) {
		t.Fatalf("copy put: %d %v", code, got)
	}
}

// TestAdminHostileInputs: each row is an input a hostile review found
// answered with a 500 (PostgreSQL), stored unusable, or let through.
func TestAdminHostileInputs(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		base := map[string]any{"step2_enabled": false, "step2_delay_seconds": 3600, "step3_enabled": false, "step3_delay_seconds": 7200, "threshold": 0, "max_cycles": 3}
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for a, b := range base {
				m[a] = b
			}
			m[k] = v
			return m
		}
		copyWith := func(locale, subject string) map[string]any {
			return map[string]any{"step": 2, "locale": locale, "subject": subject, "heading": "h", "body": "b", "button": "Buy"}
		}
		for _, c := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"int4 overflow", with("step3_delay_seconds", 99999999999), "step3_delay_seconds"},
			{"negative disabled step 3", with("step3_delay_seconds", -999999999999), "step3_delay_seconds"},
			{"NUL in sender", with("sender_name", "A\u0000B"), "sender_name"},
			{"escape in sender", with("sender_name", "Shop\u2028Name\u001b[31m"), "sender_name"},
			{"NUL in subject", with("copy", []any{copyWith("", "hi\u0000there")}), "copy[0].subject"},
			{"CRLF in subject", with("copy", []any{copyWith("", "s\r\nBcc: evil@y.com")}), "copy[0].subject"},
			{"same locale twice", with("copy", []any{copyWith("de", "a"), copyWith("de ", "b")}), "copy[1].locale"},
			{"control in logo fragment", with("logo_url", "https://x.com/a.png#\u0000\u0007"), "logo_url"},
			{"wave too big", with("wave_size", 5000), "wave_size"},
			{"negative wave", with("wave_size", -1), "wave_size"},
			{"waves a minute apart", func() map[string]any { m := with("wave_interval_seconds", 60); m["wave_size"] = 2; return m }(), "wave_interval_seconds"},
		} {
			code, got := adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, c.body)
			if code != 422 || !strings.Contains(mustJSON(got), `"field":"`+c.field+`"`) {
				t.Errorf("%s: %d %v", c.name, code, got)
			}
		}
		// Without waves the interval is not checked (the page greys it out)
		// and a bad one is stored as the default hour.
		off := with("wave_interval_seconds", 0)
		if code, got := adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, off); code != 200 ||
			got["settings"].(map[string]any)["wave_interval_seconds"] != float64(3600) {
			t.Errorf("waves off, interval 0: %d %v", code, got)
		}
		// A sender name of 40 characters in three bytes each is fine.
		if code, got := adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, with("sender_name", strings.Repeat("東京雑貨店", 8))); code != 200 {
			t.Errorf("multi-byte sender name: %d %v", code, got)
		}
		// Locales are stored in one form, so the same language cannot be
		// saved twice and shoppers' locales find it.
		code, _ := adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, map[string]any{"copy": []any{copyWith(" PT_br ", "Oi")}})
		var saved []store.Copy
		e.Store.DB.Where("shop_id = ?", e.Shop.ID).Find(&saved)
		if code != 200 || len(saved) != 1 || saved[0].Locale != "pt-br" {
			t.Fatalf("locale stored as %+v (%d)", saved, code)
		}
		// Copy left out of a save is removed (the page's "Remove this translation").
		if code, _ := adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, map[string]any{"copy": []any{}}); code != 200 ||
			e.Count(&store.Copy{}, "shop_id = ?", e.Shop.ID) != 0 {
			t.Fatalf("copy not removed: %d rows", e.Count(&store.Copy{}, "shop_id = ?", e.Shop.ID))
		}
		// NUL in the search: 422, and the CSV says so before any row.
		if code, _ := adminDo(t, e, http.MethodGet, "/api/admin/subscribers?q=a%00b", apptest.ShopDomain, nil); code != 422 {
			t.Errorf("NUL search: %d", code)
		}
		if r := getRaw(t, e, "/api/admin/subscribers.csv?q=a%00b", e.SessionToken(apptest.ShopDomain)); r.StatusCode != 422 {
			t.Errorf("NUL export: %d", r.StatusCode)
		}
		// Rejected test emails do not use up the allowance; blank copy is refused.
		for range 6 {
			if code, _ := adminDo(t, e, http.MethodPost, "/api/admin/test-email", apptest.ShopDomain, map[string]any{"to": "typo@gmail", "step": 1,
				"subject": "s", "heading": "h", "body": "b", "button": "x"}); code != 422 {
				t.Fatalf("typo address: %d", code)
			}
		}
		if code, got := adminDo(t, e, http.MethodPost, "/api/admin/test-email", apptest.ShopDomain, map[string]any{"to": "x@example.com", "step": 1,
			"subject": "", "heading": "", "body": "", "button": ""}); code != 422 || !strings.Contains(mustJSON(got), `"field":"subject"`) {
			t.Errorf("blank test: %d %v", code, got)
		}
		if code, got := adminDo(t, e, http.MethodPost, "/api/admin/test-email", apptest.ShopDomain, map[string]any{"to": "good@gmail.com", "step": 1,
			"subject": "s", "heading": "h", "body": "b", "button": "x"}); code != 200 {
			t.Errorf("first real test after typos: %d %v", code, got)
		}
	})
}

// TestDevRoutesLocalOnly: /dev/* refuses anything that looks proxied.
func TestDevRoutesLocalOnly(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	for _, h := range [][2]string{{"Forwarded", "for=1.2.3.4"}, {"X-Real-IP", "1.2.3.4"}, {"X-Forwarded-For", "1.2.3.4"}} {
		req, _ := http.NewRequest("GET", e.Server.URL+"/dev/session-token?shop="+apptest.ShopDomain, nil)
		req.Header.Set(h[0], h[1])
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 403 {
			t.Errorf("%s: %d", h[0], r.StatusCode)
		}
	}
}

// TestAdminRequestShapes: the scheme is case-insensitive, one JSON object
// only, and type errors speak the API's language.
func TestAdminRequestShapes(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	do := func(method, path, auth, body string) (int, string) {
		req, _ := http.NewRequest(method, e.Server.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		var msg struct{ Error string }
		if json.Unmarshal(b, &msg) == nil && msg.Error != "" {
			return r.StatusCode, msg.Error
		}
		return r.StatusCode, string(b)
	}
	tok := e.SessionToken(apptest.ShopDomain)
	if code, _ := do("GET", "/api/admin/settings", "bearer "+tok, ""); code != 200 {
		t.Errorf("lower-case bearer: %d", code)
	}
	for _, c := range []struct {
		method, path, body, want string
	}{
		{"PUT", "/api/admin/settings", `{"sender_name":"keep me"}{"evil":1}`, "nothing after it"},
		{"PUT", "/api/admin/settings", `{"step2_delay_seconds":"3600"}`, `"step2_delay_seconds" must be a whole number`},
		{"POST", "/api/admin/preview", `{"step":1}{"x":1}`, "nothing may follow"},
		{"POST", "/api/admin/preview", ``, "the body is empty"},
		{"POST", "/api/admin/test-email", `{"to":["a@example.com","b@example.com"]}`, `"to" must be a string`},
	} {
		code, body := do(c.method, c.path, "Bearer "+e.SessionToken(apptest.ShopDomain), c.body)
		if code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, code, body)
		}
	}
	// A valid token of a shop that never installed: told what to do.
	code, body := do("GET", "/api/admin/demand", "Bearer "+e.SessionToken("never-installed.myshopify.com"), "")
	if code != 404 || !strings.Contains(body, "open the app from the Shopify admin") {
		t.Errorf("unknown shop: %d %s", code, body)
	}
	if v, _ := e.Flow.ShopSettings(t.Context(), apptest.ShopDomain); v.Settings.SenderName == "keep me" {
		t.Error("a body with trailing JSON was saved")
	}
}
