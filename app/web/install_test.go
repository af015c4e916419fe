package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

const freshShop = "fresh-shop.myshopify.com"

func noRedirect() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func grants(f *fake.Shopify, grant string) int {
	n := 0
	for _, c := range f.OAuthCalls() {
		if c.Grant == grant && c.Status == 200 {
			n++
		}
	}
	return n
}

func TestManagedInstallByTokenExchange(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		var logs strings.Builder
		var mu sync.Mutex
		log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		e := apptest.New(t, dsn, apptest.Options{Logger: log})
		e.Shopify.AddShop(freshShop, "unused", "EUR")
		e.Shopify.PutVariant(freshShop, apptest.Variant(9))
		c := noRedirect()

		// First load of the embedded app: the install.
		id := e.SessionToken(freshShop)
		resp, body := get(t, c, e.Server.URL+"/app?embedded=1&shop="+freshShop+"&id_token="+url.QueryEscape(id))
		if resp.StatusCode != 200 || !strings.Contains(body, `name="shopify-api-key" content="`+apptest.APIKey+`"`) {
			t.Fatalf("/app: %d %s", resp.StatusCode, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://"+freshShop+" https://admin.shopify.com") {
			t.Fatalf("CSP %q", csp)
		}
		sh, err := store.ShopByDomain(t.Context(), e.Store.DB, freshShop)
		if err != nil || !sh.Active() || sh.RefreshToken == "" || sh.AccessTokenExpiresAt == nil {
			t.Fatalf("shop after token exchange: %+v %v", sh, err)
		}
		if grants(e.Shopify, fake.OAuthGrantTokenExchange) != 1 {
			t.Fatalf("token exchanges: %v", e.Shopify.OAuthCalls())
		}
		// A second load does not exchange again.
		get(t, c, e.Server.URL+"/app?shop="+freshShop+"&id_token="+url.QueryEscape(e.SessionToken(freshShop)))
		if grants(e.Shopify, fake.OAuthGrantTokenExchange) != 1 {
			t.Fatal("exchanged again for an installed shop")
		}

		// The admin API sees the install through the session token.
		resp, body = get(t, c, e.Server.URL+"/api/admin/shop", "Authorization", "Bearer "+e.SessionToken(freshShop))
		if resp.StatusCode != 200 || !strings.Contains(body, `"installed":true`) || !strings.Contains(body, `"expiring_offline_token":true`) {
			t.Fatalf("/api/admin/shop: %d %s", resp.StatusCode, body)
		}

		// Two hours later the access token has expired: the next Admin API
		// call refreshes it (rotation saved) and works.
		e.Clock.Advance(2 * time.Hour)
		before := sh.TokenVersion
		if _, err := e.Flow.AccessToken(t.Context(), sh, false); err != nil {
			t.Fatalf("refresh: %v", err)
		}
		sh, _ = store.ShopByDomain(t.Context(), e.Store.DB, freshShop)
		if sh.TokenVersion != before+1 || grants(e.Shopify, fake.OAuthGrantRefresh) != 1 {
			t.Fatalf("after refresh: version %d→%d, refreshes %d", before, sh.TokenVersion, grants(e.Shopify, fake.OAuthGrantRefresh))
		}
		if _, err := e.Flow.FetchVariant(t.Context(), sh, 9); err != nil {
			t.Fatalf("Admin API with the refreshed token: %v", err)
		}

		// Two replicas refreshing at once: both end with a working token and
		// the shop is not locked out.
		e.Clock.Advance(2 * time.Hour)
		sh, _ = store.ShopByDomain(t.Context(), e.Store.DB, freshShop)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.Flow.AccessToken(context.Background(), sh, false)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent refresh: %v", err)
			}
		}
		e.Clock.Advance(2 * time.Hour)
		sh, _ = store.ShopByDomain(t.Context(), e.Store.DB, freshShop)
		if _, err := e.Flow.FetchVariant(t.Context(), sh, 9); err != nil {
			t.Fatalf("locked out after concurrent refreshes: %v", err)
		}

		// Neither token is ever stored or logged in plain text.
		tok, _ := e.Flow.AccessToken(t.Context(), sh, false)
		var dump []string
		e.Store.DB.Raw("SELECT access_token || ' ' || refresh_token FROM shops").Scan(&dump)
		mu.Lock()
		all := strings.Join(dump, "\n") + logs.String()
		mu.Unlock()
		if tok == "" || strings.Contains(all, tok) || strings.Contains(all, "shpat_fake_") || strings.Contains(all, "shprt_fake_") {
			t.Fatal("a token appears in plain text in the database or the logs")
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestAuthorizationCodeInstall(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		e.Shopify.AddShop(freshShop, "unused", "USD")
		c := noRedirect()
		resp, _ := get(t, c, e.Server.URL+"/auth?shop="+strings.ToUpper(freshShop))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("/auth: %d", resp.StatusCode)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc.Host != freshShop || loc.Path != "/admin/oauth/authorize" || loc.Query().Get("client_id") != apptest.APIKey ||
			loc.Query().Get("redirect_uri") != e.Server.URL+"/auth/callback" {
			t.Fatalf("authorize redirect %s", loc)
		}
		state := loc.Query().Get("state")
		callback := func(state, code string, mutate func(url.Values)) (int, string) {
			q := url.Values{"code": {code}, "shop": {freshShop}, "state": {state}, "timestamp": {strconv.FormatInt(e.Clock.Now().Unix(), 10)},
				"host": {"YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZnJlc2gtc2hvcA"}}
			q.Set("hmac", shopify.SignOAuthQuery(apptest.Secret, q))
			if mutate != nil {
				mutate(q)
			}
			resp, body := get(t, c, e.Server.URL+"/auth/callback?"+q.Encode())
			return resp.StatusCode, body + resp.Header.Get("Location")
		}
		// Hostile rows first: none may install.
		for _, row := range []struct {
			name   string
			state  string
			mutate func(url.Values)
			want   int
		}{
			{"forged hmac", state, func(q url.Values) { q.Set("hmac", strings.Repeat("0", 64)) }, 400},
			{"hmac missing", state, func(q url.Values) { q.Del("hmac") }, 400},
			{"wrong state", "0123456789abcdef0123456789abcdef", nil, 403},
			{"another shop, signed", state, func(q url.Values) {
				q.Set("shop", "other-shop.myshopify.com")
				q.Del("hmac")
				q.Set("hmac", shopify.SignOAuthQuery(apptest.Secret, q))
			}, 403},
			{"shop evil.com, signed", state, func(q url.Values) {
				q.Set("shop", "evil.com")
				q.Del("hmac")
				q.Set("hmac", shopify.SignOAuthQuery(apptest.Secret, q))
			}, 400},
		} {
			if code, body := callback(row.state, e.Shopify.IssueCode(freshShop), row.mutate); code != row.want {
				t.Errorf("%s: %d %s, want %d", row.name, code, body, row.want)
			}
		}
		if _, err := store.ShopByDomain(t.Context(), e.Store.DB, freshShop); err == nil {
			t.Fatal("a hostile callback installed the shop")
		}
		code := e.Shopify.IssueCode(freshShop)
		if status, body := callback(state, code, nil); status != http.StatusFound || !strings.Contains(body, "https://"+freshShop+"/admin/apps/"+apptest.APIKey) {
			t.Fatalf("callback: %d %s", status, body)
		}
		sh, err := store.ShopByDomain(t.Context(), e.Store.DB, freshShop)
		if err != nil || !sh.Active() {
			t.Fatalf("not installed: %v", err)
		}
		// The state cookie is spent: a replay is refused before Shopify.
		if status, _ := callback(state, code, nil); status != http.StatusForbidden {
			t.Fatalf("replayed callback: %d, want 403", status)
		}
		// Missing state cookie (another browser).
		c2 := noRedirect()
		q := url.Values{"code": {"x"}, "shop": {freshShop}, "state": {state}, "timestamp": {strconv.FormatInt(e.Clock.Now().Unix(), 10)}}
		q.Set("hmac", shopify.SignOAuthQuery(apptest.Secret, q))
		if resp, _ := get(t, c2, e.Server.URL+"/auth/callback?"+q.Encode()); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("callback without cookie: %d", resp.StatusCode)
		}
		for _, shop := range []string{"evil.com", "x.myshopify.com.evil.com", "x.myshopify.com/../", "", " "} {
			if resp, _ := get(t, noRedirect(), e.Server.URL+"/auth?shop="+url.QueryEscape(shop)); resp.StatusCode != 400 {
				t.Errorf("/auth?shop=%q: %d, want 400", shop, resp.StatusCode)
			}
		}
	})
}

