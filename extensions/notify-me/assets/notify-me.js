/* Restock Relay "Notify me": <restock-notify>, rendered by snippets/notify-me.liquid.
   Follows the selected variant, shows the form only for a sold-out variant (tracked, policy deny,
   from the variants JSON of the block: no network call) and posts the signup to the app proxy.
   No dependencies. Keep it under 10,000 bytes (Theme Check AssetSizeAppBlockJavaScript). */
(() => {
  if (!window.customElements || customElements.get('restock-notify')) return;
  // Obviously invalid addresses never leave the page; the server checks the rest.
  const EMAIL = /^[^\s@<>()[\]\\,;:"]{1,64}@[^\s@<>()[\]\\,;:"_]+\.[^\s@<>()[\]\\,;:"_.]{2,}$/;
  const ID = '[name="id"]';
  const FORM = 'form[action*="/cart/add"]';
  const waitable = (v) => !!v && !v.available && !!v.inventory_management && v.inventory_policy == 'deny';

  class RestockNotify extends HTMLElement {
    connectedCallback() {
      if (this.f) return;
      if (document.readyState == 'loading') {
        return document.addEventListener('DOMContentLoaded', () => this.isConnected && this.connectedCallback(), {
          once: true,
        });
      }
      const d = this.dataset;
      // The embed steps aside when the page has the block.
      if (d.mode == 'embed' && document.querySelector('restock-notify[data-mode="block"]')) return this.remove();
      this.f = this.querySelector('form');
      this.el = this.f.elements;
      this.st = this.querySelector('[role="status"]');
      this.vs = {};
      try {
        for (const v of JSON.parse(this.querySelector('[data-rr-variants]').textContent)) this.vs[v.id] = v;
      } catch (e) {}
      // Listeners end with the element (a theme may re-render the whole section).
      const signal = (this.ac = new AbortController()).signal;
      const on = (t, fn, at = document) => at.addEventListener(t, fn, { signal });
      this.f.noValidate = true; // without JavaScript the browser validates the email
      on('submit', (e) => this.submit(e), this.f);
      this.dialog(on);

      const sec = this.closest('.shopify-section');
      this.sid = sec && sec.id.replace(/^shopify-section-/, '');
      // The product form's variant input (Dawn dispatches a bubbling change).
      on('change', (e) => {
        const t = e.target;
        if (t.matches && t.matches(ID) && t.closest(FORM)) this.pick(t.value);
      });
      // Themes that announce the variant with a DOM event.
      const ev = (e) => {
        const x = e.detail || {};
        this.pick(x.variant || x.resource, 1);
      };
      on('variant:change', ev);
      on('variant:update', ev);
      // Dawn's pub/sub: subscribe('variant-change', …), defined by a deferred theme script.
      const sub = () => {
        if (this.subbed || typeof window.subscribe != 'function') return;
        this.subbed = 1;
        window.subscribe('variant-change', (e) => {
          const x = (e && e.data) || {};
          if (!x.sectionId || !this.sid || x.sectionId == this.sid) this.pick(x.variant, 1);
        });
      };
      sub();
      on('DOMContentLoaded', sub);
      on('load', sub, window);
      // ?variant= in the URL; history.replaceState fires nothing, so poll.
      this.q = location.search;
      const url = () => {
        if (location.search == this.q) return;
        this.q = location.search;
        const id = new URLSearchParams(this.q).get('variant');
        if (id) this.pick(id);
      };
      on('popstate', url, window);
      this.t = setInterval(url, 400);

      // Start from what the product form holds, else what Liquid rendered.
      const form = (sec && sec.querySelector(FORM)) || document.querySelector('main ' + FORM);
      const id = form && new FormData(form).get('id');
      this.pick(id && this.vs[id] ? id : this.el.variant_id.value);
    }

    disconnectedCallback() {
      if (!this.ac) return;
      this.ac.abort();
      clearInterval(this.t);
      this.f = this.ac = null;
    }

    // pick(id or variant object); `strict`: a missing variant (an option combination that does
    // not exist) hides the form. Ids of other products (quick add, recommendations) are ignored.
    pick(x, strict) {
      const id = String((x && typeof x == 'object' ? x.id : x) || '');
      const v = this.vs[id];
      if (!v && !(strict && !x)) return;
      const show = waitable(v) || 'design' in this.dataset;
      if (v && id != this.el.variant_id.value) {
        this.el.variant_id.value = id;
        this.say('');
      }
      this.v = v;
      this.hidden = !show;
      if (!show && this.dlg && this.dlg.open) this.dlg.close();
      if (show && v && 'customer' in this.dataset) this.status(id);
    }

    name(v) {
      v = v || this.v;
      return this.dataset.product + (v && Object.keys(this.vs).length > 1 ? ' – ' + v.title : '');
    }

    say(key, err, v) {
      const st = this.st;
      const text = key ? (this.dataset[key] || this.dataset.error).split('{item}').join(this.name(v)) : '';
      st.classList.toggle('rr__status--err', !!err);
      // Clear, then fill: the same message twice is announced twice.
      st.textContent = '';
      clearTimeout(this.tm);
      if (text) this.tm = setTimeout(() => (st.textContent = text), 60);
    }

    // A logged-in customer who already waits sees so (GET …/status?variant_id=).
    status(id) {
      this.seen = this.seen || {};
      const path = this.f.getAttribute('action').replace(/\/subscribe\/?$/, '/status');
      if (this.seen[id] || !/\/status$/.test(path)) return;
      this.seen[id] = 1;
      fetch(path + '?variant_id=' + encodeURIComponent(id), { headers: { Accept: 'application/json' } })
        .then((r) => (r.ok ? r.json() : {}))
        .then((j) => {
          if (j.waiting && this.el.variant_id.value == id) this.say('already');
        })
        .catch(() => {});
    }

    async submit(e) {
      e.preventDefault();
      const el = this.el;
      const email = el.email.value.trim();
      if (this.busy) return;
      if (!EMAIL.test(email)) {
        el.email.setAttribute('aria-invalid', 'true');
        el.email.focus();
        return this.say('invalid', 1);
      }
      el.email.removeAttribute('aria-invalid');
      if (Date.now() < (this.wait || 0)) return this.say('rate', 1);
      this.busy = 1;
      this.f.setAttribute('aria-busy', 'true');
      this.say('sending');
      let code = 0;
      let r;
      const v = this.v; // named in the answer, even if the picker moved
      const url = new URL(this.f.getAttribute('action'), location.href);
      const stop = new AbortController();
      const tm = setTimeout(() => stop.abort(), +this.dataset.timeout || 2e4);
      try {
        if (url.origin != location.origin) throw 0; // same origin only
        r = await fetch(url, {
          signal: stop.signal,
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({
            email,
            variant_id: String(el.variant_id.value),
            locale: el.locale.value,
            accepts_marketing: !!(el.accepts_marketing && el.accepts_marketing.checked),
            website: el.website.value,
          }),
        });
        code = r.status;
        const j = (await r.json().catch(() => 0)) || {};
        if (code < 300) code = j.status;
        // Only invalid_email blames the address.
        else if (code == 422 && j.code && j.code != 'invalid_email') code = 0;
      } catch (x) {
        code = 0;
      }
      clearTimeout(tm);
      this.busy = 0;
      this.f.removeAttribute('aria-busy');
      if (code == 429) this.wait = Date.now() + 1000 * Math.min(+r.headers.get('Retry-After') || 30, 600);
      const key = {
        subscribed: 'success',
        already_subscribed: 'already',
        422: 'invalid',
        409: 'instock',
        404: 'notfound',
        429: 'rate',
      }[code];
      if (key == 'invalid') el.email.setAttribute('aria-invalid', 'true');
      this.say(key || 'error', !key || key == 'invalid' || key == 'rate' || key == 'notfound', v);
    }

    // The embed: a modal <dialog>; Tab stays inside, Escape closes, focus returns to the opener.
    dialog(on) {
      const dlg = (this.dlg = this.querySelector('dialog'));
      if (!dlg) return;
      const open = this.querySelector('.rr__open');
      on('click', () => {
        dlg.showModal();
        this.el.email.focus();
      }, open);
      on('click', () => dlg.close(), this.querySelector('.rr__close'));
      // Closed by a variant in stock (opener hidden): focus buy button, picker or main.
      on('close', () => {
        if (!this.hidden) return open.focus();
        const m = document.querySelector('main') || document.body;
        const t =
          document.querySelector('form[action*="/cart/add"] [type=submit]:not([disabled]), [name^="options"]:checked, select[name^="options"]') ||
          (m.setAttribute('tabindex', '-1'), m);
        t.focus();
      }, dlg);
      // A click on the backdrop (the dialog box itself, outside its panel) closes it.
      on('click', (e) => e.target == dlg && dlg.close(), dlg);
      on('keydown', (e) => {
        if (e.key == 'Escape') {
          e.preventDefault();
          return dlg.close();
        }
        if (e.key != 'Tab') return;
        const all = [...dlg.querySelectorAll('button, input, select, textarea, a[href]')].filter(
          (n) => !n.disabled && n.tabIndex >= 0 && n.type != 'hidden' && n.getClientRects().length,
        );
        const first = all[0];
        const last = all[all.length - 1];
        const at = document.activeElement;
        if (e.shiftKey ? at == first || !dlg.contains(at) : at == last) {
          e.preventDefault();
          (e.shiftKey ? last : first).focus();
        }
      }, dlg);
    }
  }

  customElements.define('restock-notify', RestockNotify);
})();
