package web_test

// Real-browser tests of the storefront "Notify me" block (extensions/notify-me) against the real
// app: headless Chromium (chromedp) loads a Dawn-like product page whose app block is rendered from
// the extension's own Liquid (osteele/liquid, with the Shopify tags and filters the block needs),
// runs assets/notify-me.js, and posts through an app-proxy stand-in that signs each request as
// Shopify does and forwards it to the real router, store and fake Shopify of apptest.
//
// Screenshots of each state go to test-artifacts/storefront/ (git-ignored). Without Chromium at
// /usr/bin/chromium the test skips, unless CI or REQUIRE_BROWSER is set.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/osteele/liquid"
	"github.com/osteele/liquid/render"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/app/web"
)

const (
	sfChromium  = "/usr/bin/chromium"
	sfExtension = "../../extensions/notify-me"
	sfTestdata  = "testdata/storefront"
	sfShots     = "../../test-artifacts/storefront"

	sfSoldOut = int64(1001) // "Small": tracked, policy deny, none in stock
	sfInStock = int64(1002) // "Medium": in stock
	sfProduct = "Example T-Shirt"
	sfHandle  = "example-t-shirt"
)

// Texts of locales/en.default.json and de.json as a shopper reads them, with {{ item }} filled.
const (
	sfSmall         = sfProduct + " – Small"
	sfSuccessEN     = "We'll email you when " + sfSmall + " is back."
	sfAlreadyEN     = "You're already on the list for " + sfSmall + "."
	sfInvalidEN     = "Please enter a valid email address, like name@example.com."
	sfRateLimitedEN = "Too many attempts. Please wait a minute and try again."
)

