package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/app/web"
	"github.com/restockrelay/restockrelay/shopify"
)

func TestSendGridEventWebhook(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		priv, pub, err := fake.NewEventWebhookKey()
		if err != nil {
			t.Fatal(err)
		}
		key, err := web.ParseEventKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		e := apptest.New(t, dsn, apptest.Options{EventKey: key})
		const vid = int64(642667041472713922)
		v := apptest.Variant(vid)
		e.Shopify.PutVariant(apptest.ShopDomain, v)
		for _, s := range []string{"a@example.com", "b@example.com"} {
			if code, _ := e.Subscribe(s, vid); code != 201 {
				t.Fatal("subscribe")
			}
		}
		e.Shopify.SetAvailable(apptest.ShopDomain, vid, 1, 5)
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(v.InventoryItemID, 1, apptest.Int(5), e.Clock.Now()))
		e.Drain()
		args := map[string]map[string]string{}
		for _, d := range e.SendGrid.Recipients() {
			args[d.To] = d.CustomArgs
		}
		ev := func(to, kind string) map[string]any {
			m := map[string]any{"email": to, "event": kind, "timestamp": e.Clock.Now().Unix(), "sg_event_id": kind + to}
			for k, v := range args[to] {
				m[k] = v
			}
			return m
		}
		body := fake.EventBatch(ev("a@example.com", "open"), ev("a@example.com", "click"), ev("a@example.com", "open"), ev("b@example.com", "bounce"))
		ts := strconv.FormatInt(e.Clock.Now().Unix(), 10)
		post := func(body []byte, ts, sig string) int {
			req, _ := fake.NewEventRequest(context.Background(), e.Server.URL+"/sendgrid/events", priv, ts, body)
			if sig != "" {
				req.Header.Set(fake.EventWebhookSignatureHeader, sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for _, c := range []struct {
			name string
			body []byte
			ts   string
			sig  string
			want int
		}{
			{"tampered body", []byte(strings.Replace(string(body), "open", "click", 1)), ts, fake.SignEvents(priv, ts, body), 401},
			{"stale timestamp", body, strconv.FormatInt(e.Clock.Now().Add(-time.Hour).Unix(), 10), "", 401},
			{"garbage signature", body, ts, "bm90LWEtc2lnbmF0dXJl", 401},
		} {
			if got := post(c.body, c.ts, c.sig); got != c.want {
				t.Errorf("%s: status %d, want %d", c.name, got, c.want)
			}
		}
		if n := e.Count(&store.Message{}, "opened_at IS NOT NULL OR clicked_at IS NOT NULL"); n != 0 {
			t.Fatalf("refused posts changed %d messages", n)
		}
		for range 2 { // SendGrid redelivers: nothing changes the second time
			if got := post(body, ts, ""); got != 200 {
				t.Fatalf("signed batch: %d", got)
			}
		}
		if n := e.Count(&store.Message{}, "opened_at IS NOT NULL AND clicked_at IS NOT NULL"); n != 1 {
			t.Errorf("opened and clicked messages = %d, want 1", n)
		}
		if n := e.Count(&store.Suppression{}, "email = ? AND reason = ?", "b@example.com", "provider_bounce"); n != 1 {
			t.Errorf("bounce suppression rows = %d", n)
		}
		if n := e.Count(&store.Subscription{}, "email = ? AND status = ?", "b@example.com", store.SubUnsubscribed); n != 1 {
			t.Errorf("bounced subscription not stopped")
		}
	})
}
