package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/app/web"
)

func signupFrom(t *testing.T, e *apptest.Env, ip, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ProxyURL("/proxy/subscribe", "", nil), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestSignupAbuse(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		limits := web.DefaultSignupLimits
		e := apptest.New(t, dsn, apptest.Options{SignupLimits: &limits})
		for id := int64(1); id <= 200; id++ {
			e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(id))
		}

		// The honeypot: looks successful, stores nothing.
		resp := signupFrom(t, e, "203.0.113.1", `{"email":"bot@example.com","variant_id":"1","website":"http://spam.example"}`)
		if resp.StatusCode != 201 || e.Count(&store.Subscription{}, "") != 0 {
			t.Fatalf("honeypot: %d, rows %d", resp.StatusCode, e.Count(&store.Subscription{}, ""))
		}

		// 50 rapid requests from one IP, distinct emails: the burst passes,
		// then 429 with Retry-After, and nothing stored for those.
		ok, limited := 0, 0
		for i := range 50 {
			resp := signupFrom(t, e, "198.51.100.7", fmt.Sprintf(`{"email":"s%d@example.com","variant_id":"1"}`, i))
			switch resp.StatusCode {
			case 201:
				ok++
			case 429:
				limited++
				if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
					t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
				}
			default:
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		if ok != limits.PerIP.Burst || limited != 50-ok {
			t.Fatalf("one IP: %d accepted, %d limited; want %d then 429s", ok, limited, limits.PerIP.Burst)
		}
		if n := e.Count(&store.Subscription{}, ""); n != int64(ok) {
			t.Fatalf("rows %d, want %d (none for refused requests)", n, ok)
		}
		// Another shopper is not affected; time refills the bucket.
		if resp := signupFrom(t, e, "198.51.100.8", `{"email":"other@example.com","variant_id":"1"}`); resp.StatusCode != 201 {
			t.Fatalf("another IP: %d", resp.StatusCode)
		}
		e.Clock.Advance(time.Minute)
		if resp := signupFrom(t, e, "198.51.100.7", `{"email":"later@example.com","variant_id":"1"}`); resp.StatusCode != 201 {
			t.Fatalf("after a minute: %d", resp.StatusCode)
		}

		// One email on 200 variants, from many IPs: the per-email bucket.
		accepted := 0
		for id := 1; id <= 200; id++ {
			b, _ := json.Marshal(map[string]string{"email": "collector@example.com", "variant_id": strconv.Itoa(id)})
			if signupFrom(t, e, fmt.Sprintf("192.0.2.%d", id), string(b)).StatusCode == 201 {
				accepted++
			}
		}
		if accepted != limits.PerEmail.Burst {
			t.Fatalf("one email on 200 variants: %d accepted, want %d", accepted, limits.PerEmail.Burst)
		}
		// Idempotent still: a repeat is "already subscribed", not a new row.
		e.Clock.Advance(time.Hour)
		before := e.Count(&store.Subscription{}, "")
		if resp := signupFrom(t, e, "192.0.2.250", `{"email":"collector@example.com","variant_id":"1"}`); resp.StatusCode != 200 {
			t.Fatalf("repeat: %d", resp.StatusCode)
		}
		if e.Count(&store.Subscription{}, "") != before {
			t.Fatal("a repeat stored a row")
		}
	})
}

// Even without rate limits, one address may wait for at most
// restock.MaxWaitsPerEmail variants of a shop.
func TestWaitsPerEmailBounded(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	for id := int64(1); id <= 105; id++ {
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(id))
	}
	var last int
	for id := int64(1); id <= 105; id++ {
		last, _ = e.Subscribe("many@example.com", id)
	}
	if last != http.StatusUnprocessableEntity || e.Count(&store.Subscription{}, "") != 100 {
		t.Fatalf("last status %d, rows %d; want 422 and 100", last, e.Count(&store.Subscription{}, ""))
	}
}

// A form posted without JavaScript gets a page Shopify renders in the
// theme, not raw JSON; merchant-controlled text cannot inject Liquid.
func TestPlainFormPostGetsALiquidPage(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	v := apptest.Variant(5)
	v.ProductTitle = "Mug {{ shop.secret }} <b>"
	e.Shopify.PutVariant(apptest.ShopDomain, v)
	for i, want := range []string{"on the list", "on the list"} {
		req, _ := http.NewRequest(http.MethodPost, e.ProxyURL("/proxy/subscribe", "", nil), strings.NewReader("email=plain%40example.com&variant_id=5"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		req.Header.Set("Referer", "https://demo-shop.example/products/mug?variant=5")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/liquid") || !strings.Contains(body, want) ||
			!strings.Contains(body, `href="/products/mug?variant=5"`) || strings.Contains(body, "{{") || strings.Contains(body, "<b>") {
			t.Fatalf("post %d: %d %s %s", i, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if n := e.Count(&store.Subscription{}, ""); n != 1 {
		t.Fatalf("rows %d", n)
	}
}