func TestStorefront(t *testing.T) {
	browser := sfBrowser(t)

	t.Run("picker", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL(""))

		// Liquid renders the block hidden for the first available variant (nothing flashes before the
		// script runs), and the script keeps it so.
		if block := s.render(0); !sfHiddenTag.MatchString(block) {
			t.Fatalf("Liquid renders the block without the hidden attribute on the variant in stock:\n%s", block)
		}
		tab.waitHidden("on the variant in stock")
		tab.shot("picker-available-hidden")
		if !sfEval[bool](tab, `document.querySelector('restock-notify').hidden`) {
			t.Fatal("the block is not hidden on the available variant")
		}

		// A shopper clicks the sold-out size: Dawn's picker sets the form's id input and
		// publishes variant-change; the block follows.
		tab.do(chromedp.Click(chromedp.CSS(`label[for$="-Size-1"]`)))
		tab.waitShown("after a click on the sold-out size")
		tab.poll(`location.search == '?variant=1001'`)
		if got := sfEval[string](tab, `document.querySelector('restock-notify [name=variant_id]').value`); got != "1001" {
			t.Fatalf("variant_id = %q, want 1001", got)
		}
		tab.shot("picker-sold-out-shown")

		// And back to the size in stock.
		tab.do(chromedp.Click(chromedp.CSS(`label[for$="-Size-2"]`)))
		tab.waitHidden("after a click back on the size in stock")
		if n := s.hitCount(); n != 0 {
			t.Fatalf("%d requests to the app proxy while picking sizes, want none", n)
		}
	})

	t.Run("url_variant", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		// Liquid renders the form for the sold-out ?variant=; Dawn disables the id input of a
		// sold-out variant, so the script must start from what Liquid rendered.
		if block := s.render(sfSoldOut); !strings.Contains(block, "<restock-notify") || sfHiddenTag.MatchString(block) {
			t.Fatalf("Liquid renders no block, or a hidden one, for the sold-out variant:\n%s", block)
		}
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("on ?variant=1001")
		if !sfEval[bool](tab, `document.querySelector('#product-form-template--1__main [name=id]').disabled`) {
			t.Fatal("the test page should disable the id input of a sold-out variant, like Dawn")
		}
		if got := sfEval[string](tab, `document.querySelector('restock-notify [name=variant_id]').value`); got != "1001" {
			t.Fatalf("variant_id = %q, want 1001", got)
		}
		tab.shot("url-variant-shown")
	})

	t.Run("subscribe", func(t *testing.T) {
		apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
			dialect := strings.SplitN(dsn, ":", 2)[0]
			e := sfSetup(t, dsn)
			s := sfStorefront(t, e, sfOptions{})
			tab := sfOpen(t, browser)
			tab.load(s.pageURL("?variant=1001"))
			tab.waitShown("on ?variant=1001")

			// Mixed case and spaces: the app stores the address trimmed and lower-case.
			tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), " Ann@Example.com "))
			tab.do(chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
			tab.waitStatus(sfSuccessEN)
			tab.shot("subscribed-" + dialect)
			if n := e.Count(&store.Subscription{}, ""); n != 1 {
				t.Fatalf("%d subscriptions, want 1", n)
			}
			if n := e.Count(&store.Subscription{}, "variant_id = ? AND email = ? AND locale = ? AND accepts_marketing = ?",
				sfSoldOut, "ann@example.com", "en", false); n != 1 {
				t.Fatal("the subscription is not for variant 1001, ann@example.com, locale en, no marketing")
			}
			hits := s.hitsSnapshot()
			if len(hits) != 1 || hits[0].Method != http.MethodPost || hits[0].Path != "/apps/restock/subscribe" ||
				hits[0].ContentType != "application/json" || hits[0].Status != http.StatusCreated {
				t.Fatalf("requests through the app proxy: %+v", hits)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(hits[0].Body), &body); err != nil {
				t.Fatal(err)
			}
			if body["variant_id"] != "1001" || body["email"] != "Ann@Example.com" || body["website"] != "" || body["locale"] != "en" {
				t.Fatalf("signup body %s", hits[0].Body)
			}

			// The same shopper again: already on the list, still one row.
			tab.do(chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
			tab.waitStatus(sfAlreadyEN)
			tab.shot("already-subscribed-" + dialect)
			if n := e.Count(&store.Subscription{}, ""); n != 1 {
				t.Fatalf("%d subscriptions after the second submit, want 1", n)
			}
			if hits := s.hitsSnapshot(); len(hits) != 2 || hits[1].Status != http.StatusOK {
				t.Fatalf("second submit: %+v", hits)
			}
			if sfEval[bool](tab, `document.querySelector('restock-notify [role=status]').classList.contains('rr__status--err')`) {
				t.Fatal("'already subscribed' is styled as an error")
			}
		})
	})

	t.Run("invalid_email", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("on ?variant=1001")
		tab.countFetches()
		before := sfEval[string](tab, `location.href`)

		tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "ann@example"))
		tab.do(chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus(sfInvalidEN)
		tab.shot("invalid-email")
		// fetch is counted synchronously in the page; the app proxy saw nothing; no navigation.
		if n := sfEval[int](tab, `window.__sfFetches`); n != 0 {
			t.Fatalf("the page called fetch %d times for an invalid email", n)
		}
		if n := s.hitCount(); n != 0 {
			t.Fatalf("%d requests reached the app proxy for an invalid email", n)
		}
		if after := sfEval[string](tab, `location.href`); after != before {
			t.Fatalf("the page navigated to %s", after)
		}
		if !sfEval[bool](tab, `(() => {
			const el = document.querySelector('restock-notify [name=email]');
			return el.getAttribute('aria-invalid') == 'true' && document.activeElement == el &&
				document.querySelector('restock-notify [role=status]').classList.contains('rr__status--err');
		})()`) {
			t.Fatal("invalid email: want aria-invalid, focus on the field and the error style")
		}
		if n := e.Count(&store.Subscription{}, ""); n != 0 {
			t.Fatalf("%d subscriptions", n)
		}
	})

	t.Run("rate_limited", func(t *testing.T) {
		// One signup per shopper IP an hour: the second answers 429 with Retry-After.
		limits := web.SignupLimits{PerIP: web.RateLimit{Every: time.Hour, Burst: 1},
			PerEmail: web.RateLimit{Every: time.Microsecond, Burst: 100}, PerShop: web.RateLimit{Every: time.Microsecond, Burst: 100}}
		e := sfSetup(t, apptest.DatabaseURL(t, "sqlite"), apptest.Options{SignupLimits: &limits})
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("on ?variant=1001")
		email := chromedp.CSS(`restock-notify [name=email]`)
		submit := chromedp.CSS(`restock-notify .rr__submit`)

		tab.do(chromedp.SendKeys(email, "first@example.com"), chromedp.Click(submit))
		tab.waitStatus(sfSuccessEN)
		tab.retype(email, "second@example.com")
		tab.do(chromedp.Click(submit))
		tab.waitStatus(sfRateLimitedEN)
		tab.shot("rate-limited")
		hits := s.hitsSnapshot()
		if len(hits) != 2 || hits[1].Status != http.StatusTooManyRequests || hits[1].RetryAfter != "3600" {
			t.Fatalf("want 201 then 429 with Retry-After 3600; got %+v", hits)
		}
		if !sfEval[bool](tab, `document.querySelector('restock-notify [role=status]').classList.contains('rr__status--err')`) {
			t.Fatal("the rate-limit message is not styled as an error")
		}
		// Within Retry-After the page does not even ask.
		tab.countFetches()
		tab.do(chromedp.Click(submit))
		tab.waitStatus(sfRateLimitedEN)
		if n := sfEval[int](tab, `window.__sfFetches`); n != 0 || s.hitCount() != 2 {
			t.Fatalf("a submit within Retry-After sent a request (fetch %d, proxy %d)", n, s.hitCount())
		}
		if n := e.Count(&store.Subscription{}, ""); n != 1 {
			t.Fatalf("%d subscriptions, want 1", n)
		}
	})

	t.Run("german", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{Locale: "de", Picker: "select"})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL(""))
		tab.waitHidden("on the variant in stock")

		// The drop-down picker, by keyboard: type-ahead picks "Small".
		tab.do(chromedp.Focus(chromedp.CSS(`variant-picker select`)), chromedp.KeyEvent("S"))
		tab.waitShown("after picking the sold-out size in the drop-down")
		for sel, want := range map[string]string{
			`restock-notify .rr__heading`: "Ausverkauft? Wir benachrichtigen dich per E-Mail",
			`restock-notify .rr__submit`:  "Benachrichtige mich",
			`restock-notify .rr__label`:   "E-Mail-Adresse",
			`restock-notify .rr__consent`: "Ich möchte auch Neuigkeiten und Angebote per E-Mail erhalten",
		} {
			if got := strings.TrimSpace(tab.text(sel)); got != want {
				t.Errorf("%s = %q, want %q", sel, got, want)
			}
		}
		email := chromedp.CSS(`restock-notify [name=email]`)
		submit := chromedp.CSS(`restock-notify .rr__submit`)
		tab.do(chromedp.SendKeys(email, "anna@beispiel"), chromedp.Click(submit))
		tab.waitStatus("Bitte gib eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de.")
		tab.shot("german-invalid")
		tab.do(chromedp.SendKeys(email, ".de"), chromedp.Click(submit))
		tab.waitStatus("Wir schicken dir eine E-Mail, sobald " + sfSmall + " wieder da ist.")
		tab.shot("german-subscribed")
		if n := e.Count(&store.Subscription{}, "email = ? AND locale = ?", "anna@beispiel.de", "de"); n != 1 {
			t.Fatalf("%d German subscriptions for anna@beispiel.de, want 1", n)
		}
	})

	t.Run("keyboard", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("on ?variant=1001")

		// Tab from the top of the page to the email field; the honeypot is never a stop.
		var stops []string
		for !sfEval[bool](tab, `document.activeElement.matches('restock-notify [name=email]')`) {
			if len(stops) == 20 {
				t.Fatalf("Tab never reached the email field: %v", stops)
			}
			tab.do(chromedp.KeyEvent("\t"))
			stops = append(stops, tab.focused())
		}
		tab.do(chromedp.KeyEvent("kim@example.com"))
		// On to the consent box, tick it with Space, back to the field, and Enter submits.
		for range 2 {
			tab.do(chromedp.KeyEvent("\t"))
			stops = append(stops, tab.focused())
		}
		if !sfEval[bool](tab, `document.activeElement.matches('restock-notify [name=accepts_marketing]')`) {
			t.Fatalf("after the email field and the button, focus is on %s, want the consent box", tab.focused())
		}
		tab.do(chromedp.KeyEvent(" "))
		shiftTab := chromedp.KeyEvent("\t", chromedp.KeyModifiers(chromedp.ModifierShift))
		tab.do(shiftTab, shiftTab)
		if !sfEval[bool](tab, `document.activeElement.matches('restock-notify [name=email]')`) {
			t.Fatalf("Shift+Tab twice from the consent box lands on %s", tab.focused())
		}
		for _, stop := range stops {
			if strings.Contains(stop, "website") {
				t.Fatalf("the honeypot took focus: %v", stops)
			}
		}
		tab.do(chromedp.KeyEvent("\r"))

		// The result is announced: the polite live region, which the field points at, says it.
		tab.waitStatus(sfSuccessEN)
		tab.shot("keyboard-subscribed")
		if !sfEval[bool](tab, `(() => {
			const st = document.querySelector('restock-notify [role=status]');
			const email = document.querySelector('restock-notify [name=email]');
			return st.getAttribute('aria-live') == 'polite' && email.getAttribute('aria-describedby') == st.id &&
				document.activeElement == email;
		})()`) {
			t.Fatal("the status is not a polite live region described by the field, or focus left the field")
		}
		if n := e.Count(&store.Subscription{}, "email = ? AND accepts_marketing = ?", "kim@example.com", true); n != 1 {
			t.Fatalf("%d subscriptions for kim@example.com with marketing consent, want 1", n)
		}
		// Tab on: focus leaves the block after the consent box, never stopping at the honeypot.
		for !sfEval[bool](tab, `!document.querySelector('restock-notify').contains(document.activeElement)`) {
			if len(stops) == 30 {
				t.Fatalf("Tab never left the block: %v", stops)
			}
			tab.do(chromedp.KeyEvent("\t"))
			stops = append(stops, tab.focused())
			if sfEval[bool](tab, `document.activeElement.matches('restock-notify [name=website]')`) {
				t.Fatalf("Tab stopped at the honeypot: %v", stops)
			}
		}
		t.Logf("tab stops: %v", stops)
	})

	t.Run("honeypot", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("on ?variant=1001")
		honeypot := `restock-notify [name=website]`

		// People cannot see it, reach it or have it autofilled: out of the tab order, autocomplete
		// off, inside a clipped 1×1 px box that assistive technology skips.
		got := sfEval[map[string]any](tab, `(() => {
			const hp = document.querySelector('`+honeypot+`');
			const box = hp.closest('[aria-hidden="true"]');
			const r = box ? box.getBoundingClientRect() : hp.getBoundingClientRect();
			return {value: hp.value, tabIndex: hp.tabIndex, autocomplete: hp.autocomplete, ariaHidden: !!box,
				clipped: !!box && getComputedStyle(box).overflow == 'hidden' && r.width <= 1 && r.height <= 1};
		})()`)
		want := map[string]any{"value": "", "tabIndex": float64(-1), "autocomplete": "off", "ariaHidden": true, "clipped": true}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("honeypot %v, want %v", got, want)
		}

		// A person's signup sends it empty and is stored.
		tab.do(chromedp.Click(chromedp.CSS(`restock-notify [name=email]`)), chromedp.KeyEvent("lea@example.com\r"))
		tab.waitStatus(sfSuccessEN)
		tab.shot("honeypot-person")
		if v := sfEval[string](tab, `document.querySelector('`+honeypot+`').value`); v != "" {
			t.Fatalf("honeypot = %q after a person's signup", v)
		}
		hits := s.hitsSnapshot()
		if len(hits) != 1 || !strings.Contains(hits[0].Body, `"website":""`) {
			t.Fatalf("signup bodies: %+v", hits)
		}
		if n := e.Count(&store.Subscription{}, "email = ?", "lea@example.com"); n != 1 {
			t.Fatalf("%d subscriptions for lea@example.com, want 1", n)
		}

		// A bot that fills every field is told "subscribed", and nothing is stored.
		tab.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('` + honeypot + `').value = 'https://spam.example'`))
		tab.retype(chromedp.CSS(`restock-notify [name=email]`), "bot@example.com")
		tab.do(chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus(sfSuccessEN)
		if hits := s.hitsSnapshot(); len(hits) != 2 || hits[1].Status != http.StatusCreated {
			t.Fatalf("bot signup: %+v", hits)
		}
		if n := e.Count(&store.Subscription{}, ""); n != 1 {
			t.Fatalf("%d subscriptions after the bot, want 1", n)
		}
	})

	t.Run("no_javascript", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		if _, err := chromedp.Call(tab.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		// The server-rendered form shows for the sold-out variant and posts URL-encoded; the app
		// answers with Liquid, which the app proxy renders in the theme.
		tab.do(chromedp.Navigate(s.pageURL("?variant=1001")), chromedp.WaitVisible(chromedp.CSS(`restock-notify .rr__email`)))
		if sfEval[bool](tab, `!!customElements.get('restock-notify')`) {
			t.Fatal("the page ran scripts")
		}
		tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "noah@example.com"),
			chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)),
			chromedp.WaitNotPresent(chromedp.CSS(`restock-notify`)),
			chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		tab.shot("no-javascript-subscribed")
		if got := tab.text(`main h1`); got != "You're on the list" {
			t.Fatalf("after a plain form post the page says %q", got)
		}
		hits := s.hitsSnapshot()
		if len(hits) != 1 || hits[0].ContentType != "application/x-www-form-urlencoded" || hits[0].Status != http.StatusOK {
			t.Fatalf("plain form post: %+v", hits)
		}
		form, _ := url.ParseQuery(hits[0].Body)
		if form.Get("email") != "noah@example.com" || form.Get("variant_id") != "1001" || form.Get("locale") != "en" ||
			!form.Has("website") || form.Get("website") != "" {
			t.Fatalf("plain form post body %s", hits[0].Body)
		}
		if n := e.Count(&store.Subscription{}, "email = ? AND variant_id = ?", "noah@example.com", sfSoldOut); n != 1 {
			t.Fatalf("%d subscriptions for noah@example.com, want 1", n)
		}
		if href := tab.attr(`main a`, "href"); href != "/products/"+sfHandle+"?variant=1001" {
			t.Fatalf("the way back is %q", href)
		}
	})

	t.Run("logged_in_customer", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{CustomerID: "7001", CustomerEmail: "max@example.com"})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("on ?variant=1001")
		// The address is filled in; GET …/status asks whether this customer already waits.
		if got := sfEval[string](tab, `document.querySelector('restock-notify [name=email]').value`); got != "max@example.com" {
			t.Fatalf("email = %q, want the customer's", got)
		}
		tab.poll(`window.performance.getEntriesByType('resource').some((r) => r.name.includes('/apps/restock/status'))`)
		tab.do(chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus(sfSuccessEN)
		if n := e.Count(&store.Subscription{}, "customer_id = ?", 7001); n != 1 {
			t.Fatalf("%d subscriptions of customer 7001, want 1", n)
		}
		// On the next visit the block says so before any submit.
		tab.load(s.pageURL("?variant=1001"))
		tab.waitStatus(sfAlreadyEN)
		tab.shot("customer-already-waiting")
		var status []sfHit
		for _, h := range s.hitsSnapshot() {
			if h.Path == "/apps/restock/status" {
				status = append(status, h)
			}
		}
		if len(status) != 2 || status[0].Body != `{"waiting":false}` || status[1].Body != `{"waiting":true}` {
			t.Fatalf("status requests: %+v", status)
		}
	})
}

// --- the browser

// sfBrowser starts one headless Chromium for the test; each case opens a tab in it.
func sfBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(sfChromium); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_BROWSER") != "" {
			t.Fatalf("Chromium is required (CI or REQUIRE_BROWSER is set): %v", err)
		}
		t.Skipf("no Chromium at %s: %v", sfChromium, err)
	}
	if err := os.MkdirAll(sfShots, 0o755); err != nil {
		t.Fatal(err)
	}
	profile, err := os.MkdirTemp("", "restock-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(sfChromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		// Tests are offline: App Bridge's CDN (the admin page) fails at once instead of waiting on DNS.
		chromedp.Flag("host-resolver-rules", "MAP cdn.shopify.com 127.0.0.1:9"),
		chromedp.UserDataDir(profile),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// sfTab is one browser tab; its actions fail the test after 20 s.
type sfTab struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	js  []string // uncaught exceptions of the page
}

func sfOpen(t *testing.T, browser context.Context) *sfTab {
	t.Helper()
	tab := &sfTab{t: t}
	tabCtx, closeTab := chromedp.NewContext(browser, chromedp.WithListener(func(ev any) {
		if ex, ok := ev.(*runtime.EventExceptionThrown); ok {
			d := ex.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			tab.mu.Lock()
			tab.js = append(tab.js, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
			tab.mu.Unlock()
		}
	}))
	t.Cleanup(closeTab)
	if err := chromedp.Do(tabCtx, chromedp.EmulateViewport(1000, 900)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, 20*time.Second)
	t.Cleanup(cancel)
	tab.ctx = ctx
	t.Cleanup(func() { // runs first: the tab is still open
		tab.mu.Lock()
		defer tab.mu.Unlock()
		for _, m := range tab.js {
			t.Errorf("uncaught JavaScript exception: %s", m)
		}
	})
	return tab
}

func (tab *sfTab) do(actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	if err := chromedp.Do(tab.ctx, actions...); err != nil {
		tab.t.Fatalf("browser: %v", err)
	}
}

// sfEval evaluates a JavaScript expression in the tab.
func sfEval[T any](tab *sfTab, expr string) T {
	tab.t.Helper()
	v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tab.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// load navigates and waits until the page's deferred scripts ran and the element is defined.
func (tab *sfTab) load(u string) {
	tab.t.Helper()
	tab.do(chromedp.Navigate(u))
	tab.poll(`document.readyState == 'complete' && !!customElements.get('restock-notify') && !!customElements.get('variant-picker')`)
}

// poll waits until a JavaScript expression is true.
func (tab *sfTab) poll(expr string) {
	tab.t.Helper()
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond),
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		tab.t.Fatalf("waiting for %s: %v", expr, err)
	}
}

// waitShown waits until the form is visible: rendered, and hidden neither by the script nor by
// the CSS.
func (tab *sfTab) waitShown(when string) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`restock-notify .rr__email`))); err != nil {
		tab.t.Fatalf("the Notify me form is not visible %s (%v; hidden attribute: %v)", when, err,
			sfEval[bool](tab, `document.querySelector('restock-notify').hidden`))
	}
	if sfEval[bool](tab, `document.querySelector('restock-notify').hidden`) {
		tab.t.Fatalf("the form is visible %s, but the element has the hidden attribute", when)
	}
}

// waitHidden waits until the block is not displayed and takes no room on the page.
func (tab *sfTab) waitHidden(when string) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`(() => {
		const el = document.querySelector('restock-notify');
		return el.hidden && el.getClientRects().length == 0;
	})()`, chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		tab.t.Fatalf("the Notify me block is displayed %s (%v; hidden attribute: %v)", when, err,
			sfEval[bool](tab, `document.querySelector('restock-notify').hidden`))
	}
	tab.do(chromedp.WaitNotVisible(chromedp.CSS(`restock-notify`)))
}

// waitStatus waits until the live region says want (the script clears it, then fills it).
func (tab *sfTab) waitStatus(want string) {
	tab.t.Helper()
	_, err := chromedp.Run(tab.ctx, chromedp.PollFunction[chromedp.Void](
		`(want) => document.querySelector('restock-notify [role=status]').textContent === want`,
		chromedp.WithPollingArgs(want), chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		tab.t.Fatalf("waiting for the status %q: %v (it says %q)", want, err, tab.text(`restock-notify [role=status]`))
	}
}

func (tab *sfTab) text(sel string) string {
	tab.t.Helper()
	b, _ := json.Marshal(sel)
	return sfEval[string](tab, `(document.querySelector(`+string(b)+`) || {}).textContent || ''`)
}

func (tab *sfTab) attr(sel, name string) string {
	tab.t.Helper()
	res, err := chromedp.Run(tab.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		tab.t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return res.Value
}

// focused describes the focused element.
func (tab *sfTab) focused() string {
	return sfEval[string](tab, `(() => { const a = document.activeElement;
		return a.tagName.toLowerCase() + (a.name ? '[name=' + a.name + ']' : '') + (a.id ? '#' + a.id : ''); })()`)
}

// countFetches counts the page's fetch calls from now on in window.__sfFetches.
func (tab *sfTab) countFetches() {
	tab.do(chromedp.Evaluate[chromedp.Void](`(() => {
		window.__sfFetches = 0;
		if (window.__sfFetch) return;
		const f = (window.__sfFetch = window.fetch);
		window.fetch = (...a) => (window.__sfFetches++, f.apply(window, a));
	})()`))
}

// retype replaces the text of a field as a person does: click, select all, type.
func (tab *sfTab) retype(sel chromedp.CSS, text string) {
	tab.t.Helper()
	tab.do(chromedp.Click(sel), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent(text))
	b, _ := json.Marshal(string(sel))
	if got := sfEval[string](tab, `document.querySelector(`+string(b)+`).value`); got != text {
		tab.t.Fatalf("%s = %q after retyping, want %q", sel, got, text)
	}
}

// shot writes a PNG of the whole page to test-artifacts/storefront/<name>.png.
func (tab *sfTab) shot(name string) {
	tab.t.Helper()
	png, err := chromedp.Run(tab.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tab.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(sfShots, name+".png"), png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
}

// --- the app

func sfEnv(t *testing.T, dialect string) *apptest.Env {
	t.Helper()
	return sfSetup(t, apptest.DatabaseURL(t, dialect))
}

// sfSetup starts the app with the product's two variants in the fake Shopify: 1001 sold out
// (tracked, deny), 1002 in stock.
func sfSetup(t *testing.T, dsn string, opts ...apptest.Options) *apptest.Env {
	t.Helper()
	e := apptest.New(t, dsn, opts...)
	e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(sfSoldOut))
	medium := apptest.Variant(sfInStock)
	medium.Title, medium.SKU = "Medium", "SKU-M"
	e.Shopify.PutVariant(apptest.ShopDomain, medium)
	e.Shopify.SetAvailable(apptest.ShopDomain, sfInStock, 1, 5)
	return e
}

// --- the storefront

type sfOptions struct {
	Locale        string // default "en"
	Picker        string // "radios" (default) or "select"
	CustomerID    string // a logged-in customer; "" logged out
	CustomerEmail string

	// Hostile-review knobs.
	Settings      map[string]any // block setting overrides
	ProductTitle  string         // default sfProduct
	Variants      []sfV          // default Small (sold out) and Medium
	NoProduct     bool           // render the block without a product object
	Embed         bool           // render the app embed before </body>
	EmbedSettings map[string]any
	ExtraBlocks   []string
	NoBlock       bool // ids of further copies of the app block in the section
}

type sfV struct {
	ID        int64
	Title     string
	Available bool
}

// sfHit is one request that reached the app proxy, as forwarded, with the app's answer.
type sfHit struct {
	Method, Path, ContentType, Body string
	Status                          int
	RetryAfter                      string
}

// sfShop is the test storefront: the product page, the extension's assets, the theme's scripts,
// and the app proxy at /apps/restock/*.
type sfShop struct {
	t     *testing.T
	env   *apptest.Env
	opts  sfOptions
	theme *sfLiquid
	block sfBlock
	srv   *httptest.Server
	mu    sync.Mutex
	hits  []sfHit
}

func sfStorefront(t *testing.T, e *apptest.Env, o sfOptions) *sfShop {
	t.Helper()
	if o.Locale == "" {
		o.Locale = "en"
	}
	s := &sfShop{t: t, env: e, opts: o, theme: sfNewLiquid(t, o.Locale), block: sfReadBlock(t, "notify-me.liquid")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/"+sfHandle, s.page)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServer(http.Dir(filepath.Join(sfExtension, "assets")))))
	mux.Handle("GET /theme/", http.StripPrefix("/theme/", http.FileServer(http.Dir(sfTestdata))))
	mux.HandleFunc("/apps/restock/", s.appProxy)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sfShop) pageURL(query string) string { return s.srv.URL + "/products/" + sfHandle + query }

// product is the product object of the page, selected_or_first_available_variant as Shopify
// resolves it: the ?variant= of the URL, else the first variant in stock.
func (s *sfShop) product(selected int64) map[string]any {
	variant := func(id int64, title string, available bool) map[string]any {
		return map[string]any{"id": id, "title": title, "options": []string{title}, "available": available,
			"inventory_management": "shopify", "inventory_policy": "deny"}
	}
	variants := []map[string]any{variant(sfSoldOut, "Small", false), variant(sfInStock, "Medium", true)}
	current := variants[1]
	if s.opts.Variants != nil {
		variants = nil
		for _, v := range s.opts.Variants {
			variants = append(variants, variant(v.ID, v.Title, v.Available))
		}
		current = variants[0]
		for _, v := range variants {
			if v["available"] == true {
				current = v
				break
			}
		}
	}
	for _, v := range variants {
		if v["id"] == selected {
			current = v
		}
	}
	title := sfProduct
	if s.opts.ProductTitle != "" {
		title = s.opts.ProductTitle
	}
	return map[string]any{"title": title, "handle": sfHandle, "variants": variants, "selected_or_first_available_variant": current}
}

func (s *sfShop) globals() map[string]any {
	var customer any
	if s.opts.CustomerID != "" {
		customer = map[string]any{"id": s.opts.CustomerID, "email": s.opts.CustomerEmail}
	}
	return map[string]any{
		"request":  map[string]any{"design_mode": false, "page_type": "product", "locale": map[string]any{"iso_code": s.opts.Locale}},
		"customer": customer,
	}
}

// render renders the app block for the selected variant, as the section's {% render block %}.
func (s *sfShop) render(selected int64) string {
	s.t.Helper()
	return s.renderBlock(selected, "AbC123", "notify-me.liquid", s.opts.Settings)
}

func (s *sfShop) renderBlock(selected int64, id, file string, over map[string]any) string {
	s.t.Helper()
	b := s.globals()
	if !s.opts.NoProduct {
		b["product"] = s.product(selected)
	}
	settings := map[string]any{}
	for k, v := range sfReadBlock(s.t, file).settings {
		settings[k] = v
	}
	for k, v := range over {
		settings[k] = v
	}
	b["block"] = map[string]any{"id": id, "type": "notify_me", "settings": settings}
	out, err := s.theme.render(filepath.Join(sfExtension, "blocks", file), b)
	if err != nil {
		s.t.Errorf("render the block: %v", err)
	}
	return out
}

func (s *sfShop) page(w http.ResponseWriter, r *http.Request) {
	var selected int64
	fmt.Sscan(r.URL.Query().Get("variant"), &selected)
	b := s.globals()
	b["product"] = s.product(selected)
	b["block"] = map[string]any{"id": "AbC123"}
	b["app_block"] = s.render(selected)
	if s.opts.NoBlock {
		b["app_block"] = ""
	}
	for _, id := range s.opts.ExtraBlocks {
		b["app_block"] = b["app_block"].(string) + s.renderBlock(selected, id, "notify-me.liquid", s.opts.Settings)
	}
	if s.opts.Embed {
		b["app_embed"] = s.renderBlock(selected, "EmB456", "notify-embed.liquid", s.opts.EmbedSettings)
	}
	b["picker"] = s.opts.Picker
	b["block_javascript"], b["block_stylesheet"] = s.block.javascript, s.block.stylesheet
	out, err := s.theme.render(filepath.Join(sfTestdata, "product.liquid"), b)
	if err != nil {
		s.t.Errorf("render the page: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, out)
}

// appProxy does what Shopify's app proxy does for /apps/restock/*: it forwards the request to the
// app's /proxy/* with the shopper's query plus shop, logged_in_customer_id, path_prefix, timestamp
// and signature, the method, body and content type, and the shopper's IP in X-Forwarded-For.
func (s *sfShop) appProxy(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	target := s.env.ProxyURL("/proxy/"+strings.TrimPrefix(r.URL.Path, "/apps/restock/"), s.opts.CustomerID, r.URL.Query())
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for _, h := range []string{"Content-Type", "Accept", "Accept-Language", "User-Agent", "Referer"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Errorf("app proxy: %v", err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	s.mu.Lock()
	s.hits = append(s.hits, sfHit{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: string(body),
		Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")})
	if r.Method == http.MethodGet {
		s.hits[len(s.hits)-1].Body = strings.TrimSpace(string(answer))
	}
	s.mu.Unlock()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/liquid") {
		// Shopify renders a Liquid answer inside the theme's layout.
		b := s.globals()
		content, err := s.theme.eng.ParseAndRenderString(string(answer), b)
		if err != nil {
			s.t.Errorf("app proxy: the app's Liquid: %v", err)
		}
		b["content_for_layout"] = content
		page, lerr := s.theme.render(filepath.Join(sfTestdata, "layout.liquid"), b)
		if lerr != nil {
			s.t.Errorf("app proxy: layout: %v", lerr)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(resp.StatusCode)
		io.WriteString(w, page)
		return
	}
	for _, h := range []string{"Content-Type", "Retry-After", "Cache-Control"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

func (s *sfShop) hitsSnapshot() []sfHit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sfHit(nil), s.hits...)
}

func (s *sfShop) hitCount() int { return len(s.hitsSnapshot()) }

// --- Liquid

// sfBlock is what a block's {% schema %} tells the theme: setting defaults (a setting without a
// default is nil, as on Shopify) and the assets to load.
type sfBlock struct {
	settings               map[string]any
	javascript, stylesheet string
}

func sfReadBlock(t *testing.T, name string) sfBlock {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(sfExtension, "blocks", name))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\{%-?\s*schema\s*-?%\}(.*?)\{%-?\s*endschema\s*-?%\}`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s has no schema", name)
	}
	var schema struct {
		JavaScript string `json:"javascript"`
		Stylesheet string `json:"stylesheet"`
		Settings   []struct {
			ID      string `json:"id"`
			Default any    `json:"default"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(m[1], &schema); err != nil {
		t.Fatalf("%s schema: %v", name, err)
	}
	b := sfBlock{settings: map[string]any{}, javascript: schema.JavaScript, stylesheet: schema.Stylesheet}
	for _, s := range schema.Settings {
		if s.ID != "" && s.Default != nil {
			b.settings[s.ID] = s.Default
		}
	}
	return b
}

// sfLiquid renders theme Liquid with osteele/liquid plus what Shopify adds and the extension uses:
//   - {% schema %}, {% javascript %}, {% stylesheet %} and {% doc %} render nothing;
//   - {% render 'snippet', key: value %} renders snippets/<name>.liquid in a scope of its own
//     (the global objects plus the arguments);
//   - the filters t (locales/<locale>.json, then en.default.json; {{ var }} interpolation; the
//     result HTML-escaped unless the key ends in _html), asset_url, json and escape.
//
// osteele/liquid has no {% liquid %} tag and no named filter arguments (`t: item: x`), so sfExpand
// rewrites the source first: each line of a {% liquid %} tag becomes a tag of its own, and a named
// argument becomes a marked pair of positional ones (`t: 'kw:item', x`).
type sfLiquid struct {
	eng    *liquid.Engine
	locale string
	loc    map[string]any // <locale>.json
	def    map[string]any // en.default.json
}

// sfGlobalObjects are the objects a {% render %}ed snippet sees without arguments.
var sfGlobalObjects = []string{"request", "customer", "shop", "settings", "localization"}

func sfNewLiquid(t *testing.T, locale string) *sfLiquid {
	t.Helper()
	l := &sfLiquid{eng: liquid.NewEngine(), locale: locale, def: sfLocale(t, "en.default.json"), loc: map[string]any{}}
	if locale != "en" {
		l.loc = sfLocale(t, locale+".json")
	}
	for _, name := range []string{"schema", "javascript", "stylesheet", "doc"} {
		l.eng.RegisterBlock(name, func(render.Context) (string, error) { return "", nil })
	}
	l.eng.RegisterTag("render", l.renderTag)
	l.eng.RegisterFilter("t", l.translate)
	l.eng.RegisterFilter("asset_url", func(name string) string { return "/assets/" + url.PathEscape(name) })
	l.eng.RegisterFilter("json", func(v any) (string, error) {
		b, err := json.Marshal(v) // escapes <, > and & as \u003c…, as Shopify's json does
		return string(b), err
	})
	l.eng.RegisterFilter("escape", func(v any) string {
		if v == nil {
			return ""
		}
		return html.EscapeString(fmt.Sprint(v))
	})
	return l
}

func sfLocale(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sfExtension, "locales", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("locales/%s: %v", name, err)
	}
	return m
}

func (l *sfLiquid) render(path string, bindings map[string]any) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	out, serr := l.eng.ParseAndRenderString(sfExpand(string(src)), bindings)
	if serr != nil {
		return "", fmt.Errorf("%s: %w", path, serr)
	}
	return out, nil
}

// renderTag is Shopify's {% render 'name', key: value, … %} (arguments rewritten by sfExpand).
func (l *sfLiquid) renderTag(ctx render.Context) (string, error) {
	args := sfSplitArgs(ctx.TagArgs())
	if len(args) == 0 || len(args)%2 != 1 {
		return "", fmt.Errorf("render: bad arguments %q", ctx.TagArgs())
	}
	name, ok := sfUnquote(args[0])
	if !ok {
		return "", fmt.Errorf("render: the snippet name must be a string, not %s", args[0])
	}
	scope := map[string]any{}
	for _, g := range sfGlobalObjects {
		scope[g] = ctx.Get(g)
	}
	for i := 1; i < len(args); i += 2 {
		key, ok := sfUnquote(args[i])
		if !ok || !strings.HasPrefix(key, "kw:") {
			return "", fmt.Errorf("render: expected key: value, got %s", args[i])
		}
		v, err := ctx.EvaluateString(args[i+1])
		if err != nil {
			return "", err
		}
		scope[strings.TrimPrefix(key, "kw:")] = v
	}
	return l.render(filepath.Join(sfExtension, "snippets", name+".liquid"), scope)
}

// translate is Shopify's t filter: 'key' | t, 'key' | t: name: value, ….
func (l *sfLiquid) translate(key string, args ...any) (string, error) {
	vars := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		k, ok := args[i].(string)
		if !ok || !strings.HasPrefix(k, "kw:") {
			return "", fmt.Errorf("t: %q: expected name: value arguments", key)
		}
		vars[strings.TrimPrefix(k, "kw:")] = fmt.Sprint(args[i+1])
	}
	s, ok := sfLookup(l.loc, key)
	if !ok {
		if s, ok = sfLookup(l.def, key); !ok {
			return "translation missing: " + l.locale + "." + key, nil
		}
	}
	s = sfInterpolation.ReplaceAllStringFunc(s, func(m string) string {
		return vars[strings.Trim(m, "{} ")]
	})
	if strings.HasSuffix(key, "_html") {
		return s, nil
	}
	return html.EscapeString(s), nil
}

func sfLookup(m map[string]any, key string) (string, bool) {
	var v any = m
	for _, part := range strings.Split(key, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v = mm[part]
	}
	s, ok := v.(string)
	return s, ok
}

// sfHiddenTag matches a <restock-notify> start tag with the hidden attribute.
var sfHiddenTag = regexp.MustCompile(`<restock-notify[^>]*\shidden[\s>]`)

var (
	sfLiquidTag = regexp.MustCompile(`(?s)\{%(-?)\s*liquid\s(.*?)(-?)%\}`)
	sfToken     = regexp.MustCompile(`(?s)\{\{.*?\}\}|\{%.*?%\}`)
	sfNamedArg  = regexp.MustCompile(`^(\s*)([A-Za-z_][\w-]*):(\s|$)`)

	sfInterpolation = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
)

// sfExpand rewrites Shopify Liquid that osteele/liquid does not parse into Liquid it does.
func sfExpand(src string) string {
	src = sfLiquidTag.ReplaceAllStringFunc(src, func(tag string) string {
		m := sfLiquidTag.FindStringSubmatch(tag)
		var b strings.Builder
		// An empty comment carries the whitespace control of the {% liquid %} tag.
		b.WriteString("{%" + m[1] + " comment %}{% endcomment %}")
		inComment := false
		for _, line := range strings.Split(m[2], "\n") {
			line = strings.TrimSpace(line)
			switch {
			case line == "":
			case inComment:
				if line == "endcomment" {
					b.WriteString("{% endcomment %}")
					inComment = false
				} else {
					b.WriteString(line + "\n")
				}
			case line == "comment":
				b.WriteString("{% comment %}")
				inComment = true
			case strings.HasPrefix(line, "echo "):
				b.WriteString("{{ " + strings.TrimPrefix(line, "echo ") + " }}")
			default:
				b.WriteString("{% " + line + " %}")
			}
		}
		b.WriteString("{% comment %}{% endcomment " + m[3] + "%}")
		return b.String()
	})
	return sfToken.ReplaceAllStringFunc(src, sfNamedArgs)
}

// sfNamedArgs rewrites each name: after a ':' or ',' (outside quotes) to 'kw:name', .
func sfNamedArgs(tok string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		b.WriteByte(c)
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ':' || c == ',':
			if m := sfNamedArg.FindStringSubmatch(tok[i+1:]); m != nil {
				b.WriteString(m[1] + "'kw:" + m[2] + "'," + m[3])
				i += len(m[0])
			}
		}
	}
	return b.String()
}

// sfSplitArgs splits tag arguments at the commas outside quotes.
func sfSplitArgs(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ',':
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" || len(out) > 0 {
		out = append(out, rest)
	}
	return out
}

func sfUnquote(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], true
	}
	return "", false
}
