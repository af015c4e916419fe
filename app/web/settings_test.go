package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

func adminDo(t *testing.T, e *apptest.Env, method, path, shop string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.Server.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.SessionToken(shop))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestSettingsAPI(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		other, _ := e.Flow.InstallShop(t.Context(), "other-shop.myshopify.com", "shpat_o", "", "")

		code, got := adminDo(t, e, http.MethodGet, "/api/admin/settings", apptest.ShopDomain, nil)
		if code != 200 {
			t.Fatalf("get: %d %v", code, got)
		}
		var view restock.SettingsView
		b, _ := json.Marshal(got)
		json.Unmarshal(b, &view)
		if view.Settings.Step2DelaySeconds != 86400 || len(view.Settings.Copy) != 3 || len(view.Variables) == 0 {
			t.Fatalf("defaults: %+v", view)
		}

		in := view.Settings
		in.Step2DelaySeconds = 3 * 3600
		in.Copy[1].Subject = "Almost gone: {{ product.title }}"
		in.Copy = append(in.Copy, restock.CopyInput{Step: 1, Locale: "de", Subject: "{{ product.title }} ist wieder da",
			Heading: "Wieder da", Body: "{{ product.title }} ist wieder auf Lager bei {{ shop.name }}.", Button: "Jetzt kaufen"})

		// Hostile and broken input: each field named, nothing saved.
		bad := in
		bad.Copy = append([]restock.CopyInput(nil), in.Copy...)
		bad.Copy[0].Subject = "Back: {{ product.titel }}"
		bad.Copy[0].Body = "Hello {{ product.title"
		bad.Step2DelaySeconds = 60
		bad.ReplyTo = "not an address"
		bad.BrandColor = "red;}"
		bad.SenderName = "Shop\r\nBcc: x@y.com"
		code, got = adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, bad)
		fields := map[string]bool{}
		for _, f := range got["fields"].([]any) {
			fields[f.(map[string]any)["field"].(string)] = true
		}
		for _, f := range []string{"copy[0].subject", "copy[0].body", "step2_delay_seconds", "reply_to", "brand_color", "sender_name"} {
			if !fields[f] {
				t.Errorf("no inline error for %s: %v", f, got)
			}
		}
		if code != 422 || e.Count(&store.Copy{}, "") != 0 {
			t.Fatalf("bad save: %d, copy rows %d", code, e.Count(&store.Copy{}, ""))
		}
		if !strings.Contains(mustJSON(got["fields"]), "unknown variable {{ product.titel }}") {
			t.Errorf("the unknown variable is not named: %v", got)
		}

		if code, got = adminDo(t, e, http.MethodPut, "/api/admin/settings", apptest.ShopDomain, in); code != 200 {
			t.Fatalf("save: %d %v", code, got)
		}
		s, _ := store.SettingsFor(t.Context(), e.Store.DB, e.Shop.ID)
		if s.Step2DelaySeconds != 3*3600 {
			t.Fatalf("delay not saved: %d", s.Step2DelaySeconds)
		}
		// The other shop sees its own defaults.
		_, got = adminDo(t, e, http.MethodGet, "/api/admin/settings", other.Domain, nil)
		if strings.Contains(mustJSON(got), "Almost gone") || strings.Contains(mustJSON(got), "Wieder da") {
			t.Fatal("another shop sees this shop's copy")
		}

		// Preview escapes merchant markup.
		code, got = adminDo(t, e, http.MethodPost, "/api/admin/preview", apptest.ShopDomain, map[string]any{"step": 1,
			"subject": "Hi", "heading": "<script>alert(1)</script>", "body": "{{ product.title }} is back", "button": "Buy"})
		if code != 200 || strings.Contains(got["html"].(string), "<script>alert(1)") || !strings.Contains(got["html"].(string), "&lt;script&gt;") {
			t.Fatalf("preview: %d %v", code, got["html"])
		}

		// A restock uses the saved copy: German shoppers get the German one.
		v := apptest.Variant(7)
		e.Shopify.PutVariant(apptest.ShopDomain, v)
		e.Subscribe("en@example.com", 7)
		body, _ := json.Marshal(map[string]any{"email": "de@example.com", "variant_id": "7", "locale": "de-DE"})
		resp, _ := http.Post(e.ProxyURL("/proxy/subscribe", "", nil), "application/json", bytes.NewReader(body))
		resp.Body.Close()
		e.Shopify.SetAvailable(apptest.ShopDomain, 7, 1, 5)
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(v.InventoryItemID, 1, apptest.Int(5), e.Clock.Now()))
		e.Drain()
		subjects := map[string]string{}
		for _, d := range e.SendGrid.Recipients() {
			subjects[d.To] = d.Subject
		}
		if subjects["de@example.com"] != "Example T-Shirt ist wieder da" || !strings.Contains(subjects["en@example.com"], "back in stock") {
			t.Fatalf("subjects by locale: %v", subjects)
		}
		// A running campaign keeps its plan: the reminder goes 3 h later.
		e.Advance(3*3600*1e9 + 1e9)
		n := 0
		for _, d := range e.SendGrid.Recipients() {
			if d.CustomArgs["step"] == "2" {
				n++
				if d.To == "en@example.com" && d.Subject != "Almost gone: Example T-Shirt" {
					t.Errorf("reminder subject %q", d.Subject)
				}
			}
		}
		if n != 2 {
			t.Fatalf("reminders after 3 h: %d", n)
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestSettingsAPIRefusesBadTokens(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	for _, r := range []struct{ method, path string }{{"GET", "/api/admin/settings"}, {"PUT", "/api/admin/settings"}, {"POST", "/api/admin/preview"}} {
		req, _ := http.NewRequest(r.method, e.Server.URL+r.path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s %s without a token: %d", r.method, r.path, resp.StatusCode)
		}
	}
}
