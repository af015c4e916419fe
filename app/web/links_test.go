package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// setup makes an app with one sold-out variant and waiting shoppers (as in
// restock's flow_test.go).
func setup(t *testing.T, dsn string, shoppers ...string) *apptest.Env {
	t.Helper()
	e := apptest.New(t, dsn)
	e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
	for _, s := range shoppers {
		if code, body := e.Subscribe(s, variantID); code != http.StatusCreated {
			t.Fatalf("subscribe %s: %d %v", s, code, body)
		}
	}
	return e
}

// restockVariants makes variants sellable at location 1 and delivers the
// inventory webhooks Shopify sends, then runs the jobs.
func restockVariants(e *apptest.Env, ids ...int64) {
	e.T.Helper()
	now := e.Clock.Now()
	for _, id := range ids {
		e.Shopify.SetAvailable(apptest.ShopDomain, id, 1, 5)
		item := apptest.Variant(id).InventoryItemID
		if code := e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(item, 1, apptest.Int(5), now)); code != http.StatusOK {
			e.T.Fatalf("webhook: %d", code)
		}
	}
	e.Drain()
}

var (
	clickRe = regexp.MustCompile(`/r/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)`)
	unsubRe = regexp.MustCompile(`/u/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)`)
)

// links are the tokens of the email one shopper received.
type links struct{ click, unsub string }

// tokensByRecipient reads the click and unsubscribe tokens from every email
// the fake SendGrid accepted (the last one wins for a repeated recipient).
func tokensByRecipient(t *testing.T, e *apptest.Env) map[string]links {
	t.Helper()
	out := map[string]links{}
	for _, d := range e.SendGrid.Recipients() {
		c, u := clickRe.FindStringSubmatch(d.HTML), unsubRe.FindStringSubmatch(d.Text)
		h := unsubRe.FindStringSubmatch(d.Headers["List-Unsubscribe"])
		if c == nil || u == nil || h == nil || h[1] != u[1] {
			t.Fatalf("email to %s: click %v, unsubscribe %v, List-Unsubscribe %v", d.To, c, u, h)
		}
		out[d.To] = links{click: c[1], unsub: u[1]}
	}
	return out
}

