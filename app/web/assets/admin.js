// Restock Relay's embedded admin page. No framework: the page is rendered
// by the server and this script fills it from /api/admin/*, every call
// carrying an App Bridge session token. Text from the API is only ever set
// as textContent (never as markup), and the email preview is shown in a
// sandboxed frame, so nothing a merchant or shopper typed can run here.
(function () {
  "use strict";

  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var STEP_NAMES = { 1: "Restock notice", 2: "Reminder", 3: "Last chance" };
  var LOCALES = { "": "Default (all languages)", en: "English", de: "German", fr: "French", es: "Spanish", it: "Italian",
    nl: "Dutch", pt: "Portuguese", "pt-br": "Portuguese (Brazil)", sv: "Swedish", da: "Danish", nb: "Norwegian", fi: "Finnish",
    pl: "Polish", cs: "Czech", ja: "Japanese", ko: "Korean", "zh-cn": "Chinese (Simplified)", "zh-tw": "Chinese (Traditional)" };

  // ---- Session tokens and the API -------------------------------------

  // App Bridge (from Shopify's CDN) gives a fresh token per call; without
  // it (offline, tests) a page may provide window.shopify.idToken itself;
  // as a last resort the id_token the admin put in this page's URL is used.
  function idToken() {
    if (window.shopify && typeof window.shopify.idToken === "function") {
      return Promise.resolve(window.shopify.idToken());
    }
    return Promise.resolve(new URLSearchParams(location.search).get("id_token") || "");
  }

  function apiError(status, body) {
    var e = new Error((body && body.error) || ("The request failed (" + status + ")"));
    e.status = status;
    e.body = body || {};
    return e;
  }

  // api calls the admin API; a 401 that asks for a fresh session token
  // gets one and is retried once, so an expired token never breaks the page.
  function api(method, path, body, raw) {
    var attempt = function (retried) {
      return idToken().then(function (tok) {
        var opts = { method: method, headers: { Authorization: "Bearer " + tok, Accept: raw ? "text/csv" : "application/json" } };
        if (body !== undefined) {
          opts.headers["Content-Type"] = "application/json";
          opts.body = JSON.stringify(body);
        }
        return fetch(path, opts);
      }).then(function (res) {
        if (res.status === 401 && !retried && res.headers.get("X-Shopify-Retry-Invalid-Session-Request") === "1") {
          return attempt(true);
        }
        if (raw && res.ok) return res;
        return res.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = { error: "The app answered something unexpected (" + res.status + ")." }; }
          if (!res.ok) throw apiError(res.status, data);
          return data;
        });
      });
    };
    return attempt(false);
  }

  function toast(msg, isError) {
    if (window.shopify && window.shopify.toast && typeof window.shopify.toast.show === "function") {
      window.shopify.toast.show(msg, { isError: !!isError });
    }
    var t = $("#toast");
    t.textContent = msg;
    t.className = "toast" + (isError ? " error" : "");
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.hidden = true; }, 4000);
  }

  function el(tag, attrs, children) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") n.textContent = attrs[k];
      else if (k === "class") n.className = attrs[k];
      else n.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) n.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return n;
  }

  function debounce(fn, ms) {
    var t;
    return function () { var a = arguments; clearTimeout(t); t = setTimeout(function () { fn.apply(null, a); }, ms); };
  }

  function formatDate(s) {
    if (!s) return "";
    var d = new Date(s);
    return isNaN(d) ? "" : d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  }

  function since(s) {
    var d = new Date(s);
    if (!s || isNaN(d)) return "";
    var h = Math.max(0, (Date.now() - d.getTime()) / 3600000);
    if (h < 1) return "less than an hour";
    if (h < 48) return Math.round(h) + (Math.round(h) === 1 ? " hour" : " hours");
    return Math.round(h / 24) + " days";
  }

  // ---- Tabs -------------------------------------------------------------

  var loaded = {};
  function selectTab(name, focus) {
    $$('[role="tab"]').forEach(function (t) {
      var on = t.id === "tab-" + name;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      if (on && focus) t.focus();
      $("#" + t.getAttribute("aria-controls")).hidden = !on;
    });
    $("#save-bar").hidden = name !== "emails";
    if (name === "demand" && !loaded.demand) { loaded.demand = true; loadDemand(); }
    if (name === "results" && !loaded.results) { loaded.results = true; loadResults(0); }
    if (name === "subscribers" && !loaded.subscribers) { loaded.subscribers = true; loadProducts(); loadSubscribers(); }
  }
  function initTabs() {
    var tabs = $$('[role="tab"]');
    tabs.forEach(function (t, i) {
      t.addEventListener("click", function () { selectTab(t.id.slice(4)); });
      t.addEventListener("keydown", function (e) {
        var j = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : null;
        if (j === null) return;
        e.preventDefault();
        selectTab(tabs[(j + tabs.length) % tabs.length].id.slice(4), true);
      });
    });
  }

  // ---- Settings and copy ------------------------------------------------

  var state = { saved: null, draft: null, variables: [], step: 1, locale: "", format: "html" };

  function clone(v) { return JSON.parse(JSON.stringify(v)); }
  function form() { return $("#settings"); }

  function copyEntry(draft, step, locale) {
    for (var i = 0; i < draft.copy.length; i++) {
      if (draft.copy[i].step === step && (draft.copy[i].locale || "") === locale) return draft.copy[i];
    }
    return null;
  }

  function fillForm() {
    var s = state.draft, f = form();
    f.step2_enabled.checked = s.step2_enabled;
    f.step2_delay_hours.value = Math.round(s.step2_delay_seconds / 3600);
    f.step3_enabled.checked = s.step3_enabled;
    f.step3_delay_hours.value = Math.round(s.step3_delay_seconds / 3600);
    f.threshold.value = s.threshold;
    f.max_cycles.value = s.max_cycles;
    f.wave_size.value = s.wave_size;
    f.wave_interval_minutes.value = Math.round(s.wave_interval_seconds / 60);
    f.sender_name.value = s.sender_name || "";
    f.reply_to.value = s.reply_to || "";
    f.brand_color.value = s.brand_color || "";
    $("#brand_color_picker").value = /^#[0-9a-f]{6}$/i.test(s.brand_color || "") ? s.brand_color : "#303030";
    f.logo_url.value = s.logo_url || "";
    syncEnabled();
    fillLocales();
    fillCopy();
  }

  function syncEnabled() {
    var f = form();
    f.step2_delay_hours.disabled = !f.step2_enabled.checked;
    f.step3_enabled.disabled = !f.step2_enabled.checked;
    f.step3_delay_hours.disabled = !f.step3_enabled.checked || !f.step2_enabled.checked;
    f.wave_interval_minutes.disabled = !(parseInt(f.wave_size.value, 10) > 0);
  }

  function fillLocales() {
    var sel = $("#copy-locale"), have = {};
    state.draft.copy.forEach(function (c) { if (c.step === state.step) have[c.locale || ""] = true; });
    sel.textContent = "";
    Object.keys(LOCALES).forEach(function (code) {
      var label = LOCALES[code] + (code && !have[code] ? " — add" : "");
      sel.appendChild(el("option", { value: code, text: label }));
    });
    sel.value = state.locale;
  }

  function fillCopy() {
    var c = copyEntry(state.draft, state.step, state.locale);
    $("#copy-locale-note").textContent = state.locale && !c ?
      "No " + LOCALES[state.locale] + " copy yet: shoppers browsing in " + LOCALES[state.locale] + " get the default. Type here to add it." :
      (state.locale ? "Shoppers browsing in " + LOCALES[state.locale] + " get this copy." : "Used for every language without its own copy.");
    var base = c || copyEntry(state.draft, state.step, "") || {};
    $$("[data-copy]").forEach(function (inp) { inp.value = base[inp.dataset.copy] || ""; });
    $("#copy-remove").hidden = !(state.locale && c);
    showFieldErrors();
    schedulePreview();
  }

  // readForm turns the form into the settings the API takes.
  function readForm() {
    var f = form(), s = state.draft;
    var hours = function (inp, fallback) { var n = parseInt(inp.value, 10); return isNaN(n) ? fallback : n * 3600; };
    var int = function (inp, fallback) { var n = parseInt(inp.value, 10); return isNaN(n) ? fallback : n; };
    s.step2_enabled = f.step2_enabled.checked;
    s.step2_delay_seconds = hours(f.step2_delay_hours, -1);
    s.step3_enabled = f.step3_enabled.checked && f.step2_enabled.checked;
    s.step3_delay_seconds = hours(f.step3_delay_hours, -1);
    s.threshold = int(f.threshold, -1);
    s.max_cycles = int(f.max_cycles, -1);
    s.wave_size = int(f.wave_size, -1);
    var mins = parseInt(f.wave_interval_minutes.value, 10);
    s.wave_interval_seconds = isNaN(mins) ? -1 : mins * 60;
    s.sender_name = f.sender_name.value.trim();
    s.reply_to = f.reply_to.value.trim();
    s.brand_color = f.brand_color.value.trim();
    s.logo_url = f.logo_url.value.trim();
  }

  function readCopy() {
    var c = copyEntry(state.draft, state.step, state.locale);
    if (!c) {
      c = { step: state.step, locale: state.locale };
      state.draft.copy.push(c);
      fillLocales();
      $("#copy-remove").hidden = !state.locale;
    }
    $$("[data-copy]").forEach(function (inp) { c[inp.dataset.copy] = inp.value; });
    return c;
  }

  function dirty() { return JSON.stringify(state.draft) !== JSON.stringify(state.saved); }
  function markDirty() {
    var d = dirty();
    $("#save").disabled = !d;
    $("#discard").disabled = !d;
    $("#save-bar").classList.toggle("dirty", d);
    $("#save-state").textContent = d ? "Unsaved changes" : "All changes saved";
  }

  // Field errors from a 422: settings fields by name, copy fields as
  // copy[i].name (i indexes the copy sent); copy errors of the step and
  // language on screen show under their field, all are listed in the banner.
  var fieldErrors = [];
  var previewErrors = [];
  function showFieldErrors() {
    $$("[data-error-for]").forEach(function (p) { p.textContent = ""; });
    $$("[aria-invalid]").forEach(function (i) { i.removeAttribute("aria-invalid"); });
    var put = function (key, msg) {
      var p = $('[data-error-for="' + key + '"]');
      if (!p) return false;
      p.textContent = msg;
      var inp = p.parentNode.querySelector("input:not([type=color]),textarea");
      if (inp) { inp.setAttribute("aria-invalid", "true"); p.id = p.id || "err-" + key.replace(/\W/g, "-"); inp.setAttribute("aria-describedby", p.id); }
      return true;
    };
    fieldErrors.concat(previewErrors).forEach(function (fe) {
      var m = /^copy\[(\d+)\]\.(\w+)$/.exec(fe.field);
      if (m) {
        var c = fe.copy;
        if (c && c.step === state.step && (c.locale || "") === state.locale) put("copy." + m[2], fe.message);
      } else if (fe.preview) {
        put("copy." + fe.field, fe.message);
      } else if (!put(fe.field, fe.message) && fe.field === "step2_delay_seconds") {
        put("step2_delay_seconds", fe.message);
      }
    });
  }

  // The form's labels for the API's field names, for the error banner.
  var FIELD_LABELS = { step2_delay_seconds: "Reminder after (hours)", step3_delay_seconds: "Last chance after (hours)",
    threshold: "Restock threshold", max_cycles: "Restocks a shopper waits for",
    wave_size: "Shoppers per unit in stock, per wave", wave_interval_seconds: "Minutes between waves", sender_name: "Sender name",
    reply_to: "Reply-to address", brand_color: "Button colour", logo_url: "Logo URL", subject: "Subject",
    preheader: "Preview text", heading: "Heading", body: "Body", button: "Button label", locale: "Language" };

  function showErrorBanner(errs) {
    var b = $("#settings-errors");
    b.textContent = "";
    if (!errs.length) { b.hidden = true; return; }
    b.appendChild(el("strong", { text: "Nothing was saved. Please fix:" }));
    var ul = el("ul");
    errs.forEach(function (fe) {
      var name = fe.field.replace(/^copy\[\d+\]\./, "");
      var where = FIELD_LABELS[name] || name.replace(/_/g, " ");
      if (fe.copy) where = STEP_NAMES[fe.copy.step] + (fe.copy.locale ? " (" + (LOCALES[fe.copy.locale] || fe.copy.locale) + ")" : "") + ", " + where;
      ul.appendChild(el("li", { text: where + ": " + fe.message }));
    });
    b.appendChild(ul);
    b.hidden = false;
  }

  function save(e) {
    if (e) e.preventDefault();
    readForm();
    readCopy();
    var body = clone(state.draft);
    body.copy = body.copy.filter(function (c) { return c.subject || c.heading || c.body || c.button || !c.locale; });
    $("#save").disabled = true;
    $("#save-state").textContent = "Saving…";
    return api("PUT", "/api/admin/settings", body).then(function (data) {
      fieldErrors = [];
      showErrorBanner([]);
      state.saved = clone(data.settings);
      state.draft = clone(data.settings);
      fillForm();
      markDirty();
      toast("Settings saved");
      loadOnboarding();
    }).catch(function (err) {
      if (err.status === 422 && err.body.fields) {
        fieldErrors = err.body.fields.map(function (fe) {
          var m = /^copy\[(\d+)\]/.exec(fe.field);
          return { field: fe.field, message: fe.message, copy: m ? body.copy[+m[1]] : null };
        });
        showFieldErrors();
        showErrorBanner(fieldErrors);
        $("#settings-errors").scrollIntoView({ block: "nearest" });
      } else {
        toast(err.message, true);
      }
      markDirty();
    });
  }

  function insertVariable(name) {
    var inp = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.copy ?
      document.activeElement : (insertVariable.last || $("#copy-body"));
    var token = "{{ " + name + " }}";
    var s = inp.selectionStart == null ? inp.value.length : inp.selectionStart;
    var e = inp.selectionEnd == null ? s : inp.selectionEnd;
    inp.value = inp.value.slice(0, s) + token + inp.value.slice(e);
    inp.focus();
    inp.setSelectionRange(s + token.length, s + token.length);
    inp.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // ---- Preview and test email ---------------------------------------

  var previewSeq = 0;
  function previewBody() {
    readForm();
    var c = readCopy();
    return { step: state.step, locale: state.locale, subject: c.subject || "", preheader: c.preheader || "", heading: c.heading || "",
      body: c.body || "", button: c.button || "", brand_color: /^#[0-9a-f]{6}$/i.test(state.draft.brand_color) ? state.draft.brand_color : "",
      logo_url: /^https:\/\/\S+$/.test(state.draft.logo_url) ? state.draft.logo_url : "" };
  }
  function renderPreview() {
    var seq = ++previewSeq;
    api("POST", "/api/admin/preview", previewBody()).then(function (r) {
      if (seq !== previewSeq) return;
      previewErrors = [];
      showFieldErrors();
      $("#preview-subject").textContent = r.subject;
      $("#preview-frame").srcdoc = r.html;
      $("#preview-text").textContent = r.text;
      $("#preview-meta").textContent = r.product === "sample" ? "Shown with a sample product." : "Shown with " + r.product + ".";
    }).catch(function (err) {
      if (seq !== previewSeq) return;
      if (err.status === 422 && err.body.fields) {
        previewErrors = err.body.fields.map(function (fe) { return { field: fe.field, message: fe.message, preview: true }; });
        showFieldErrors();
        $("#preview-meta").textContent = "Fix the highlighted field to update the preview.";
      } else {
        $("#preview-meta").textContent = err.message;
      }
    });
  }
  var schedulePreview = debounce(renderPreview, 250);

  function setFormat(fmt) {
    state.format = fmt;
    $("#preview-html-btn").setAttribute("aria-pressed", fmt === "html" ? "true" : "false");
    $("#preview-text-btn").setAttribute("aria-pressed", fmt === "text" ? "true" : "false");
    $("#preview-frame").hidden = fmt !== "html";
    $("#preview-text").hidden = fmt !== "text";
  }

  function sendTest() {
    var to = $("#test-to").value.trim();
    var errP = $('[data-error-for="to"]');
    errP.textContent = "";
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to)) {
      errP.textContent = "Enter the address the test should go to, such as you@example.com.";
      $("#test-to").focus();
      return;
    }
    var body = previewBody();
    body.to = to;
    $("#test-send").disabled = true;
    api("POST", "/api/admin/test-email", body).then(function (r) {
      toast("Test sent to " + to);
      $("#preview-meta").textContent = "Sent “" + r.subject + "” to " + to + ".";
      loadOnboarding();
    }).catch(function (err) {
      if (err.status === 422 && err.body.fields) {
        var msgs = err.body.fields.map(function (fe) { return fe.message; });
        errP.textContent = msgs.join(" ");
      } else {
        toast(err.message, true);
      }
    }).then(function () { $("#test-send").disabled = false; });
  }

  function initSettings(data) {
    state.saved = clone(data.settings);
    state.draft = clone(data.settings);
    state.variables = data.variables || [];
    var ul = $("#variables");
    ul.textContent = "";
    state.variables.forEach(function (v) {
      var b = el("button", { type: "button", text: "{{ " + v + " }}" });
      b.addEventListener("mousedown", function (e) { e.preventDefault(); }); // keep the caret in the field
      b.addEventListener("click", function () { insertVariable(v); });
      ul.appendChild(el("li", {}, [b]));
    });
    fillForm();
    markDirty();

    var f = form();
    f.addEventListener("submit", save);
    f.addEventListener("input", function (e) {
      if (e.target.dataset && e.target.dataset.copy) { insertVariable.last = e.target; readCopy(); schedulePreview(); }
      else if (e.target.id === "brand_color") { if (/^#[0-9a-f]{6}$/i.test(e.target.value)) $("#brand_color_picker").value = e.target.value; schedulePreview(); }
      else if (e.target.id === "brand_color_picker") { f.brand_color.value = e.target.value; schedulePreview(); }
      else if (e.target.id === "logo_url") { schedulePreview(); }
      if (e.target.id === "wave_size") syncEnabled();
      if (e.target.id !== "test-to") { readForm(); markDirty(); }
    });
    f.addEventListener("change", function (e) {
      if (e.target.type === "checkbox") { syncEnabled(); readForm(); markDirty(); }
    });
    $$("[data-copy]").forEach(function (inp) { inp.addEventListener("focus", function () { insertVariable.last = inp; }); });
    $("#copy-step").addEventListener("change", function (e) { readCopy(); state.step = +e.target.value; fillLocales(); fillCopy(); });
    $("#copy-locale").addEventListener("change", function (e) { state.locale = e.target.value; fillCopy(); });
    $("#copy-remove").addEventListener("click", function () {
      state.draft.copy = state.draft.copy.filter(function (c) { return !(c.step === state.step && c.locale === state.locale); });
      state.locale = "";
      fillLocales();
      fillCopy();
      markDirty();
    });
    $("#discard").addEventListener("click", function () {
      state.draft = clone(state.saved);
      fieldErrors = [];
      showErrorBanner([]);
      fillForm();
      markDirty();
    });
    $("#preview-html-btn").addEventListener("click", function () { setFormat("html"); });
    $("#preview-text-btn").addEventListener("click", function () { setFormat("text"); });
    $("#test-send").addEventListener("click", sendTest);
    $("#test-to").addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); sendTest(); } });
    renderPreview();
  }

  // ---- Onboarding -------------------------------------------------------

  function loadOnboarding(refresh) {
    return api("GET", "/api/admin/onboarding" + (refresh ? "?refresh=1" : "")).then(function (o) {
      var items = [["#ob-block", o.block_added], ["#ob-sender", o.sender_set], ["#ob-test", o.test_sent]];
      var done = 0;
      items.forEach(function (it) { $(it[0]).classList.toggle("done", !!it[1]); if (it[1]) done++; });
      $("#onboarding-count").textContent = done + " of 3 done";
      $("#ob-block-link").href = o.block_link;
      $("#ob-embed-link").href = o.embed_link;
      $("#ob-block-detail").textContent = o.block_added ?
        (o.block_evidence === "theme" ? "Found in your published theme" + (o.theme_name ? " (" + o.theme_name + ")" : "") + "." : "Shoppers are already signing up through it.") :
        (o.theme_error ? "We could not read your theme; add the block, then check again." : "Not in your published theme" + (o.theme_name ? " (" + o.theme_name + ")" : "") + " yet. Shoppers see it on sold-out variants only.");
      $("#onboarding").hidden = done === 3;
    }).catch(function () { /* the checklist is a help, not the page */ });
  }

  // ---- Demand -------------------------------------------------------------

  function stockBadge(v) {
    if (v.in_stock) return el("span", { class: "badge success", text: "In stock" });
    if (!v.tracked) return el("span", { class: "badge", text: "Not tracked" });
    return el("span", { class: "badge critical", text: v.sellable_online > 0 ? "Below threshold (" + v.sellable_online + ")" : "Sold out" });
  }

  function productCell(title, variant, image) {
    var img = image ? el("img", { class: "thumb", src: image, alt: "", loading: "lazy" }) : el("span", { class: "thumb", "aria-hidden": "true" });
    return el("div", { class: "product-cell" }, [img, el("div", {}, [el("div", { text: title }), variant ? el("div", { class: "subdued", text: variant }) : null])]);
  }

  function loadDemand() {
    var tb = $("#demand-table tbody");
    return api("GET", "/api/admin/demand").then(function (d) {
      tb.textContent = "";
      d.variants.forEach(function (v) {
        tb.appendChild(el("tr", {}, [
          el("td", {}, [productCell(v.product_title, v.variant_title, v.image_url)]),
          el("td", { "data-label": "Stock" }, [stockBadge(v)]),
          el("td", { class: "num", "data-label": "Waiting", text: String(v.waiting) }),
          el("td", { "data-label": "Waiting since", text: since(v.oldest_wait), title: formatDate(v.oldest_wait) })
        ]));
      });
      $("#demand-empty").hidden = d.variants.length > 0;
      $("#demand-table").hidden = d.variants.length === 0;
    }).catch(function (err) { toast(err.message, true); loaded.demand = false; });
  }

  // ---- Results ------------------------------------------------------------

  function pct(n) { return (Math.round(n * 1000) / 10).toLocaleString() + "%"; }
  function money(list) { return list && list.length ? list.map(function (m) { return m.display; }).join(" + ") : "—"; }
  function duration(secs) {
    if (secs == null) return "—";
    if (secs < 3600) return Math.max(1, Math.round(secs / 60)) + " min";
    if (secs < 172800) return Math.round(secs / 3600) + " h";
    return Math.round(secs / 86400) + " days";
  }
  var RESTOCK_STATUS = { open: ["In stock", "success"], sold_out: ["Sold out again", "critical"], uninstalled: ["Stopped", ""], completed: ["Done", ""] };

  var resultsNext = 0, resultsLoading = false;
  function loadResults(before) {
    if (resultsLoading) return Promise.resolve();
    resultsLoading = true;
    $("#results-more").disabled = true;
    return api("GET", "/api/admin/restocks" + (before ? "?before=" + before : "")).then(function (d) {
      var t = d.totals;
      $("#tot-revenue").textContent = money(t.revenue);
      $("#tot-orders").textContent = t.orders.toLocaleString();
      $("#tot-recipients").textContent = t.recipients.toLocaleString();
      $("#tot-restocks").textContent = t.restocks.toLocaleString();
      $("#tot-uncredited").textContent = t.uncredited_orders ? t.uncredited_orders.toLocaleString() + (t.uncredited_orders === 1 ? " order" : " orders") +
        " by waiting shoppers placed before any email reached them " + (t.uncredited_orders === 1 ? "is" : "are") + " not counted." : "";
      var tb = $("#results-table tbody");
      if (!before) tb.textContent = "";
      d.restocks.forEach(function (r) {
        var st = r.status === "open" ? RESTOCK_STATUS.open : (RESTOCK_STATUS[r.close_reason] || ["Closed", ""]);
        var rate = function (n, of) { return of ? n.toLocaleString() + " (" + pct(n / of) + ")" : "—"; };
        tb.appendChild(el("tr", {}, [
          el("td", {}, [productCell(r.product_title, (r.variant_title ? r.variant_title + " · " : "") + "restocked " + formatDate(r.opened_at) + " with " + r.stock_at_open + (r.stock_at_open === 1 ? " unit" : " units"), r.image_url)]),
          el("td", { class: "num", "data-label": "Emailed", text: r.recipients.toLocaleString() }),
          el("td", { class: "num", "data-label": "Opened", text: rate(r.opened, r.recipients) }),
          el("td", { class: "num", "data-label": "Clicked", text: rate(r.clicked, r.recipients) }),
          el("td", { class: "num", "data-label": "Orders", text: r.orders.toLocaleString() + (r.recipients ? " (" + pct(r.conversion_rate) + " bought)" : "") }),
          el("td", { class: "num", "data-label": "Revenue", text: money(r.revenue) }),
          el("td", { "data-label": "Time to purchase", text: r.median_seconds_to_purchase == null ? "—" : "median " + duration(r.median_seconds_to_purchase) }),
          el("td", { "data-label": "Status" }, [el("span", { class: "badge " + st[1], text: st[0] })])
        ]));
      });
      resultsNext = d.next;
      $("#results-more-wrap").hidden = !d.next;
      var none = !before && d.restocks.length === 0;
      $("#results-empty").hidden = !none;
      $("#results-table").hidden = none;
    }).catch(function (err) { toast(err.message, true); loaded.results = false; })
      .then(function () { resultsLoading = false; $("#results-more").disabled = false; });
  }

  // ---- Subscribers --------------------------------------------------------

  var subs = { before: 0, history: [], next: 0 };
  var STATUS_BADGE = { waiting: "info", notified: "", converted: "success", unsubscribed: "critical", expired: "" };

  function subFilters() {
    var p = new URLSearchParams();
    var q = $("#sub-search").value.trim(), prod = $("#sub-product").value, st = $("#sub-status").value;
    if (q) p.set("q", q);
    if (prod) p.set("product_id", prod);
    if (st) p.set("status", st);
    return p;
  }

  function loadProducts() {
    return api("GET", "/api/admin/products").then(function (d) {
      var sel = $("#sub-product");
      d.products.forEach(function (p) { sel.appendChild(el("option", { value: String(p.product_id), text: p.title || ("Product " + p.product_id) })); });
    }).catch(function () {});
  }

  var subSeq = 0;
  function loadSubscribers() {
    var p = subFilters();
    if (subs.before) p.set("before", String(subs.before));
    var seq = ++subSeq;
    $("#sub-table").setAttribute("aria-busy", "true");
    return api("GET", "/api/admin/subscribers?" + p.toString()).then(function (d) {
      if (seq !== subSeq) return;
      var tb = $("#sub-table tbody");
      tb.textContent = "";
      d.subscribers.forEach(function (s) {
        var del = el("button", { type: "button", class: "button plain critical", text: "Delete", "aria-label": "Delete " + s.email });
        del.addEventListener("click", function () { deleteSubscriber(s, del); });
        tb.appendChild(el("tr", {}, [
          el("td", { class: "email-cell", text: s.email }),
          el("td", { "data-label": "Product", text: s.product_title + (s.variant_title ? " · " + s.variant_title : "") }),
          el("td", { "data-label": "Status" }, [el("span", { class: "badge " + (STATUS_BADGE[s.status] || ""), text: s.status.charAt(0).toUpperCase() + s.status.slice(1) })]),
          el("td", { "data-label": "Signed up", text: formatDate(s.created_at) }),
          el("td", {}, [del])
        ]));
      });
      subs.next = d.next;
      $("#sub-count").textContent = d.total.toLocaleString() + (d.total === 1 ? " subscriber" : " subscribers");
      var filtered = subFilters().toString() !== "";
      $("#sub-empty").textContent = filtered ? "No subscribers match." : "No subscribers yet. Shoppers who ask to be told about a sold-out product show up here.";
      $("#sub-empty").hidden = d.subscribers.length > 0;
      $("#sub-export").disabled = d.total === 0;
      $("#sub-next").disabled = !d.next;
      $("#sub-prev").disabled = subs.history.length === 0;
      $("#sub-table").removeAttribute("aria-busy");
    }).catch(function (err) { if (seq === subSeq) toast(err.message, true); });
  }

  function resetSubscribers() { subs.before = 0; subs.history = []; loadSubscribers(); }

  function deleteSubscriber(s, btn) {
    if (!window.confirm("Delete " + s.email + "? They will not be emailed about " + (s.product_title || "this product") + ".")) return;
    btn.disabled = true;
    api("DELETE", "/api/admin/subscribers/" + s.id).then(function () {
      toast("Deleted " + s.email);
      loadSubscribers();
    }).catch(function (err) { btn.disabled = false; toast(err.message, true); });
  }

  function exportCSV() {
    var btn = $("#sub-export");
    btn.disabled = true;
    api("GET", "/api/admin/subscribers.csv?" + subFilters().toString(), undefined, true).then(function (res) {
      var name = (/filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "") || [])[1] || "subscribers.csv";
      return res.blob().then(function (b) {
        var a = el("a", { href: URL.createObjectURL(b), download: name });
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
        toast("Export downloaded");
      });
    }).catch(function (err) { toast(err.message, true); }).then(function () { btn.disabled = false; });
  }

  function initSubscribers() {
    $("#sub-search").addEventListener("input", debounce(resetSubscribers, 300));
    $("#sub-product").addEventListener("change", resetSubscribers);
    $("#sub-status").addEventListener("change", resetSubscribers);
    $("#sub-next").addEventListener("click", function () { subs.history.push(subs.before); subs.before = subs.next; loadSubscribers(); });
    $("#sub-prev").addEventListener("click", function () { subs.before = subs.history.pop() || 0; loadSubscribers(); });
    $("#sub-export").addEventListener("click", exportCSV);
  }

  // ---- Start ------------------------------------------------------------

  function start() {
    initTabs();
    initSubscribers();
    $$("[data-goto]").forEach(function (b) {
      b.addEventListener("click", function () {
        selectTab("emails");
        var target = $("#" + b.dataset.goto);
        target.scrollIntoView({ behavior: "smooth", block: "start" });
        var inp = target.querySelector("input");
        if (inp) inp.focus({ preventScroll: true });
      });
    });
    $("#ob-recheck").addEventListener("click", function () { loadOnboarding(true); });
    $("#results-more").addEventListener("click", function () { loadResults(resultsNext); });
    // The shop endpoint installs the shop (token exchange) on first load.
    api("GET", "/api/admin/shop").then(function () {
      return Promise.all([api("GET", "/api/admin/settings").then(initSettings), loadOnboarding()]);
    }).then(function () {
      $("#app").setAttribute("aria-busy", "false");
      document.documentElement.dataset.ready = "true";
    }).catch(function (err) {
      var b = $("#load-error");
      b.textContent = err.message + " Reload the page to try again.";
      b.hidden = false;
      $("#app").setAttribute("aria-busy", "false");
      document.documentElement.dataset.ready = "error";
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
