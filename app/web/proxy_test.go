package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// variantID is sold out in the fake Shopify; above 2^53, as Shopify's ids are.
const variantID = int64(642667041472713922)

const otherShop = "other-shop.myshopify.com"

// proxyURL signs path's query the way Shopify's app proxy forwards it.
// params override the defaults (shop, logged-out customer, path_prefix, now);
// a nil value removes a parameter before signing.
func proxyURL(e *apptest.Env, path, secret string, params url.Values) string {
	q := url.Values{
		"shop":                  {apptest.ShopDomain},
		"logged_in_customer_id": {""},
		"path_prefix":           {"/apps/restock"},
		"timestamp":             {strconv.FormatInt(e.Clock.Now().Unix(), 10)},
	}
	for k, v := range params {
		if v == nil {
			delete(q, k)
		} else {
			q[k] = v
		}
	}
	q.Set("signature", shopify.SignProxyQuery(secret, q))
	return e.Server.URL + path + "?" + q.Encode()
}

// signup is the storefront form as JSON.
func signup(fields map[string]any) []byte {
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return b
}

// form is the storefront form URL-encoded.
func form(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

// subscription loads the one subscription of an address.
func subscription(t *testing.T, e *apptest.Env, email string) store.Subscription {
	t.Helper()
	var s store.Subscription
	if err := e.Store.DB.Where("email = ?", email).Take(&s).Error; err != nil {
		t.Fatalf("subscription of %s: %v", email, err)
	}
	return s
}

// jsonError checks an {"error": "..."} body that contains want.
func jsonError(want string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		var body map[string]any
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatalf("body %q is not JSON: %v", r.Body, err)
		}
		msg, _ := body["error"].(string)
		delete(body, "code") // a machine-readable name may accompany the message
		if len(body) != 1 || !strings.Contains(msg, want) {
			t.Errorf("body = %s, want only {\"error\": \"…%s…\"} (and a code)", r.Body, want)
		}
	}
}

