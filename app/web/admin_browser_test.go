package web_test

// Real-browser tests of the embedded admin page (/app, app/web/assets) against the real server on
// both databases: headless Chromium loads the page as the Shopify admin would (id_token in the
// query), with App Bridge's CDN unreachable and a small window.shopify.idToken() shim in its place
// that hands out session tokens signed here — the first one expired, as after a laptop wakes up.
// Screenshots at desktop and phone width go to test-artifacts/admin/ (git-ignored).

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

const adminShots = "../../test-artifacts/admin"

func TestAdminPage(t *testing.T) {
	browser := sfBrowser(t)
	if err := os.MkdirAll(adminShots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			e := apptest.New(t, apptest.DatabaseURL(t, dialect))
			e.SendGrid.KeepBodies = true
			v := catalogVariant(t, e, 7)
			seedSubscribers(t, e, e.Shop.ID, 7, v.ProductID, 10000)
			// A finished restock of another product, for the Results tab.
			mug := apptest.Variant(9)
			mug.ProductID, mug.ProductTitle, mug.Handle, mug.Title, mug.InventoryItemID = 556, "Enamel Mug", "enamel-mug", "Default Title", 5009
			catalogPut(t, e, mug)
			e.Subscribe("second-9@example.com", 9)
			e.Shopify.SetAvailable(apptest.ShopDomain, 9, 1, 4)
			e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(5009, 1, apptest.Int(4), e.Clock.Now()))
			e.Drain()
			a := openAdmin(t, e, sfOpen(t, browser), 1280, 900)
			shots := dialect == "sqlite"

			// The first token was expired: the page got a 401, a fresh token, and carried on.
			if got := sfEval[string](a.tab, `JSON.stringify(window.__statuses)`); !strings.Contains(got, "401") {
				t.Fatalf("the expired token was not refused and retried: statuses %s", got)
			}
			if !sfEval[bool](a.tab, `document.querySelector('#load-error').hidden`) {
				t.Fatalf("load error shown: %s", a.tab.text("#load-error"))
			}
			if got := a.tab.text("#onboarding-count"); got != "1 of 3 done" {
				t.Errorf("checklist says %q, want 1 of 3 done (the block is in use: a shopper signed up)", got)
			}
			if shots {
				a.shot("desktop-emails")
			}

			// Change the reminder's delay and subject; the preview follows the typing.
			a.set("#step2_delay_hours", "6")
			if !sfEval[bool](a.tab, `document.querySelector('#wave_interval_minutes').disabled`) {
				t.Error("the wave interval is editable while waves are off")
			}
			a.set("#wave_size", "3")
			a.set("#wave_interval_minutes", "30")
			a.choose("#copy-step", "2")
			a.set("#copy-subject", "Last units of {{ product.title }}")
			a.waitText("#preview-subject", "Last units of "+v.ProductTitle)
			if got := a.tab.text("#preview-meta"); !strings.Contains(got, v.ProductTitle) {
				t.Errorf("the preview does not use the shop's product: %q", got)
			}
			a.click("#save")
			a.waitText("#save-state", "All changes saved")
			a.waitText("#toast", "Settings saved")
			s, _ := store.SettingsFor(t.Context(), e.Store.DB, e.Shop.ID)
			var c2 store.Copy
			e.Store.DB.Where("shop_id = ? AND step = 2 AND locale = ''", e.Shop.ID).Take(&c2)
			if s.Step2DelaySeconds != 6*3600 || c2.Subject != "Last units of {{ product.title }}" || s.WaveSize != 3 || s.WaveIntervalSeconds != 1800 {
				t.Fatalf("saved %d s, %q, waves %d/%d s", s.Step2DelaySeconds, c2.Subject, s.WaveSize, s.WaveIntervalSeconds)
			}

			// Reload: both kept.
			a.load()
			if got := a.value("#step2_delay_hours"); got != "6" {
				t.Fatalf("delay after reload = %q", got)
			}
			a.choose("#copy-step", "2")
			if got := a.value("#copy-subject"); got != "Last units of {{ product.title }}" {
				t.Fatalf("subject after reload = %q", got)
			}

			// A typo in a variable: an inline error while typing and on save, and nothing saved.
			a.choose("#copy-step", "1")
			var c1 store.Copy
			e.Store.DB.Where("shop_id = ? AND step = 1 AND locale = ''", e.Shop.ID).Take(&c1)
			a.set("#copy-subject", "Back: {{ product.titel }}")
			a.waitContains(`[data-error-for="copy.subject"]`, "unknown variable {{ product.titel }}")
			a.click("#save")
			a.waitContains("#settings-errors", "Nothing was saved")
			if got := a.tab.text(`[data-error-for="copy.subject"]`); !strings.Contains(got, "unknown variable") {
				t.Fatalf("no inline error after save: %q", got)
			}
			if sfEval[string](a.tab, `document.querySelector('#copy-subject').getAttribute('aria-invalid')`) != "true" {
				t.Error("the field with the error is not marked aria-invalid")
			}
			var after store.Copy
			e.Store.DB.Where("shop_id = ? AND step = 1 AND locale = ''", e.Shop.ID).Take(&after)
			if after.Subject != c1.Subject || strings.Contains(after.Subject, "titel") {
				t.Fatalf("a bad save changed the subject: %q", after.Subject)
			}
			if shots {
				a.shot("desktop-inline-error")
			}

			// Markup typed by the merchant is text in the preview and in the sent email.
			a.set("#copy-subject", "Back: {{ product.title }}")
			a.set("#copy-heading", "<script>alert(1)</script> Fresh stock")
			a.waitSrcdoc("&lt;script&gt;alert(1)&lt;/script&gt; Fresh stock")
			if strings.Contains(a.srcdoc(), "<script>alert(1)") {
				t.Fatal("the preview HTML carries the merchant's script")
			}
			if got := a.tab.attr("#preview-frame", "sandbox"); got != "" {
				t.Fatalf("the preview frame's sandbox is %q, want the strictest (empty)", got)
			}

			// A test email reaches SendGrid with the edited subject.
			a.set("#test-to", "merchant@example.com")
			a.click("#test-send")
			a.waitText("#toast", "Test sent to merchant@example.com")
			var sent bool
			for _, d := range e.SendGrid.Recipients() {
				if d.To == "merchant@example.com" {
					sent = true
					if d.Subject != "[Test] Back: "+v.ProductTitle || strings.Contains(d.HTML, "<script>alert(1)") ||
						!strings.Contains(d.HTML, "&lt;script&gt;alert(1)&lt;/script&gt; Fresh stock") {
						t.Fatalf("test email: %q\n%s", d.Subject, d.HTML)
					}
				}
			}
			if !sent {
				t.Fatal("no test email reached SendGrid")
			}
			a.waitText("#onboarding-count", "2 of 3 done")

			// Subscribers (10,000 seeded, two of the mug, one of the shirt): one found by search, pages, delete.
			a.click("#tab-subscribers")
			a.waitText("#sub-count", "10,003 subscribers")
			first := a.tab.text("#sub-table tbody tr:first-child td")
			a.click("#sub-next")
			a.poll(`document.querySelector('#sub-table tbody tr:first-child td').textContent != ` + jsString(first))
			a.click("#sub-prev")
			a.waitText("#sub-table tbody tr:first-child td", first)
			a.set("#sub-search", "shopper-04321")
			a.waitText("#sub-count", "1 subscriber")
			if n := sfEval[int](a.tab, `document.querySelectorAll('#sub-table tbody tr').length`); n != 1 || a.tab.text("#sub-table tbody td") != "shopper-04321@example.com" {
				t.Fatalf("search shows %d rows: %q", n, a.tab.text("#sub-table tbody"))
			}
			if shots {
				a.shot("desktop-subscribers-search")
			}
			a.tab.do(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))
			a.click("#sub-table tbody button")
			a.waitText("#sub-count", "0 subscribers")
			if n := e.Count(&store.Subscription{}, "email = ?", "shopper-04321@example.com"); n != 0 {
				t.Fatal("delete did not remove the row")
			}

			// Results: the mug's restock reached two shoppers.
			a.click("#tab-results")
			a.poll(`document.querySelectorAll('#results-table tbody tr').length == 1`)
			if got := a.tab.text("#results-table tbody"); !strings.Contains(got, "Enamel Mug") || a.tab.text(`#results-table td[data-label="Emailed"]`) != "2" {
				t.Fatalf("results row: %q", got)
			}
			if got := a.tab.text("#tot-recipients"); got != "2" {
				t.Fatalf("total emailed %q", got)
			}
			if shots {
				a.shot("desktop-results")
			}

			// Demand.
			a.click("#tab-demand")
			a.poll(`document.querySelectorAll('#demand-table tbody tr').length == 1`)
			if got := a.tab.text("#demand-table tbody"); !strings.Contains(got, v.ProductTitle) || !strings.Contains(got, "Sold out") {
				t.Fatalf("demand row: %q", got)
			}
			if shots {
				a.shot("desktop-demand")
			}

			// Phone width: every section fits without sideways scrolling.
			a.tab.do(chromedp.EmulateViewport(390, 844))
			a.load()
			a.poll(`(document.querySelector('#preview-frame').getAttribute('srcdoc') || '').includes('</html>')`)
			for _, tab := range []string{"emails", "results", "demand", "subscribers"} {
				a.click("#tab-" + tab)
				if tab == "subscribers" {
					a.waitContains("#sub-count", "subscribers")
				}
				if tab == "demand" {
					a.poll(`document.querySelectorAll('#demand-table tbody tr').length == 1`)
				}
				if tab == "results" {
					a.poll(`document.querySelectorAll('#results-table tbody tr').length == 1`)
				}
				if w := sfEval[int](a.tab, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
					t.Errorf("the %s section is %d px wider than a phone: %s", tab, w, sfEval[string](a.tab, `[...document.querySelectorAll('body *')]
						.filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5 && el.getClientRects().length)
						.slice(0, 8).map(el => el.tagName + '#' + el.id + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right)).join(', ')`))
				}
				if shots {
					a.shot("phone-" + tab)
				}
			}
		})
	}
}