func TestAdminAPIRefusesBadSessionTokens(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	now := e.Clock.Now()
	claims := func(mut func(map[string]any)) map[string]any {
		m := map[string]any{"iss": "https://" + apptest.ShopDomain + "/admin", "dest": "https://" + apptest.ShopDomain, "aud": apptest.APIKey,
			"sub": "1", "exp": now.Add(time.Minute).Unix(), "nbf": now.Unix(), "iat": now.Unix(), "jti": "j", "sid": "s"}
		if mut != nil {
			mut(m)
		}
		return m
	}
	sign := func(secret string, m map[string]any) string {
		tok, _ := shopify.SignSessionToken(secret, m)
		return tok
	}
	rows := map[string]string{
		"missing":          "",
		"alg none":         "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(sign(apptest.Secret, claims(nil)), ".")[1] + ".",
		"wrong audience":   sign(apptest.Secret, claims(func(m map[string]any) { m["aud"] = "other-app" })),
		"expired":          sign(apptest.Secret, claims(func(m map[string]any) { m["exp"] = now.Add(-time.Minute).Unix() })),
		"not yet valid":    sign(apptest.Secret, claims(func(m map[string]any) { m["nbf"] = now.Add(time.Minute).Unix() })),
		"other secret":     sign("another-secret", claims(nil)),
		"dest other shop":  sign(apptest.Secret, claims(func(m map[string]any) { m["dest"] = "https://other-shop.myshopify.com" })),
		"dest not shopify": sign(apptest.Secret, claims(func(m map[string]any) { m["dest"] = "https://evil.com"; m["iss"] = "https://evil.com/admin" })),
	}
	for name, tok := range rows {
		for _, path := range []string{"/api/admin/shop", "/api/admin/data-requests"} {
			resp, body := get(t, http.DefaultClient, e.Server.URL+path, "Authorization", "Bearer "+tok)
			if resp.StatusCode != 401 || resp.Header.Get("X-Shopify-Retry-Invalid-Session-Request") != "1" {
				t.Errorf("%s %s: %d %s", name, path, resp.StatusCode, body)
			}
		}
	}
}