func TestProxySubscribe(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		const (
			inStockID   = variantID + 1
			continueID  = variantID + 2
			untrackedID = variantID + 3
			laterID     = variantID + 4 // learned while Shopify is down, then once it is back
			unknownID   = variantID + 99
		)
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		inStock := apptest.Variant(inStockID)
		inStock.Levels = []fake.Level{{LocationID: 1, LocationName: "Warehouse", Available: 5, FulfillsOnline: true}}
		e.Shopify.PutVariant(apptest.ShopDomain, inStock)
		cont := apptest.Variant(continueID)
		cont.Policy = "CONTINUE"
		e.Shopify.PutVariant(apptest.ShopDomain, cont)
		untracked := apptest.Variant(untrackedID)
		untracked.Tracked = false
		e.Shopify.PutVariant(apptest.ShopDomain, untracked)
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(laterID))

		// A second installed shop where the same variant id is in stock: a
		// signup that reached it would answer 409.
		e.Shopify.AddShop(otherShop, "shpat_other", "USD")
		otherInStock := apptest.Variant(variantID)
		otherInStock.Levels = inStock.Levels
		e.Shopify.PutVariant(otherShop, otherInStock)
		if _, err := e.Flow.InstallShop(context.Background(), otherShop, "shpat_other", "Other", "USD"); err != nil {
			t.Fatal(err)
		}

		signed := proxyURL(e, "/proxy/subscribe", apptest.Secret, nil)
		jsonCT := hdr("Content-Type", "application/json")
		formCT := hdr("Content-Type", "application/x-www-form-urlencoded")
		vid := strconv.FormatInt(variantID, 10)
		now := e.Clock.Now()
		at := func(d time.Duration) url.Values {
			return url.Values{"timestamp": {strconv.FormatInt(now.Add(d).Unix(), 10)}}
		}
		created := `{"status":"subscribed"}`
		already := `{"status":"already_subscribed"}`
		inShop := func(email string, shopID int64) func(t *testing.T, r response) {
			return func(t *testing.T, r response) {
				if s := subscription(t, e, email); s.ShopID != shopID || s.VariantID != variantID {
					t.Errorf("subscription of %s is in shop %d for variant %d, want shop %d variant %d", email, s.ShopID, s.VariantID, shopID, variantID)
				}
			}
		}
		forged := []byte(signed)
		i := strings.Index(signed, "signature=") + len("signature=")
		if forged[i] == '0' { // another hex digit: well-formed, wrong
			forged[i] = '1'
		} else {
			forged[i] = '0'
		}

		cases := []httpCase{
			{name: "JSON signup", url: signed, header: jsonCT, body: signup(map[string]any{"email": "ann@example.com", "variant_id": vid, "locale": "fr"}),
				status: http.StatusCreated, text: created, want: effects{Subscriptions: 1},
				check: func(t *testing.T, r response) {
					s := subscription(t, e, "ann@example.com")
					if s.ShopID != e.Shop.ID || s.VariantID != variantID || s.Status != store.SubWaiting || s.CustomerID != nil || s.Locale != "fr" {
						t.Errorf("subscription = %+v", s)
					}
				}},
			{name: "same JSON signup again", url: signed, header: jsonCT, body: signup(map[string]any{"email": "ann@example.com", "variant_id": vid}),
				status: http.StatusOK, text: already},
			{name: "form signup, address in other case with spaces", url: signed, header: formCT, body: form("email", "  ANN@Example.COM ", "variant_id", vid),
				status: http.StatusOK, text: already},
			{name: "JSON signup with a tab and capitals", url: signed, header: jsonCT, body: signup(map[string]any{"email": "\tAnn@EXAMPLE.com", "variant_id": vid}),
				status: http.StatusOK, text: already},
			{name: "form signup", url: signed, header: formCT, body: form("email", "cy@example.com", "variant_id", vid, "accepts_marketing", "on"),
				status: http.StatusCreated, text: created, want: effects{Subscriptions: 1},
				check: func(t *testing.T, r response) {
					if s := subscription(t, e, "cy@example.com"); !s.AcceptsMarketing {
						t.Errorf("accepts_marketing=on not stored")
					}
				}},
			{name: "form signup again, as JSON in capitals", url: signed, header: jsonCT, body: signup(map[string]any{"email": "CY@EXAMPLE.COM", "variant_id": vid}),
				status: http.StatusOK, text: already},
			{name: "no Content-Type is read as a form", url: signed, body: form("email", "dee@example.com", "variant_id", vid),
				status: http.StatusCreated, text: created, want: effects{Subscriptions: 1}},
			{name: "JSON with a charset", url: signed, header: hdr("Content-Type", "application/json; charset=utf-8"),
				body:   signup(map[string]any{"email": "eve@example.com", "variant_id": vid}),
				status: http.StatusCreated, want: effects{Subscriptions: 1}},

			// The shop is the signed query's, never the body's.
			{name: "shop in the JSON body is ignored", url: signed, header: jsonCT,
				body:   signup(map[string]any{"email": "fay@example.com", "variant_id": vid, "shop": otherShop}),
				status: http.StatusCreated, want: effects{Subscriptions: 1}, check: inShop("fay@example.com", e.Shop.ID)},
			{name: "shop in the form body is ignored", url: signed, header: formCT,
				body:   form("email", "gus@example.com", "variant_id", vid, "shop", otherShop),
				status: http.StatusCreated, want: effects{Subscriptions: 1}, check: inShop("gus@example.com", e.Shop.ID)},
			{name: "signed query of the other shop decides the shop", header: jsonCT,
				url:    proxyURL(e, "/proxy/subscribe", apptest.Secret, url.Values{"shop": {otherShop}}),
				body:   signup(map[string]any{"email": "hal@example.com", "variant_id": vid}),
				status: http.StatusConflict, text: "in stock"},
			{name: "unsigned second shop parameter", url: signed + "&shop=" + otherShop, header: jsonCT,
				body:   signup(map[string]any{"email": "hal@example.com", "variant_id": vid}),
				status: http.StatusUnauthorized, check: jsonError("app proxy")},

			// Signatures.
			{name: "no signature", header: jsonCT, body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}),
				url:    dropParam(t, signed, "signature"),
				status: http.StatusUnauthorized, check: jsonError("app proxy")},
			{name: "no query at all", url: "/proxy/subscribe", header: jsonCT, body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}),
				status: http.StatusUnauthorized, check: jsonError("app proxy")},
			{name: "forged signature", url: string(forged), header: jsonCT, body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}),
				status: http.StatusUnauthorized, check: jsonError("app proxy")},
			{name: "signed with another secret", url: proxyURL(e, "/proxy/subscribe", "another-secret", nil), header: jsonCT,
				body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}), status: http.StatusUnauthorized},
			{name: "customer id changed after signing", url: strings.Replace(signed, "logged_in_customer_id=&", "logged_in_customer_id=7001&", 1), header: jsonCT,
				body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}), status: http.StatusUnauthorized},
			{name: "timestamp 6 minutes old", url: proxyURL(e, "/proxy/subscribe", apptest.Secret, at(-6*time.Minute)), header: jsonCT,
				body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}), status: http.StatusUnauthorized, check: jsonError("expired")},
			{name: "timestamp 6 minutes ahead", url: proxyURL(e, "/proxy/subscribe", apptest.Secret, at(6*time.Minute)), header: jsonCT,
				body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}), status: http.StatusUnauthorized, check: jsonError("expired")},
			{name: "no timestamp", url: proxyURL(e, "/proxy/subscribe", apptest.Secret, url.Values{"timestamp": nil}), header: jsonCT,
				body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}), status: http.StatusUnauthorized},
			{name: "timestamp 4 minutes old is still fine", url: proxyURL(e, "/proxy/subscribe", apptest.Secret, at(-4*time.Minute)), header: jsonCT,
				body: signup(map[string]any{"email": "hal@example.com", "variant_id": vid}), status: http.StatusCreated, want: effects{Subscriptions: 1}},
			{name: "customer id that is not a number", url: proxyURL(e, "/proxy/subscribe", apptest.Secret, url.Values{"logged_in_customer_id": {"abc"}}),
				header: jsonCT, body: signup(map[string]any{"email": "ida@example.com", "variant_id": vid}), status: http.StatusUnauthorized},

			// variant_id.
			{name: "variant_id as a JSON number above 2^53 stays exact", url: signed, header: jsonCT,
				body:   []byte(`{"email":"big@example.com","variant_id":642667041472713922}`),
				status: http.StatusCreated, want: effects{Subscriptions: 1}, check: inShop("big@example.com", e.Shop.ID)},
			{name: "variant_id as a GID", url: signed, header: jsonCT,
				body:   signup(map[string]any{"email": "gid@example.com", "variant_id": "gid://shopify/ProductVariant/" + vid}),
				status: http.StatusCreated, want: effects{Subscriptions: 1}, check: inShop("gid@example.com", e.Shop.ID)},
			{name: "variant_id missing", url: signed, header: jsonCT, body: signup(map[string]any{"email": "ida@example.com"}),
				status: http.StatusUnprocessableEntity, check: jsonError("variant_id")},
			{name: "variant_id not a number", url: signed, header: formCT, body: form("email", "ida@example.com", "variant_id", "abc"),
				status: http.StatusUnprocessableEntity, check: jsonError("variant_id")},
			{name: "variant_id negative", url: signed, header: jsonCT, body: []byte(`{"email":"ida@example.com","variant_id":-5}`),
				status: http.StatusUnprocessableEntity, check: jsonError("variant_id")},
			{name: "variant_id fractional", url: signed, header: jsonCT, body: []byte(`{"email":"ida@example.com","variant_id":1.5}`),
				status: http.StatusUnprocessableEntity, check: jsonError("variant_id")},
			// parseID takes the number of any GID; Shopify has no variant with a product's id.
			{name: "variant_id a product GID", url: signed, header: jsonCT,
				body:   signup(map[string]any{"email": "ida@example.com", "variant_id": "gid://shopify/Product/788032119674292922"}),
				status: http.StatusNotFound, check: jsonError("could not find that product option")},
			{name: "unknown variant", url: signed, header: jsonCT, body: signup(map[string]any{"email": "ida@example.com", "variant_id": unknownID}),
				status: http.StatusNotFound, check: jsonError("could not find that product option")},
			{name: "in-stock variant", url: signed, header: jsonCT, body: signup(map[string]any{"email": "ida@example.com", "variant_id": inStockID}),
				status: http.StatusConflict, check: jsonError("in stock, so you can buy it now")},
			{name: "variant that sells when out of stock (CONTINUE)", url: signed, header: jsonCT,
				body:   signup(map[string]any{"email": "ida@example.com", "variant_id": continueID}),
				status: http.StatusConflict, check: jsonError("always available")},
			{name: "untracked variant", url: signed, header: jsonCT, body: signup(map[string]any{"email": "ida@example.com", "variant_id": untrackedID}),
				status: http.StatusConflict, check: jsonError("always available")},
			{name: "Shopify down for a variant not seen yet", url: signed, header: jsonCT,
				body: signup(map[string]any{"email": "ida@example.com", "variant_id": laterID}),
				before: func(t *testing.T) {
					e.Shopify.SetDown(true)
					t.Cleanup(func() { e.Shopify.SetDown(false) })
				},
				status: http.StatusServiceUnavailable, check: func(t *testing.T, r response) {
					jsonError("try again")(t, r)
					if r.Header.Get("Retry-After") == "" {
						t.Errorf("no Retry-After header")
					}
				}},
			{name: "same variant once Shopify is back", url: signed, header: jsonCT,
				body:   signup(map[string]any{"email": "ida@example.com", "variant_id": laterID}),
				status: http.StatusCreated, want: effects{Subscriptions: 1}},
			{name: "Shopify down does not stop signups for a known variant", url: signed, header: jsonCT,
				body: signup(map[string]any{"email": "joe@example.com", "variant_id": vid}),
				before: func(t *testing.T) {
					e.Shopify.SetDown(true)
					t.Cleanup(func() { e.Shopify.SetDown(false) })
				},
				status: http.StatusCreated, want: effects{Subscriptions: 1}},

			// Body.
			{name: "body of exactly 16 KiB", url: signed, header: jsonCT, body: padSignup("kim@example.com", vid, 16<<10),
				status: http.StatusCreated, want: effects{Subscriptions: 1}},
			{name: "body above 16 KiB", url: signed, header: jsonCT, body: padSignup("lea@example.com", vid, 16<<10+1),
				status: http.StatusRequestEntityTooLarge, check: jsonError("too large")},
			{name: "body above 16 KiB, chunked", url: signed, header: jsonCT, body: padSignup("lea@example.com", vid, 64<<10), chunked: true,
				status: http.StatusRequestEntityTooLarge, check: jsonError("too large")},
			{name: "text/plain", url: signed, header: hdr("Content-Type", "text/plain"), body: signup(map[string]any{"email": "lea@example.com", "variant_id": vid}),
				status: http.StatusUnsupportedMediaType, check: jsonError("JSON")},
			{name: "XML", url: signed, header: hdr("Content-Type", "application/xml"), body: []byte(`<email>lea@example.com</email>`),
				status: http.StatusUnsupportedMediaType},
			{name: "JSON that does not parse", url: signed, header: jsonCT, body: []byte(`{"email":"lea@example.com",`),
				status: http.StatusBadRequest, check: jsonError("not valid JSON")},
			{name: "JSON with the wrong type for email", url: signed, header: jsonCT, body: []byte(`{"email":["lea@example.com"],"variant_id":"1"}`),
				status: http.StatusBadRequest},

			// The logged-in customer from the signed query.
			{name: "logged-in customer is stored", url: proxyURL(e, "/proxy/subscribe", apptest.Secret, url.Values{"logged_in_customer_id": {"7001"}}),
				header: jsonCT, body: signup(map[string]any{"email": "max@example.com", "variant_id": vid}),
				status: http.StatusCreated, want: effects{Subscriptions: 1},
				check: func(t *testing.T, r response) {
					if s := subscription(t, e, "max@example.com"); s.CustomerID == nil || *s.CustomerID != 7001 {
						t.Errorf("customer_id = %v, want 7001", s.CustomerID)
					}
				}},
			{name: "customer_id in the body is not the logged-in customer", url: signed, header: jsonCT,
				body:   signup(map[string]any{"email": "ned@example.com", "variant_id": vid, "customer_id": 666, "logged_in_customer_id": 666}),
				status: http.StatusCreated, want: effects{Subscriptions: 1},
				check: func(t *testing.T, r response) {
					if s := subscription(t, e, "ned@example.com"); s.CustomerID != nil {
						t.Errorf("customer_id = %d, want none", *s.CustomerID)
					}
				}},
		}

		// Addresses a shopper must correct: 422 with a message they can act on, no row.
		long := strings.Repeat("a", 300-len("@example.com")) + "@example.com"
		for _, bad := range []string{"", "   ", "no-at", "a@b", "a@@b.com", "a b@c.com", "<a@b.com>", "Name <a@b.com>", long,
			"a@b.com\r\nBcc: x@y.com", "a@b.com\nBcc: x@y.com", "a@b.com, c@d.com", "a@.com", "a@b..com", "@example.com", `"a"@b.com`} {
			for _, enc := range []string{"json", "form"} {
				tc := httpCase{name: fmt.Sprintf("invalid email %.40q as %s", bad, enc), url: signed,
					status: http.StatusUnprocessableEntity, check: jsonError("please enter a valid email address")}
				if enc == "json" {
					tc.header, tc.body = jsonCT, signup(map[string]any{"email": bad, "variant_id": vid})
				} else {
					tc.header, tc.body = formCT, form("email", bad, "variant_id", vid)
				}
				cases = append(cases, tc)
			}
		}
		// Addresses the app takes but SendGrid refuses ("Does not contain a
		// valid address", as the fake answers): the shopper is told
		// "subscribed" and never gets the email (its message ends failed,
		// rejected_by_provider). ValidEmail promises "what SendGrid will take".
		for _, bad := range []string{"a@b_c.com", "a@-b.com", "a@b-.com", "a@" + strings.Repeat("x", 64) + ".com", "a@[127.0.0.1]"} {
			cases = append(cases, httpCase{name: fmt.Sprintf("address SendGrid refuses %.40q", bad), url: signed, header: jsonCT,
				body:   signup(map[string]any{"email": bad, "variant_id": vid}),
				status: http.StatusUnprocessableEntity, check: jsonError("please enter a valid email address")})
		}
		runCases(t, e, cases)
		if n := countRows(t, e, &store.Subscription{}, "shop_id <> ?", e.Shop.ID); n != 0 {
			t.Errorf("%d subscriptions in the other shop", n)
		}
	})
}