// tamper changes the character at i to another URL-safe base64 character.
func tamper(tok string, i int) string {
	b := []byte(tok)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func oneClick() http.Header {
	return hdr("Content-Type", "application/x-www-form-urlencoded")
}

func TestEmailLinks(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		shoppers := []string{"ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com"}
		e := setup(t, dsn, shoppers...)
		restockVariants(e, variantID)
		tok := tokensByRecipient(t, e)
		if len(tok) != len(shoppers) {
			t.Fatalf("step 1 reached %d shoppers, want %d", len(tok), len(shoppers))
		}
		ann, bob, cy, dee := tok["ann@example.com"], tok["bob@example.com"], tok["cy@example.com"], tok["dee@example.com"]
		body := []byte("List-Unsubscribe=One-Click")
		status := func(email, want string) func(t *testing.T, r response) {
			return func(t *testing.T, r response) {
				t.Helper()
				s := subscription(t, e, email)
				if s.Status != want || (want == store.SubUnsubscribed) != (s.UnsubscribedAt != nil) {
					t.Errorf("%s: status %q (unsubscribed_at %v), want %q", email, s.Status, s.UnsubscribedAt, want)
				}
				if want == store.SubUnsubscribed {
					if n := countRows(t, e, &store.Suppression{}, "email = ? AND shop_id = ?", email, e.Shop.ID); n != 1 {
						t.Errorf("%s: %d suppression rows, want 1", email, n)
					}
				}
			}
		}
		message := func(t *testing.T, email string) store.Message {
			var m store.Message
			s := subscription(t, e, email)
			if err := e.Store.DB.Where("subscription_id = ? AND step = 1", s.ID).Take(&m).Error; err != nil {
				t.Fatalf("message of %s: %v", email, err)
			}
			return m
		}
		productPage := apptest.Variant(variantID).OnlineStoreURL + "?variant=" + strconv.FormatInt(variantID, 10)
		redirect := func(want string) func(t *testing.T, r response) {
			return func(t *testing.T, r response) {
				t.Helper()
				if loc := r.Header.Get("Location"); loc != want {
					t.Errorf("Location = %q, want %q", loc, want)
				}
				if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", cc)
				}
			}
		}
		noRedirect := func(t *testing.T, r response) {
			t.Helper()
			if loc := r.Header.Get("Location"); loc != "" {
				t.Errorf("Location = %q, want none", loc)
			}
		}
		var firstClick time.Time
		multi := &bytes.Buffer{}
		mw := multipart.NewWriter(multi)
		_ = mw.WriteField("List-Unsubscribe", "One-Click")
		_ = mw.Close()

		// A link for a message that does not exist, signed with the kit's key.
		kitLinks := restock.NewLinks(bytes.Repeat([]byte{7}, 32), e.Server.URL)
		if got := kitLinks.ClickURL(message(t, "dee@example.com").ID); got != e.Server.URL+"/r/"+dee.click {
			t.Fatalf("apptest's link key changed: made %s, the email has /r/%s", got, dee.click)
		}
		missing := strings.TrimPrefix(kitLinks.ClickURL(1<<40), e.Server.URL+"/r/")
		missingUnsub := strings.TrimPrefix(kitLinks.UnsubscribeURL(1<<40), e.Server.URL+"/u/")

		runCases(t, e, []httpCase{
			// Unsubscribe: a GET only shows the page (link scanners follow links).
			{name: "GET unsubscribe page", url: "/u/" + ann.unsub, status: http.StatusOK, text: "Stop restock emails?", notText: "ann@example.com",
				check: func(t *testing.T, r response) {
					status("ann@example.com", store.SubNotified)(t, r)
					if !strings.Contains(r.Body, `<form method="post">`) || !strings.Contains(r.Body, "@example.com") {
						t.Errorf("page has no unsubscribe form or masked address")
					}
					if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Security-Policy") == "" {
						t.Errorf("page headers %v", r.Header)
					}
				}},
			{name: "GET unsubscribe page again", url: "/u/" + ann.unsub, status: http.StatusOK, text: "Stop restock emails?",
				check: status("ann@example.com", store.SubNotified)},
			{name: "one-click unsubscribe", method: http.MethodPost, url: "/u/" + ann.unsub, header: oneClick(), body: body,
				status: http.StatusOK, text: "unsubscribed", want: effects{Suppressions: 1}, check: status("ann@example.com", store.SubUnsubscribed)},
			{name: "one-click unsubscribe repeated", method: http.MethodPost, url: "/u/" + ann.unsub, header: oneClick(), body: body,
				status: http.StatusOK, text: "unsubscribed", check: status("ann@example.com", store.SubUnsubscribed)},
			{name: "GET unsubscribe page once unsubscribed", url: "/u/" + ann.unsub, status: http.StatusOK, text: "unsubscribed",
				notText: "<form", check: status("ann@example.com", store.SubUnsubscribed)},
			{name: "page button (empty form POST)", method: http.MethodPost, url: "/u/" + bob.unsub, header: oneClick(), body: []byte{},
				status: http.StatusOK, text: "unsubscribed", want: effects{Suppressions: 1}, check: status("bob@example.com", store.SubUnsubscribed)},
			{name: "one-click as multipart/form-data", method: http.MethodPost, url: "/u/" + cy.unsub,
				header: hdr("Content-Type", mw.FormDataContentType()), body: multi.Bytes(),
				status: http.StatusOK, want: effects{Suppressions: 1}, check: status("cy@example.com", store.SubUnsubscribed)},
			{name: "one-click with a tampered token", method: http.MethodPost, url: "/u/" + tamper(dee.unsub, len(dee.unsub)/2), header: oneClick(), body: body,
				status: http.StatusNotFound, check: status("dee@example.com", store.SubNotified)},
			{name: "page button with a tampered token", method: http.MethodPost, url: "/u/" + tamper(dee.unsub, 0), header: oneClick(), body: []byte{},
				status: http.StatusNotFound, text: "This link doesn", check: status("dee@example.com", store.SubNotified)},
			{name: "GET with a tampered token", url: "/u/" + tamper(dee.unsub, len(dee.unsub)-3), status: http.StatusNotFound, text: "This link doesn"},
			{name: "click token used to unsubscribe", method: http.MethodPost, url: "/u/" + dee.click, header: oneClick(), body: body,
				status: http.StatusNotFound, check: status("dee@example.com", store.SubNotified)},
			{name: "signed token of a message that does not exist", method: http.MethodPost, url: "/u/" + missingUnsub, header: oneClick(), body: body,
				status: http.StatusNotFound},
			{name: "unsubscribe token with a trailing path", url: "/u/" + dee.unsub + "/x", status: http.StatusNotFound},

			// Clicks: a redirect to the shop's product page, never elsewhere.
			{name: "click", url: "/r/" + dee.click, status: http.StatusFound, check: func(t *testing.T, r response) {
				redirect(productPage)(t, r)
				m := message(t, "dee@example.com")
				if m.ClickedAt == nil || !m.ClickedAt.Equal(e.Clock.Now()) {
					t.Errorf("clicked_at = %v, want %v", m.ClickedAt, e.Clock.Now())
				} else {
					firstClick = *m.ClickedAt
				}
			}},
			{name: "second click keeps the first time", url: "/r/" + dee.click, before: func(t *testing.T) { e.Clock.Advance(time.Minute) },
				status: http.StatusFound, check: func(t *testing.T, r response) {
					redirect(productPage)(t, r)
					if m := message(t, "dee@example.com"); m.ClickedAt == nil || !m.ClickedAt.Equal(firstClick) {
						t.Errorf("clicked_at = %v, want the first click %v", m.ClickedAt, firstClick)
					}
				}},
			{name: "click by an unsubscribed shopper still goes to the product", url: "/r/" + ann.click, status: http.StatusFound, check: redirect(productPage)},
			{name: "click with a tampered token", url: "/r/" + tamper(cy.click, len(cy.click)/2), status: http.StatusNotFound, text: "This link doesn",
				check: func(t *testing.T, r response) {
					noRedirect(t, r)
					if m := message(t, "cy@example.com"); m.ClickedAt != nil {
						t.Errorf("tampered click recorded at %v", m.ClickedAt)
					}
				}},
			{name: "unsubscribe token used as a click", url: "/r/" + cy.unsub, status: http.StatusNotFound, check: noRedirect},
			{name: "signed click of a message that does not exist", url: "/r/" + missing, status: http.StatusNotFound, check: noRedirect},
			{name: "empty click token", url: "/r/", status: http.StatusNotFound, check: noRedirect},
			{name: "very long click token", url: "/r/" + strings.Repeat("A", 4000) + "." + strings.Repeat("B", 22), status: http.StatusNotFound, check: noRedirect},
			{name: "click token with an encoded redirect appended", url: "/r/" + cy.click + "%2F%2Fevil.example", status: http.StatusNotFound, check: noRedirect},
			{name: "POST to a click link", method: http.MethodPost, url: "/r/" + cy.click, body: []byte{}, status: http.StatusMethodNotAllowed, check: noRedirect},
		})

		// Step 2 a day later goes only to the shopper who did not unsubscribe.
		before := e.SendGrid.RecipientCount()
		e.Advance(24 * time.Hour)
		all := e.SendGrid.Recipients()
		var step2 []string
		for _, d := range all[before:] {
			step2 = append(step2, d.To)
		}
		if len(step2) != 1 || step2[0] != "dee@example.com" {
			t.Errorf("step 2 went to %v, want only dee@example.com", step2)
		}

		// Sold out again, a new signup with that address is accepted but does
		// not lift the suppression: anyone can type an address into the form.
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 0)
		item := apptest.Variant(variantID).InventoryItemID
		if code := e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(item, 1, apptest.Int(0), e.Clock.Now())); code != http.StatusOK {
			t.Fatalf("webhook: %d", code)
		}
		e.Drain()
		if code, body := e.Subscribe("ann@example.com", variantID); code != http.StatusCreated {
			t.Errorf("subscribe again after unsubscribing: %d %v, want 201", code, body)
		}
		if n := countRows(t, e, &store.Suppression{}, "email = ?", "ann@example.com"); n != 1 {
			t.Errorf("a signup lifted the unsubscribe (suppression rows %d)", n)
		}

		// Once the shop uninstalls the app, its emails' links still work.
		uninstall := apptest.Fixture(t, "shopify/app_uninstalled.json")
		runCases(t, e, []httpCase{
			{name: "shop uninstalls", url: "/webhooks", body: uninstall, drain: true,
				header: webhookHeaders(e, apptest.Secret, shopify.TopicAppUninstalled, "wh-links-uninstall", uninstall),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}},
			{name: "click after uninstall", url: "/r/" + dee.click, status: http.StatusFound, check: redirect(productPage)},
			{name: "one-click unsubscribe after uninstall", method: http.MethodPost, url: "/u/" + dee.unsub, header: oneClick(), body: body,
				status: http.StatusOK, text: "unsubscribed", want: effects{Suppressions: 1}, check: status("dee@example.com", store.SubUnsubscribed)},
		})
	})
}