func TestDataRequestsStayInTheirShop(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(9))
		e.Subscribe("john@example.com", 9)
		other, _ := e.Flow.InstallShop(t.Context(), "other-shop.myshopify.com", "shpat_o", "", "")
		e.Store.DB.Create(&store.Subscription{ShopID: other.ID, VariantID: 1, Email: "john@example.com", Status: store.SubWaiting})
		body, _ := json.Marshal(map[string]any{"shop_id": 1, "shop_domain": apptest.ShopDomain, "customer": map[string]any{"id": 5, "email": "John@Example.com"},
			"orders_requested": []int{1}, "data_request": map[string]any{"id": 9999}})
		e.Webhook(shopify.TopicCustomersDataRequest, body)
		e.Drain()
		resp, got := get(t, http.DefaultClient, e.Server.URL+"/api/admin/data-requests", "Authorization", "Bearer "+e.SessionToken(apptest.ShopDomain))
		if resp.StatusCode != 200 || !strings.Contains(got, `"data_request_id":9999`) || strings.Count(got, `"Email":"john@example.com"`) != 1 {
			t.Fatalf("data requests: %d %s", resp.StatusCode, got)
		}
		_, got = get(t, http.DefaultClient, e.Server.URL+"/api/admin/data-requests", "Authorization", "Bearer "+e.SessionToken("other-shop.myshopify.com"))
		if strings.Contains(got, "9999") || strings.Contains(got, "john@") {
			t.Fatalf("another shop sees the request: %s", got)
		}
	})
}

func TestUninstallThenReinstallAndLateUninstall(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		e.Shopify.AddShop(freshShop, "unused", "USD")
		load := func() int {
			resp, _ := get(t, noRedirect(), e.Server.URL+"/app?shop="+freshShop+"&id_token="+url.QueryEscape(e.SessionToken(freshShop)))
			return resp.StatusCode
		}
		if load() != 200 {
			t.Fatal("install")
		}
		uninstalledAt := e.Clock.Now()
		req := e.WebhookRequest(shopify.TopicAppUninstalled, "un-1", []byte(`{"id":1,"myshopify_domain":"`+freshShop+`"}`))
		req.Header.Set(shopify.HeaderShopDomain, freshShop)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		sh, _ := store.ShopByDomain(t.Context(), e.Store.DB, freshShop)
		if sh.Active() || sh.RefreshToken != "" {
			t.Fatal("uninstall kept the tokens")
		}
		// Reinstall: the next load of the embedded app exchanges again.
		e.Clock.Advance(time.Hour)
		if load() != 200 || grants(e.Shopify, fake.OAuthGrantTokenExchange) != 2 {
			t.Fatal("reinstall did not exchange a token")
		}
		// The old uninstall delivered late (another id, its original time).
		req = e.WebhookRequest(shopify.TopicAppUninstalled, "un-late", []byte(`{"id":1,"myshopify_domain":"`+freshShop+`"}`))
		req.Header.Set(shopify.HeaderShopDomain, freshShop)
		req.Header.Set(shopify.HeaderTriggeredAt, uninstalledAt.Add(-time.Minute).Format(time.RFC3339Nano))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		e.Drain()
		if sh, _ = store.ShopByDomain(t.Context(), e.Store.DB, freshShop); !sh.Active() {
			t.Fatal("a late uninstall undid the reinstall")
		}
	})
}

// The whole code-grant dance as a browser would do it: /auth, Shopify's
// authorize page (the fake approves at once), back to /auth/callback with
// the state cookie.
func TestCodeGrantThroughShopifysAuthorizePage(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, apptest.DatabaseURL(t, "sqlite"))
	e.Shopify.AddShop(freshShop, "unused", "USD")
	c := noRedirect()
	resp, _ := get(t, c, e.Server.URL+"/auth?shop="+freshShop)
	authorize, _ := url.Parse(resp.Header.Get("Location"))
	// The browser goes to https://{shop}/admin/oauth/authorize: here, the fake.
	fakeURL, _ := url.Parse(e.Shopify.URL)
	authorize.Scheme, authorize.Host = fakeURL.Scheme, fakeURL.Host
	req, _ := http.NewRequest(http.MethodGet, authorize.String(), nil)
	req.Host = freshShop
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	resp, body := get(t, c, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "https://"+freshShop+"/admin/apps/") {
		t.Fatalf("callback: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if sh, err := store.ShopByDomain(t.Context(), e.Store.DB, freshShop); err != nil || !sh.Active() || sh.RefreshToken == "" {
		t.Fatalf("not installed with an expiring token: %v", err)
	}
}
