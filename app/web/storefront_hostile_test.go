package web_test

// Hostile inputs against the storefront "Notify me" extension (review only; not for main).
// Each failing check is reported as "FINDING: …".

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
)

const (
	xScript = `</script><script>window.__pwned=(window.__pwned||'')+'S'</script>`
	xImg    = `"><img src=x onerror="window.__pwned=(window.__pwned||'')+'I'">`
	xAll    = xScript + xImg + `'<b>{{x}}</b>&amp;`
)

// pwned reports whether any injected script ran or injected element exists.
func pwned(tab *sfTab) string {
	return sfEval[string](tab, `(() => String(window.__pwned || '') +
		(document.querySelector('img[src=x], b, body > script:not([src])') ? ' +injected-element' : ''))()`)
}

func TestStorefrontHostile(t *testing.T) {
	browser := sfBrowser(t)

	t.Run("xss_text_settings_and_titles", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{
			ProductTitle: "Tee " + xAll,
			Variants:     []sfV{{sfSoldOut, "Small " + xAll, false}, {sfInStock, "Medium", true}},
			Settings:     map[string]any{"heading": "H " + xAll, "button_label": "B " + xAll, "success_text": "OK " + xAll + " {item}"},
		})
		html := s.render(sfSoldOut)
		for _, bad := range []string{"<script>window.__pwned", "<img src=x", "<b>"} {
			if strings.Contains(html, bad) {
				t.Errorf("FINDING: rendered block contains raw %q", bad)
			}
		}
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("xss page")
		if got := strings.TrimSpace(tab.text(`restock-notify .rr__heading`)); got != "H "+xAll {
			t.Errorf("heading text %q, want the literal payload", got)
		}
		if got := strings.TrimSpace(tab.text(`restock-notify .rr__submit`)); got != "B "+xAll {
			t.Errorf("button text %q", got)
		}
		if n := sfEval[int](tab, `Object.keys(document.querySelector('restock-notify').vs).length`); n != 2 {
			t.Errorf("variants JSON parsed to %d variants, want 2 (title broke the JSON?)", n)
		}
		tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "x@example.com"), chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		want := "OK " + xAll + " Tee " + xAll + " – Small " + xAll
		tab.waitStatus(want)
		if p := pwned(tab); p != "" {
			t.Errorf("FINDING: injected markup ran: %q", p)
		}
	})

	t.Run("xss_colour_settings", func(t *testing.T) {
		for name, colour := range map[string]string{
			"css_break":  `red;}body{display:none`,
			"attr_break": `red"` + xImg[1:],
			"overlay":    `red; position:fixed; inset:0; z-index:2147483647; opacity:.01`,
		} {
			t.Run(name, func(t *testing.T) {
				e := sfEnv(t, "sqlite")
				s := sfStorefront(t, e, sfOptions{Settings: map[string]any{"button_color": colour}})
				html := s.render(sfSoldOut)
				i := strings.Index(html, "style=")
				t.Logf("rendered: %s", html[i:i+strings.Index(html[i:], "\n")])
				tab := sfOpen(t, browser)
				tab.load(s.pageURL("?variant=1001"))
				if p := pwned(tab); p != "" {
					t.Errorf("FINDING: button_color %q injected markup: %q", colour, p)
				}
				if pos := sfEval[string](tab, `getComputedStyle(document.querySelector('restock-notify')).position`); pos != "static" {
					t.Errorf("FINDING: button_color %q set position:%s on the block (declarations injected into the style attribute)", colour, pos)
				}
				t.Logf("--rr-fg computed: %q, button color %q", sfEval[string](tab, `getComputedStyle(document.querySelector('restock-notify')).getPropertyValue('--rr-fg')`),
					sfEval[string](tab, `getComputedStyle(document.querySelector('restock-notify .rr__submit')).color`))
				if d := sfEval[string](tab, `getComputedStyle(document.body).display`); d == "none" {
					t.Errorf("FINDING: button_color %q hid the page", colour)
				}
			})
		}
	})

	t.Run("proxy_path", func(t *testing.T) {
		// A cross-origin collector that accepts CORS.
		var mu sync.Mutex
		var stolen []string
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Headers", "*")
			if r.Method == http.MethodOptions {
				return
			}
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			stolen = append(stolen, r.Method+" "+r.URL.String()+" "+string(b))
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"status":"subscribed"}`)
		}))
		defer evil.Close()
		host := strings.TrimPrefix(evil.URL, "http://")
		for _, p := range []string{
			"//" + host + "/x", evil.URL + "/x", "javascript:alert(1)", `/\` + host + "/x", " //" + host + "/x",
			"/\t/" + host + "/x", "/\n/" + host + "/x", "/\r/" + host + "/x", "\t//" + host + "/x",
			"/apps/restock/subscribe", "/%2F" + host + "/x", "/./" + "/" + host + "/x",
		} {
			t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
				mu.Lock()
				stolen = nil
				mu.Unlock()
				e := sfEnv(t, "sqlite")
				s := sfStorefront(t, e, sfOptions{Settings: map[string]any{"proxy_path": p}})
				tab := sfOpen(t, browser)
				tab.load(s.pageURL("?variant=1001"))
				tab.waitShown("proxy")
				action := sfEval[string](tab, `document.querySelector('restock-notify form').action`)
				tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "victim@example.com"), chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
				tab.poll(`document.querySelector('restock-notify [role=status]').textContent != '' && !document.querySelector('restock-notify form').hasAttribute('aria-busy')`)
				time.Sleep(200 * time.Millisecond)
				mu.Lock()
				got := append([]string(nil), stolen...)
				mu.Unlock()
				u, _ := url.Parse(action)
				t.Logf("form.action=%s status=%q", action, tab.text(`restock-notify [role=status]`))
				if u.Host != strings.TrimPrefix(s.srv.URL, "http://") {
					t.Errorf("FINDING: proxy_path %q gives a cross-origin form action %s", p, action)
				}
				if len(got) > 0 {
					t.Errorf("FINDING: proxy_path %q sent the shopper's email to another origin: %v", p, got)
				}
			})
		}
	})

	t.Run("no_product", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{NoProduct: true, Embed: true})
		if out := strings.TrimSpace(s.render(0)); out != "" {
			t.Errorf("FINDING: block without product renders %q", out)
		}
		if out := strings.TrimSpace(s.renderBlock(0, "E", "notify-embed.liquid", nil)); out != "" {
			t.Errorf("FINDING: embed without product renders %q", out)
		}
	})

	t.Run("variants_250", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		var vs []sfV
		for i := range 250 {
			vs = append(vs, sfV{int64(5000 + i), fmt.Sprintf("V%03d", i), i != 249})
		}
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(5249))
		s := sfStorefront(t, e, sfOptions{Variants: vs})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL(""))
		tab.waitHidden("in stock")
		tab.do(chromedp.Click(chromedp.CSS(`label[for$="-Size-250"]`)))
		tab.waitShown("after picking the 250th")
		tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "v@example.com"), chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus("We'll email you when " + sfProduct + " – V249 is back.")
		if n := e.Count(&store.Subscription{}, "variant_id = ?", 5249); n != 1 {
			t.Errorf("%d subscriptions for 5249", n)
		}
	})

	t.Run("variant_id_above_2^53", func(t *testing.T) {
		const big = int64(9007199254740993) // 2^53+1: not a float64
		e := sfEnv(t, "sqlite")
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(big))
		s := sfStorefront(t, e, sfOptions{Variants: []sfV{{sfInStock, "Medium", true}, {big, "Small", false}}})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL(""))
		tab.waitHidden("in stock")
		// A theme announcing the variant with a string id (as the id input does).
		tab.do(chromedp.Evaluate[chromedp.Void](`document.dispatchEvent(new CustomEvent('variant:change', {detail: {variant: {id: '9007199254740993'}}}))`))
		tab.waitShown("after variant:change with a string id")
		if got := sfEval[string](tab, `document.querySelector('restock-notify [name=variant_id]').value`); got != "9007199254740993" {
			t.Errorf("FINDING: variant_id = %q", got)
		}
		tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "big@example.com"), chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus("We'll email you when " + sfProduct + " – Small is back.")
		if h := s.hitsSnapshot(); len(h) != 1 || !strings.Contains(h[0].Body, `"variant_id":"9007199254740993"`) {
			t.Errorf("FINDING: body %+v", h)
		}
		if n := e.Count(&store.Subscription{}, "variant_id = ?", big); n != 1 {
			t.Errorf("FINDING: %d subscriptions with the exact id", n)
		}
		// A theme announcing it as a JS number (JSON.parse of product JSON) cannot name it exactly.
		tab.load(s.pageURL(""))
		tab.waitHidden("in stock")
		tab.do(chromedp.Evaluate[chromedp.Void](`document.dispatchEvent(new CustomEvent('variant:change', {detail: {variant: {id: 9007199254740993}}}))`))
		time.Sleep(300 * time.Millisecond)
		t.Logf("numeric id event: hidden=%v variant_id=%s", sfEval[bool](tab, `document.querySelector('restock-notify').hidden`),
			sfEval[string](tab, `document.querySelector('restock-notify [name=variant_id]').value`))
	})

	t.Run("two_blocks", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{ExtraBlocks: []string{"XyZ789"}})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.poll(`[...document.querySelectorAll('restock-notify')].every((b) => !b.hidden && b.getClientRects().length)`)
		if dups := sfEval[[]string](tab, `(() => { const c = {}; document.querySelectorAll('[id]').forEach((n) => c[n.id] = (c[n.id]||0)+1);
			return Object.keys(c).filter((k) => c[k] > 1); })()`); len(dups) > 0 {
			t.Errorf("FINDING: duplicate ids %v", dups)
		}
		second := `restock-notify:nth-of-type(1)`
		_ = second
		tab.do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('restock-notify')[1].querySelector('[name=email]').value = 'two@example.com'`),
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('restock-notify')[1].querySelector('.rr__submit').click()`))
		tab.poll(`document.querySelectorAll('restock-notify')[1].querySelector('[role=status]').textContent.startsWith("We'll email")`)
		if first := sfEval[string](tab, `document.querySelectorAll('restock-notify')[0].querySelector('[role=status]').textContent`); first != "" {
			t.Errorf("FINDING: the other block's status says %q", first)
		}
		if n := s.hitCount(); n != 1 {
			t.Errorf("FINDING: %d requests", n)
		}
		// Switching variant updates both.
		tab.do(chromedp.Click(chromedp.CSS(`label[for$="-Size-2"]`)))
		tab.poll(`[...document.querySelectorAll('restock-notify')].every((b) => b.hidden)`)
	})

	t.Run("embed_with_block", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{Embed: true})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("block+embed")
		if n := sfEval[int](tab, `document.querySelectorAll('restock-notify').length`); n != 1 {
			t.Errorf("FINDING: %d restock-notify elements with block+embed", n)
		}
		if m := sfEval[string](tab, `document.querySelector('restock-notify').dataset.mode`); m != "block" {
			t.Errorf("FINDING: the remaining one is %s", m)
		}
	})

	t.Run("embed_dialog_a11y", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{Embed: true, NoBlock: true})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL(""))
		tab.poll(`document.querySelector('restock-notify').hidden`)
		tab.do(chromedp.Click(chromedp.CSS(`label[for$="-Size-1"]`)))
		tab.poll(`!document.querySelector('restock-notify').hidden`)
		tab.do(chromedp.Click(chromedp.CSS(`.rr__open`)))
		tab.poll(`document.querySelector('dialog').open`)
		if !sfEval[bool](tab, `document.activeElement.matches('dialog [name=email]')`) {
			t.Errorf("FINDING: focus after opening is %s", tab.focused())
		}
		var stops []string
		for range 8 {
			tab.do(chromedp.KeyEvent("\t"))
			stops = append(stops, tab.focused())
			if !sfEval[bool](tab, `document.querySelector('dialog').contains(document.activeElement)`) {
				t.Errorf("FINDING: Tab left the dialog: %v", stops)
				break
			}
		}
		t.Logf("dialog tab stops: %v", stops)
		tab.do(chromedp.KeyEvent(kEscape))
		tab.poll(`!document.querySelector('dialog').open`)
		if !sfEval[bool](tab, `document.activeElement.matches('.rr__open')`) {
			t.Errorf("FINDING: focus after Escape is %s", tab.focused())
		}
		// Open, then the shopper's variant becomes one in stock (the dialog closes): where does focus go?
		tab.do(chromedp.Click(chromedp.CSS(`.rr__open`)))
		tab.poll(`document.querySelector('dialog').open`)
		tab.do(chromedp.Evaluate[chromedp.Void](`document.dispatchEvent(new CustomEvent('variant:change', {detail: {variant: {id: '1002'}}}))`))
		tab.poll(`!document.querySelector('dialog').open`)
		// The dialog's close event (where focus is placed) runs as a task of
		// its own: wait for focus to land somewhere other than <body>.
		tab.poll(`document.activeElement != document.body`)
		t.Logf("focus after the dialog closed by a variant change: %s", tab.focused())
	})

	t.Run("double_submit", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("dbl")
		tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "dbl@example.com"),
			chromedp.DoubleClick(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus(sfSuccessEN)
		// And a burst of five synchronous submits plus Enter.
		tab.do(chromedp.Evaluate[chromedp.Void](`(() => { const f = document.querySelector('restock-notify form');
			f.email.value = 'burst@example.com'; for (let i = 0; i < 5; i++) f.requestSubmit(); })()`))
		tab.poll(`!document.querySelector('restock-notify form').hasAttribute('aria-busy')`)
		time.Sleep(300 * time.Millisecond)
		if n := s.hitCount(); n != 2 {
			t.Errorf("FINDING: %d requests for a double-click and a burst of 5, want 2: %+v", n, s.hitsSnapshot())
		}
	})

	t.Run("network_failure", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("net")
		tab.do(chromedp.Evaluate[chromedp.Void](`window.__realFetch = window.fetch; window.fetch = () => Promise.reject(new TypeError('Failed to fetch'))`))
		tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "net@example.com"), chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus("Something went wrong. Please try again in a minute.")
		if sfEval[bool](tab, `document.querySelector('restock-notify form').hasAttribute('aria-busy')`) {
			t.Error("FINDING: still busy after a network failure")
		}
		tab.do(chromedp.Evaluate[chromedp.Void](`window.fetch = window.__realFetch`), chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus(sfSuccessEN)

		// A request that never answers ends at the client timeout (shortened
		// here through data-timeout) with the error text, and the form is usable.
		tab.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('restock-notify').dataset.timeout = '300';
			window.fetch = (u, o) => new Promise((_, no) => o.signal.addEventListener('abort', () => no(new DOMException('stalled', 'AbortError'))))`))
		tab.retype(chromedp.CSS(`restock-notify [name=email]`), "hang@example.com")
		tab.do(chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.waitStatus("Something went wrong. Please try again in a minute.")
		if sfEval[bool](tab, `document.querySelector('restock-notify form').hasAttribute('aria-busy')`) {
			t.Error("FINDING: still busy after a stalled request timed out")
		}
	})

	t.Run("variant_switch_in_flight", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		large := apptest.Variant(1003)
		large.Title = "Large"
		e.Shopify.PutVariant(apptest.ShopDomain, large)
		s := sfStorefront(t, e, sfOptions{Variants: []sfV{{sfSoldOut, "Small", false}, {sfInStock, "Medium", true}, {1003, "Large", false}}})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("small")
		// Slow network: the answer comes 800 ms later.
		tab.do(chromedp.Evaluate[chromedp.Void](`(() => { const f = window.fetch; window.fetch = (...a) => f(...a).then((r) => new Promise((ok) => setTimeout(() => ok(r), 800))); })()`))
		tab.do(chromedp.SendKeys(chromedp.CSS(`restock-notify [name=email]`), "slow@example.com"), chromedp.Click(chromedp.CSS(`restock-notify .rr__submit`)))
		tab.do(chromedp.Click(chromedp.CSS(`label[for$="-Size-3"]`)))
		tab.poll(`document.querySelector('restock-notify [name=variant_id]').value == '1003'`)
		tab.poll(`!document.querySelector('restock-notify form').hasAttribute('aria-busy')`)
		time.Sleep(200 * time.Millisecond)
		msg := tab.text(`restock-notify [role=status]`)
		var body map[string]any
		json.Unmarshal([]byte(s.hitsSnapshot()[0].Body), &body)
		t.Logf("subscribed variant %v; status says %q", body["variant_id"], msg)
		if body["variant_id"] == "1001" && strings.Contains(msg, "Large") {
			t.Errorf("FINDING: subscribed to Small (1001) but the page tells the shopper %q", msg)
		}
	})

	t.Run("a11y_basics", func(t *testing.T) {
		e := sfEnv(t, "sqlite")
		s := sfStorefront(t, e, sfOptions{})
		tab := sfOpen(t, browser)
		tab.load(s.pageURL("?variant=1001"))
		tab.waitShown("a11y")
		got := sfEval[map[string]any](tab, `(() => { const el = document.querySelector('restock-notify [name=email]');
			const st = document.querySelector('restock-notify [role=status]');
			return {label: el.labels.length ? el.labels[0].textContent : '', live: st.getAttribute('aria-live'),
				describedby: el.getAttribute('aria-describedby') == st.id, formName: document.querySelector('restock-notify form').getAttribute('aria-labelledby')}; })()`)
		t.Logf("a11y: %v", got)
		if got["label"] != "Email address" || got["live"] != "polite" || got["describedby"] != true {
			t.Errorf("FINDING: %v", got)
		}
	})
}

const kEscape = "\u001b"