// TestTamperedTokens changes each character of a click and an unsubscribe
// token in turn: every altered token is refused, and nothing is recorded.
func TestTamperedTokens(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, "dee@example.com")
		restockVariants(e, variantID)
		dee := tokensByRecipient(t, e)["dee@example.com"]
		var cases []httpCase
		for i := range dee.click {
			cases = append(cases, httpCase{name: "click, character " + strconv.Itoa(i), url: "/r/" + tamper(dee.click, i),
				status: http.StatusNotFound, notText: "href="})
		}
		for i := range dee.unsub {
			cases = append(cases, httpCase{name: "unsubscribe, character " + strconv.Itoa(i), method: http.MethodPost,
				url: "/u/" + tamper(dee.unsub, i), header: oneClick(), body: []byte("List-Unsubscribe=One-Click"),
				status: http.StatusNotFound})
		}
		runCases(t, e, cases)
		if n := countRows(t, e, &store.Message{}, "clicked_at IS NOT NULL"); n != 0 {
			t.Errorf("%d clicks recorded from tampered tokens", n)
		}
		if s := subscription(t, e, "dee@example.com"); s.Status != store.SubNotified {
			t.Errorf("status = %q after tampered unsubscribes, want notified", s.Status)
		}
	})
}

// TestClickRedirectStaysOnShop: whatever Online Store URL the catalog
// holds, a click goes to an http(s) page without credentials, falling back
// to the shop's own /products/{handle}.
func TestClickRedirectStaysOnShop(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		fallback := "https://" + apptest.ShopDomain + "/products/example-t-shirt?variant="
		cases := []struct {
			name, productURL string
			want             string // Location without the variant id, which is appended
		}{
			{"https product page", "https://demo-shop.example/products/example-t-shirt", "https://demo-shop.example/products/example-t-shirt?variant="},
			{"query kept", "https://demo-shop.example/products/example-t-shirt?ref=email", "https://demo-shop.example/products/example-t-shirt?ref=email&variant="},
			{"javascript URL", "javascript:alert(1)", fallback},
			{"javascript URL in capitals", "JavaScript:alert(document.domain)//https://demo-shop.example/", fallback},
			{"data URL", "data:text/html,<script>alert(1)</script>", fallback},
			{"vbscript URL", "vbscript:msgbox(1)", fallback},
			{"userinfo", "https://attacker@evil.example/products/x", fallback},
			{"userinfo with password", "https://user:pass@demo-shop.example/products/x", fallback},
			{"backslash userinfo trick", `https://demo-shop.example\@evil.example/`, fallback},
			{"scheme-relative", "//evil.example/products/x", fallback},
			{"no host", "https:evil.example", fallback},
			{"ftp", "ftp://evil.example/x", fallback},
			{"leading space", " https://evil.example/", fallback},
		}
		e := apptest.New(t, dsn)
		ids := make([]int64, len(cases))
		for i, c := range cases {
			ids[i] = variantID + 100 + int64(i)
			v := apptest.Variant(ids[i])
			v.ProductID += int64(i) // one product per case: product fields are shared
			e.Shopify.PutVariant(apptest.ShopDomain, v)
			if code, body := e.Subscribe("case"+strconv.Itoa(i)+"@example.com", ids[i]); code != http.StatusCreated {
				t.Fatalf("subscribe case %d: %d %v", i, code, body)
			}
			v.OnlineStoreURL = c.productURL // what Shopify says at the restock
			e.Shopify.PutVariant(apptest.ShopDomain, v)
		}
		restockVariants(e, ids...)
		tok := tokensByRecipient(t, e)
		var rows []httpCase
		for i, c := range cases {
			want := c.want + strconv.FormatInt(ids[i], 10)
			l, ok := tok["case"+strconv.Itoa(i)+"@example.com"]
			if !ok {
				t.Errorf("%s: no email sent", c.name)
				continue
			}
			rows = append(rows, httpCase{name: c.name, url: "/r/" + l.click, status: http.StatusFound,
				check: func(t *testing.T, r response) {
					loc := r.Header.Get("Location")
					if loc != want {
						t.Errorf("Location = %q, want %q", loc, want)
					}
					u, err := url.Parse(loc)
					if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
						t.Errorf("Location %q is not a plain http(s) page", loc)
					}
					var v store.Variant
					if err := e.Store.DB.Where("variant_id = ?", ids[i]).Take(&v).Error; err != nil {
						t.Fatal(err)
					}
					if v.ProductURL != c.productURL {
						t.Logf("catalog holds %q, not %q: the URL was cleaned before it was stored", v.ProductURL, c.productURL)
					}
				}})
		}
		runCases(t, e, rows)
	})
}