// dropParam removes a parameter from a URL's query.
func dropParam(t *testing.T, raw, key string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del(key)
	u.RawQuery = q.Encode()
	return u.String()
}

// padSignup is a JSON signup of exactly n bytes.
func padSignup(email, variantID string, n int) []byte {
	b := signup(map[string]any{"email": email, "variant_id": variantID, "pad": ""})
	pad := strings.Repeat("x", n-len(b))
	return signup(map[string]any{"email": email, "variant_id": variantID, "pad": pad})
}

// TestProxyStatus: the storefront block asks whether the logged-in customer waits.
func TestProxyStatus(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		vid := strconv.FormatInt(variantID, 10)
		status := func(customer string, variant string) string {
			return proxyURL(e, "/proxy/status", apptest.Secret, url.Values{"logged_in_customer_id": {customer}, "variant_id": {variant}})
		}
		runCases(t, e, []httpCase{
			{name: "logged-in customer signs up", header: hdr("Content-Type", "application/json"),
				url:    proxyURL(e, "/proxy/subscribe", apptest.Secret, url.Values{"logged_in_customer_id": {"7001"}}),
				body:   signup(map[string]any{"email": "max@example.com", "variant_id": vid}),
				status: http.StatusCreated, want: effects{Subscriptions: 1}},
			{name: "that customer waits", url: status("7001", vid), status: http.StatusOK, text: `{"waiting":true}`},
			{name: "another customer does not", url: status("7002", vid), status: http.StatusOK, text: `{"waiting":false}`},
			{name: "a logged-out shopper does not", url: status("", vid), status: http.StatusOK, text: `{"waiting":false}`},
			{name: "another variant is not waited for", url: status("7001", "123"), status: http.StatusOK, text: `{"waiting":false}`},
			{name: "bad variant id", url: status("7001", "abc"), status: http.StatusUnprocessableEntity, check: jsonError("variant_id")},
			{name: "unsigned", url: "/proxy/status?logged_in_customer_id=7001&variant_id=" + vid, status: http.StatusUnauthorized},
			{name: "customer changed after signing", url: strings.Replace(status("7001", vid), "logged_in_customer_id=7001", "logged_in_customer_id=7002", 1),
				status: http.StatusUnauthorized},
		})
	})
}