// TestAdminPageNeedsToken: without a valid id_token the page does not render the app.
func TestAdminPageNeedsToken(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	for _, q := range []string{"", "?shop=" + apptest.ShopDomain, "?shop=" + apptest.ShopDomain + "&id_token=" + adminToken(t, e, apptest.ShopDomain, -time.Minute)} {
		resp := getRaw(t, e, "/app"+q, "")
		b := make([]byte, 64<<10)
		n, _ := resp.Body.Read(b)
		resp.Body.Close()
		if strings.Contains(string(b[:n]), "admin.js") {
			t.Errorf("/app%s served the admin page without a valid token", q)
		}
	}
}

// adminToken signs a session token for shop that expires d from the clock's now.
func adminToken(t *testing.T, e *apptest.Env, shop string, d time.Duration) string {
	t.Helper()
	now := e.Clock.Now()
	tok, err := shopify.SignSessionToken(apptest.Secret, map[string]any{
		"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": apptest.APIKey, "sub": "42",
		"exp": now.Add(d).Unix(), "nbf": now.Add(-2 * time.Minute).Unix(), "iat": now.Add(-2 * time.Minute).Unix(),
		"jti": fmt.Sprintf("jti-%d", time.Now().UnixNano()), "sid": "sid-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type adminTab struct {
	t   *testing.T
	e   *apptest.Env
	tab *sfTab
}

// openAdmin installs the App Bridge stand-in and loads the page.
func openAdmin(t *testing.T, e *apptest.Env, tab *sfTab, w, h int64) *adminTab {
	t.Helper()
	tokens, _ := json.Marshal([]string{adminToken(t, e, apptest.ShopDomain, -time.Minute), e.SessionToken(apptest.ShopDomain)})
	shim := `(() => {
		const tokens = ` + string(tokens) + `;
		window.__statuses = [];
		const f = window.fetch;
		window.fetch = (...a) => f.apply(window, a).then(r => (window.__statuses.push(r.status), r));
		window.shopify = { idToken: async () => tokens.length > 1 ? tokens.shift() : tokens[0], toast: { show() {} } };
	})();`
	if _, err := chromedp.Call(tab.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: shim}); err != nil {
		t.Fatalf("install the App Bridge shim: %v", err)
	}
	tab.do(chromedp.EmulateViewport(w, h))
	a := &adminTab{t: t, e: e, tab: tab}
	a.load()
	return a
}

func (a *adminTab) load() {
	a.t.Helper()
	q := url.Values{"shop": {apptest.ShopDomain}, "host": {"YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw"}, "embedded": {"1"},
		"id_token": {a.e.SessionToken(apptest.ShopDomain)}}
	a.tab.do(chromedp.Navigate(a.e.Server.URL + "/app?" + q.Encode()))
	a.poll(`document.documentElement.dataset.ready === 'true' || document.documentElement.dataset.ready === 'error'`)
	if got := sfEval[string](a.tab, `document.documentElement.dataset.ready`); got != "true" {
		a.t.Fatalf("the admin page failed to load: %s", a.tab.text("#load-error"))
	}
}

func (a *adminTab) poll(expr string) { a.t.Helper(); a.tab.poll(expr) }

func (a *adminTab) click(sel string) {
	a.t.Helper()
	a.tab.do(chromedp.Click(chromedp.CSS(sel)))
}

// set replaces a field's text by typing, as a person does.
func (a *adminTab) set(sel, text string) {
	a.t.Helper()
	a.tab.do(chromedp.Click(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](`(() => { const el = document.querySelector(`+jsString(sel)+`); el.focus(); el.value = ''; })()`),
		chromedp.KeyEvent(text))
	if got := a.value(sel); got != text {
		a.t.Fatalf("%s = %q after typing, want %q", sel, got, text)
	}
}

// choose picks an option of a select and tells the page.
func (a *adminTab) choose(sel, value string) {
	a.t.Helper()
	a.tab.do(chromedp.Evaluate[chromedp.Void](`(() => { const el = document.querySelector(` + jsString(sel) + `);
		el.value = ` + jsString(value) + `; el.dispatchEvent(new Event('change', { bubbles: true })); })()`))
}

func (a *adminTab) value(sel string) string {
	a.t.Helper()
	return sfEval[string](a.tab, `document.querySelector(`+jsString(sel)+`).value`)
}

func (a *adminTab) waitText(sel, want string) {
	a.t.Helper()
	if _, err := chromedp.Run(a.tab.ctx, chromedp.PollFunction[chromedp.Void](`(sel, want) => (document.querySelector(sel) || {}).textContent === want`,
		chromedp.WithPollingArgs(sel, want), chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		a.t.Fatalf("waiting for %s to say %q: %v (it says %q)", sel, want, err, a.tab.text(sel))
	}
}

func (a *adminTab) waitContains(sel, want string) {
	a.t.Helper()
	if _, err := chromedp.Run(a.tab.ctx, chromedp.PollFunction[chromedp.Void](`(sel, want) => ((document.querySelector(sel) || {}).textContent || '').includes(want)`,
		chromedp.WithPollingArgs(sel, want), chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		a.t.Fatalf("waiting for %s to contain %q: %v (it says %q)", sel, want, err, a.tab.text(sel))
	}
}

func (a *adminTab) srcdoc() string {
	return sfEval[string](a.tab, `document.querySelector('#preview-frame').getAttribute('srcdoc') || ''`)
}

func (a *adminTab) waitSrcdoc(want string) {
	a.t.Helper()
	if _, err := chromedp.Run(a.tab.ctx, chromedp.PollFunction[chromedp.Void](`(want) => (document.querySelector('#preview-frame').getAttribute('srcdoc') || '').includes(want)`,
		chromedp.WithPollingArgs(want), chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		a.t.Fatalf("the preview never showed %q: %v", want, err)
	}
}

// shot writes a PNG of the whole page to test-artifacts/admin/<name>.png.
func (a *adminTab) shot(name string) {
	a.t.Helper()
	png, err := chromedp.Run(a.tab.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		a.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(adminShots, name+".png"), png, 0o644); err != nil {
		a.t.Fatal(err)
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }
