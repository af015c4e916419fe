package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/app/web"
	"github.com/restockrelay/restockrelay/shopify"
)

// webhookHeaders are the headers Shopify sends with body, signed with secret.
func webhookHeaders(e *apptest.Env, secret, topic, id string, body []byte) http.Header {
	return hdr(
		"Content-Type", "application/json",
		shopify.HeaderTopic, topic,
		shopify.HeaderShopDomain, apptest.ShopDomain,
		shopify.HeaderAPIVersion, "2026-10",
		shopify.HeaderWebhookID, id,
		shopify.HeaderTriggeredAt, e.Clock.Now().Format(time.RFC3339Nano),
		shopify.HeaderHMAC, shopify.SignWebhook(secret, body),
	)
}

// with returns a copy of h with key set to value ("" deletes it).
func with(h http.Header, key, value string) http.Header {
	c := h.Clone()
	if value == "" {
		c.Del(key)
	} else {
		c.Set(key, value)
	}
	return c
}

// webhookRow loads the delivery recorded under a webhook id.
func webhookRow(t *testing.T, e *apptest.Env, id string) store.Webhook {
	t.Helper()
	var w store.Webhook
	if err := e.Store.DB.Where("webhook_id = ?", id).Take(&w).Error; err != nil {
		t.Fatalf("webhook %s: %v", id, err)
	}
	return w
}

// statusIs checks the recorded status of a delivery.
func statusIs(e *apptest.Env, id, want string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		if w := webhookRow(t, e, id); w.Status != want {
			t.Errorf("webhook %s status = %q (error %q), want %q", id, w.Status, w.Error, want)
		}
	}
}

// padJSON is a valid JSON object of exactly n bytes.
func padJSON(n int) []byte {
	const head, tail = `{"pad":"`, `"}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

func TestWebhookIntake(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		now := e.Clock.Now()
		inv := apptest.InventoryLevel(9001, 1, apptest.Int(3), now)
		sign := func(topic, id string, body []byte) http.Header {
			return webhookHeaders(e, apptest.Secret, topic, id, body)
		}
		topic := shopify.TopicInventoryLevelsUpdate
		good := sign(topic, "wh-good", inv)
		big := padJSON(web.MaxWebhookBody + 1)
		exact := padJSON(web.MaxWebhookBody)
		notJSON := []byte("this is {not json")
		wrongTypes := []byte(`{"inventory_item_id":9002,"location_id":1,"available":"lots","updated_at":"2030-03-01T15:00:00Z"}`)

		// raw requests: headers as Shopify signs them, with a Content-Length of our choosing.
		rawPost := func(h http.Header, contentLength string, body []byte) []byte {
			var b bytes.Buffer
			fmt.Fprintf(&b, "POST /webhooks HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", e.Server.Listener.Addr())
			for k, vs := range h {
				for _, v := range vs {
					fmt.Fprintf(&b, "%s: %s\r\n", k, v)
				}
			}
			fmt.Fprintf(&b, "Content-Length: %s\r\n\r\n", contentLength)
			b.Write(body)
			return b.Bytes()
		}

		runCases(t, e, []httpCase{
			{name: "valid signed delivery is recorded with its job", url: "/webhooks", header: good, body: inv,
				status: http.StatusOK, text: `"status":"queued"`, want: effects{Webhooks: 1, Jobs: 1},
				check: func(t *testing.T, r response) {
					w := webhookRow(t, e, "wh-good")
					if w.Topic != topic || w.ShopDomain != apptest.ShopDomain || !bytes.Equal(w.Body, inv) || w.TriggeredAt == nil {
						t.Errorf("recorded %+v", w)
					}
				}},
			{name: "same webhook id again is a duplicate", url: "/webhooks", header: good, body: inv,
				status: http.StatusOK, text: `"status":"duplicate"`},
			{name: "valid delivery is processed", url: "/webhooks", header: sign(topic, "wh-processed", inv), body: inv, drain: true,
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-processed", store.WebhookProcessed)},

			// Signatures: 401 and nothing stored.
			{name: "missing HMAC", url: "/webhooks", header: with(sign(topic, "wh-nohmac", inv), shopify.HeaderHMAC, ""), body: inv,
				status: http.StatusUnauthorized, text: "X-Shopify-Hmac-Sha256"},
			{name: "wrong HMAC", url: "/webhooks", header: with(sign(topic, "wh-wrong", inv), shopify.HeaderHMAC, strings.Repeat("A", 43)+"="), body: inv,
				status: http.StatusUnauthorized},
			{name: "malformed HMAC", url: "/webhooks", header: with(sign(topic, "wh-malformed", inv), shopify.HeaderHMAC, "not base64!"), body: inv,
				status: http.StatusUnauthorized},
			{name: "HMAC as hex instead of base64", url: "/webhooks", body: inv, status: http.StatusUnauthorized,
				header: with(sign(topic, "wh-hex", inv), shopify.HeaderHMAC, hexMAC(t, shopify.SignWebhook(apptest.Secret, inv)))},
			{name: "HMAC of a different body", url: "/webhooks", body: inv, status: http.StatusUnauthorized,
				header: with(sign(topic, "wh-otherbody", inv), shopify.HeaderHMAC, shopify.SignWebhook(apptest.Secret, append(append([]byte{}, inv...), '\n')))},
			{name: "HMAC of the same JSON re-serialised", url: "/webhooks", body: inv, status: http.StatusUnauthorized,
				header: with(sign(topic, "wh-reser", inv), shopify.HeaderHMAC, shopify.SignWebhook(apptest.Secret, reindent(t, inv)))},
			{name: "HMAC with another secret", url: "/webhooks", body: inv, status: http.StatusUnauthorized,
				header: webhookHeaders(e, "another-secret", topic, "wh-othersecret", inv)},

			// Size: 413 and nothing stored, whatever the Content-Length says.
			{name: "body of 1 MiB + 1 byte", url: "/webhooks", header: sign(topic, "wh-big", big), body: big,
				status: http.StatusRequestEntityTooLarge, text: "1 MiB"},
			{name: "body of 1 MiB + 1 byte, chunked", url: "/webhooks", header: sign(topic, "wh-big-chunked", big), body: big, chunked: true,
				status: http.StatusRequestEntityTooLarge, text: "1 MiB"},
			{name: "Content-Length above 1 MiB, refused before the body is read",
				raw:    rawPost(sign(topic, "wh-big-cl", big), fmt.Sprint(web.MaxWebhookBody+1), nil),
				status: http.StatusRequestEntityTooLarge, text: "1 MiB"},
			{name: "Content-Length smaller than the signed body",
				raw:    rawPost(sign(topic, "wh-short-cl", big), "100", big),
				status: http.StatusUnauthorized},
			{name: "body of exactly 1 MiB, chunked, is accepted", url: "/webhooks", header: sign(topic, "wh-exact", exact), body: exact, chunked: true,
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}},

			// Headers.
			{name: "missing topic", url: "/webhooks", header: with(sign(topic, "wh-notopic", inv), shopify.HeaderTopic, ""), body: inv,
				status: http.StatusBadRequest, text: "X-Shopify-Topic"},
			{name: "missing webhook id", url: "/webhooks", header: with(sign(topic, "", inv), shopify.HeaderWebhookID, ""), body: inv,
				status: http.StatusBadRequest, text: "X-Shopify-Webhook-Id"},
			{name: "webhook id longer than 255", url: "/webhooks", header: sign(topic, strings.Repeat("i", 256), inv), body: inv,
				status: http.StatusBadRequest},
			{name: "shop header evil.com", url: "/webhooks", header: with(sign(topic, "wh-evil", inv), shopify.HeaderShopDomain, "evil.com"), body: inv,
				status: http.StatusBadRequest, text: "myshopify.com"},
			{name: "shop header with a path", url: "/webhooks", body: inv, status: http.StatusBadRequest,
				header: with(sign(topic, "wh-evil2", inv), shopify.HeaderShopDomain, "demo-shop.myshopify.com.evil.com")},
			{name: "missing shop header", url: "/webhooks", header: with(sign(topic, "wh-noshop", inv), shopify.HeaderShopDomain, ""), body: inv,
				status: http.StatusBadRequest},
			{name: "GET is not allowed", url: "/webhooks", status: http.StatusMethodNotAllowed},

			// Bodies that are signed but unusable: acknowledged, kept, never a crash.
			{name: "signed body that is not JSON is kept as invalid", url: "/webhooks", header: sign(topic, "wh-notjson", notJSON), body: notJSON, drain: true,
				status: http.StatusOK, text: `"status":"invalid"`, want: effects{Webhooks: 1},
				check: func(t *testing.T, r response) {
					w := webhookRow(t, e, "wh-notjson")
					if w.Status != store.WebhookInvalid || !bytes.Equal(w.Body, notJSON) || w.Error == "" {
						t.Errorf("recorded status %q, error %q, body %q; want invalid with its body", w.Status, w.Error, w.Body)
					}
				}},
			{name: "empty signed body is kept as invalid", url: "/webhooks", header: sign(topic, "wh-empty", []byte{}), body: []byte{},
				status: http.StatusOK, text: `"status":"invalid"`, want: effects{Webhooks: 1}, check: statusIs(e, "wh-empty", store.WebhookInvalid)},
			{name: "unknown topic is ignored", url: "/webhooks", header: sign("carts/update", "wh-unknown", inv), body: inv,
				status: http.StatusOK, text: `"status":"ignored"`, want: effects{Webhooks: 1},
				check: func(t *testing.T, r response) {
					if w := webhookRow(t, e, "wh-unknown"); w.Status != store.WebhookIgnored || len(w.Body) != 0 {
						t.Errorf("recorded status %q with %d body bytes; want ignored, body dropped", w.Status, len(w.Body))
					}
				}},
			{name: "wrong types are accepted, then processed to invalid", url: "/webhooks", header: sign(topic, "wh-types", wrongTypes), body: wrongTypes,
				drain: true, status: http.StatusOK, text: `"status":"queued"`, want: effects{Webhooks: 1, Jobs: 1},
				check: func(t *testing.T, r response) {
					w := webhookRow(t, e, "wh-types")
					if w.Status != store.WebhookInvalid || w.Error == "" || w.ProcessedAt == nil {
						t.Errorf("after processing: status %q, error %q; want invalid with a reason", w.Status, w.Error)
					}
				}},
			{name: "inventory payload without ids is processed to invalid", url: "/webhooks", header: sign(topic, "wh-noids", []byte(`{}`)), body: []byte(`{}`),
				drain: true, status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-noids", store.WebhookInvalid)},
			{name: "JSON array for an order is processed to invalid", url: "/webhooks", header: sign(shopify.TopicOrdersCreate, "wh-array", []byte(`[1,2]`)), body: []byte(`[1,2]`),
				drain: true, status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-array", store.WebhookInvalid)},
			{name: "variant id as a string is processed to invalid", url: "/webhooks", drain: true,
				header: sign(shopify.TopicVariantsInStock, "wh-variant-str", []byte(`{"id":"abc"}`)), body: []byte(`{"id":"abc"}`),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-variant-str", store.WebhookInvalid)},
			{name: "product whose variants are an object is processed to invalid", url: "/webhooks", drain: true,
				header: sign(shopify.TopicProductsUpdate, "wh-product-obj", []byte(`{"id":1,"variants":{}}`)), body: []byte(`{"id":1,"variants":{}}`),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-product-obj", store.WebhookInvalid)},
			{name: "order with an unreadable created_at is processed to invalid", url: "/webhooks", drain: true,
				header: sign(shopify.TopicOrdersCreate, "wh-order-time", []byte(`{"id":1,"created_at":"yesterday"}`)), body: []byte(`{"id":1,"created_at":"yesterday"}`),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-order-time", store.WebhookInvalid)},
			{name: "order id above int64 is processed to invalid", url: "/webhooks", drain: true,
				header: sign(shopify.TopicOrdersCreate, "wh-order-big", []byte(`{"id":99999999999999999999,"created_at":"2030-03-01T15:00:00Z"}`)),
				body:   []byte(`{"id":99999999999999999999,"created_at":"2030-03-01T15:00:00Z"}`),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-order-big", store.WebhookInvalid)},
			{name: "untracked level (available null) is processed", url: "/webhooks", drain: true,
				header: sign(topic, "wh-null", apptest.InventoryLevel(9003, 1, nil, now)), body: apptest.InventoryLevel(9003, 1, nil, now),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-null", store.WebhookProcessed)},
			{name: "webhook id that is not UTF-8", url: "/webhooks", header: sign(topic, "wh-\xff\xfe", inv), body: inv,
				status: http.StatusBadRequest},
			{name: "topic that is not UTF-8", url: "/webhooks", header: sign("inventory_levels/\xff", "wh-topic-utf8", inv), body: inv,
				status: http.StatusBadRequest},
			{name: "topic longer than 100 characters", url: "/webhooks", header: sign(strings.Repeat("t", 101), "wh-longtopic", inv), body: inv,
				status: http.StatusBadRequest},
			{name: "delivery for a shop that is not installed is ignored at processing", url: "/webhooks", body: inv, drain: true,
				header: with(sign(topic, "wh-othershop", inv), shopify.HeaderShopDomain, "other-shop.myshopify.com"),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: statusIs(e, "wh-othershop", store.WebhookIgnored)},
		})
		if n := countRows(t, e, &store.Webhook{}, "status IN ?", []string{store.WebhookQueued, store.WebhookFailed}); n != 0 {
			t.Errorf("%d webhooks left queued or failed after draining", n)
		}
	})
}

// hexMAC is a base64 MAC in hex: the right MAC in the wrong encoding.
func hexMAC(t *testing.T, b64 string) string {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// reindent is the same JSON with other whitespace: Shopify signs the raw bytes.
func reindent(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestWebhookSameIDConcurrently delivers one webhook id 20 times at once:
// every delivery is acknowledged and exactly one is recorded and processed.
func TestWebhookSameIDConcurrently(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		body := apptest.InventoryLevel(9001, 1, apptest.Int(3), e.Clock.Now())
		const n = 20
		type answer struct {
			status int
			body   string
			err    error
		}
		answers := make([]answer, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.Server.URL+"/webhooks", bytes.NewReader(body))
				req.Header = webhookHeaders(e, apptest.Secret, shopify.TopicInventoryLevelsUpdate, "wh-same", body)
				resp, err := client.Do(req)
				if err != nil {
					answers[i].err = err
					return
				}
				defer resp.Body.Close()
				var b bytes.Buffer
				_, _ = b.ReadFrom(resp.Body)
				answers[i] = answer{status: resp.StatusCode, body: b.String()}
			})
		}
		close(start)
		wg.Wait()
		queued := 0
		for i, a := range answers {
			if a.err != nil || a.status != http.StatusOK {
				t.Errorf("delivery %d: %d %s %v, want 200", i, a.status, a.body, a.err)
			}
			if strings.Contains(a.body, `"queued"`) {
				queued++
			}
		}
		if queued != 1 {
			t.Errorf("%d deliveries answered queued, want exactly 1", queued)
		}
		if got := countRows(t, e, &store.Webhook{}, "webhook_id = ?", "wh-same"); got != 1 {
			t.Errorf("webhook rows = %d, want 1", got)
		}
		if got := countTable(t, e, "river_job"); got != 1 {
			t.Errorf("jobs = %d, want 1", got)
		}
		e.Drain()
		if w := webhookRow(t, e, "wh-same"); w.Status != store.WebhookProcessed {
			t.Errorf("status after processing = %q, want processed", w.Status)
		}
	})
}

// TestWebhookBadDeliveryDoesNotFailOthers: deliveries that arrive together
// share one commit (app/restock/intake.go). One delivery the database
// refuses (a webhook id that is not UTF-8: PostgreSQL TEXT rejects it) must
// not turn the deliveries it happened to share a commit with into 500s.
// Whatever the batching, every good delivery must be acknowledged.
func TestWebhookBadDeliveryDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		body := apptest.InventoryLevel(9001, 1, apptest.Int(3), e.Clock.Now())
		const rounds, perRound = 5, 60
		var mu sync.Mutex
		var failed []string
		for round := range rounds {
			var wg sync.WaitGroup
			for i := range perRound {
				wg.Go(func() {
					id := fmt.Sprintf("wh-%d-%d", round, i)
					if i == perRound/2 {
						id = "wh-\xff" + id // refused by PostgreSQL
					}
					req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.Server.URL+"/webhooks", bytes.NewReader(body))
					req.Header = webhookHeaders(e, apptest.Secret, shopify.TopicInventoryLevelsUpdate, id, body)
					resp, err := client.Do(req)
					status := 0
					if err == nil {
						status = resp.StatusCode
						resp.Body.Close()
					}
					if i != perRound/2 && status != http.StatusOK {
						mu.Lock()
						failed = append(failed, fmt.Sprintf("%s: %d %v", id, status, err))
						mu.Unlock()
					}
				})
			}
			wg.Wait()
		}
		if len(failed) > 0 {
			t.Errorf("%d of %d good deliveries not acknowledged, e.g. %v", len(failed), rounds*(perRound-1), failed[0])
		}
		if n := countRows(t, e, &store.Webhook{}, "webhook_id LIKE ?", "wh-%-%"); n < rounds*(perRound-1) {
			t.Errorf("%d good deliveries recorded, want %d", n, rounds*(perRound-1))
		}
	})
}

// TestWebhookUninstall: app/uninstalled stops the shop before the answer,
// unless Shopify triggered it before the shop's latest install.
func TestWebhookUninstall(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		body := apptest.Fixture(t, "shopify/app_uninstalled.json")
		topic := shopify.TopicAppUninstalled
		installedAt := e.Clock.Now()
		uninstall := func(id string, triggered time.Time) http.Header {
			h := webhookHeaders(e, apptest.Secret, topic, id, body)
			if triggered.IsZero() {
				h.Del(shopify.HeaderTriggeredAt)
			} else {
				h.Set(shopify.HeaderTriggeredAt, triggered.Format(time.RFC3339Nano))
			}
			return h
		}
		// installed checks the shop right after the answer, before any job ran.
		installed := func(want bool) func(t *testing.T, r response) {
			return func(t *testing.T, r response) {
				t.Helper()
				sh, err := store.ShopByDomain(context.Background(), e.Store.DB, apptest.ShopDomain)
				if err != nil {
					t.Fatal(err)
				}
				if sh.Active() != want || (sh.UninstalledAt == nil) != want || (sh.AccessToken != "") != want {
					t.Errorf("installed = %v (uninstalled_at %v, token kept %v), want %v", sh.Active(), sh.UninstalledAt, sh.AccessToken != "", want)
				}
			}
		}
		subscribe := func(email string) []byte {
			b, _ := json.Marshal(map[string]string{"email": email, "variant_id": fmt.Sprint(variantID)})
			return b
		}
		jsonHdr := hdr("Content-Type", "application/json")
		reinstall := func(t *testing.T) {
			e.Clock.Advance(time.Hour)
			if _, err := e.Flow.InstallShop(context.Background(), apptest.ShopDomain, apptest.AccessToken, "Demo Shop", "USD"); err != nil {
				t.Fatal(err)
			}
		}

		runCases(t, e, []httpCase{
			{name: "uninstall triggered before the install is ignored", url: "/webhooks", body: body,
				header: uninstall("wh-u-stale", installedAt.Add(-time.Hour)),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: installed(true)},
			{name: "shop still takes signups", url: e.ProxyURL("/proxy/subscribe", "", nil), header: jsonHdr, body: subscribe("ann@example.com"),
				status: http.StatusCreated, want: effects{Subscriptions: 1}},
			{name: "uninstall takes effect before the answer", url: "/webhooks", body: body,
				header: uninstall("wh-u-now", installedAt),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: installed(false)},
			{name: "uninstalled shop takes no signups", url: e.ProxyURL("/proxy/subscribe", "", nil), header: jsonHdr, body: subscribe("bob@example.com"),
				status: http.StatusNotFound, text: "does not have Restock Relay installed"},
			{name: "repeated uninstall is a duplicate", url: "/webhooks", body: body, header: uninstall("wh-u-now", installedAt),
				drain: true, status: http.StatusOK, text: "duplicate", check: installed(false)},
			{name: "late uninstall from before a reinstall is ignored", url: "/webhooks", body: body, before: reinstall,
				header: uninstall("wh-u-late", installedAt.Add(time.Minute)), drain: true,
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: installed(true)},
			{name: "uninstall without X-Shopify-Triggered-At takes effect", url: "/webhooks", body: body,
				header: uninstall("wh-u-notime", time.Time{}),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: installed(false)},
			{name: "uninstall for another shop changes nothing here", url: "/webhooks", body: body, before: reinstall,
				header: with(uninstall("wh-u-other", time.Time{}), shopify.HeaderShopDomain, "other-shop.myshopify.com"),
				status: http.StatusOK, want: effects{Webhooks: 1, Jobs: 1}, check: installed(true)},
		})
	})
}
