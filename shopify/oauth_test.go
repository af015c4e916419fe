package shopify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/shopify"
)

const (
	oauthShop   = "oauth-test.myshopify.com"
	oauthOther  = "other-shop.myshopify.com"
	oauthKey    = "fake_client_id_oauth_0001"
	oauthSecret = "fake_client_secret_OAUTH_DO_NOT_LEAK"
)

type oauthBundle struct {
	fake   *fake.Shopify
	clock  *fake.Clock
	client *shopify.OAuth
}

// setupOAuth starts a fake Shopify knowing the app, with a client for it.
func setupOAuth(t *testing.T) *oauthBundle {
	t.Helper()
	b := &oauthBundle{
		fake:  fake.NewShopify(),
		clock: fake.NewClock(time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)),
	}
	t.Cleanup(b.fake.Close)
	b.fake.NowFunc = b.clock.Now
	b.fake.SetOAuthApp(oauthKey, oauthSecret)
	b.client = shopify.NewOAuth(shopify.OAuthConfig{
		APIKey:    oauthKey,
		APISecret: oauthSecret,
		BaseURL:   b.fake.URL,
		NowFunc:   b.clock.Now,
	})
	return b
}

// sessionToken signs a session token for shop as App Bridge would, valid
// around now for a minute.
func sessionToken(t *testing.T, secret, apiKey, shop string, now time.Time) string {
	t.Helper()
	tok, err := shopify.SignSessionToken(secret, map[string]any{
		"iss":  "https://" + shop + "/admin",
		"dest": "https://" + shop,
		"aud":  apiKey,
		"sub":  "42",
		"exp":  now.Add(time.Minute).Unix(),
		"nbf":  now.Add(-time.Second).Unix(),
		"iat":  now.Add(-time.Second).Unix(),
		"jti":  "00000000-0000-4000-8000-00000000beef",
		"sid":  "fake-session-oauth",
	})
	require.NoError(t, err)
	return tok
}

// requireClean fails if err's message holds any of the secrets.
func requireClean(t *testing.T, err error, secrets ...string) {
	t.Helper()
	require.Error(t, err)
	for _, s := range append(secrets, oauthSecret) {
		if s != "" {
			require.NotContains(t, err.Error(), s, "error leaks a secret")
		}
	}
}

func TestOAuthAuthorizeURL(t *testing.T) {
	t.Parallel()
	o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret, BaseURL: "http://127.0.0.1:1"})
	const redirect = "https://app.example/auth/callback?next=/a b&x=1"
	const state = "n0nce&scope=write_everything#frag +"
	raw, err := o.AuthorizeURL("Admin.Shopify.com/store/My-Shop", "read_products,read_inventory", redirect, state)
	require.NoError(t, err)
	require.NotContains(t, raw, " ")
	require.NotContains(t, raw, "#")

	u, err := url.Parse(raw)
	require.NoError(t, err)
	require.Equal(t, "https", u.Scheme, "BaseURL does not apply to the browser's URL")
	require.Equal(t, "my-shop.myshopify.com", u.Host)
	require.Equal(t, "/admin/oauth/authorize", u.Path)
	require.Equal(t, url.Values{
		"client_id":    {oauthKey},
		"scope":        {"read_products,read_inventory"},
		"redirect_uri": {redirect},
		"state":        {state},
	}, u.Query())

	for _, shop := range []string{
		"evil.com", "x.myshopify.com.evil.com", "https://x.myshopify.com", "x.myshopify.com/../evil",
		"x.myshopify.com@evil.com", "evil.com#.myshopify.com", "", "x.myshopify.com:8443",
	} {
		_, err := o.AuthorizeURL(shop, "read_products", "https://app.example/cb", "s")
		require.ErrorIs(t, err, shopify.ErrBadShop, "shop %q", shop)
	}
	for _, redirect := range []string{"", "/auth/callback", "javascript:alert(1)", "https://", "https://u:p@app.example/cb", "ftp://app.example/cb"} {
		_, err := o.AuthorizeURL(oauthShop, "read_products", redirect, "s")
		require.Error(t, err, "redirect %q", redirect)
	}
	_, err = o.AuthorizeURL(oauthShop, "read_products", "https://app.example/cb", "")
	require.ErrorContains(t, err, "empty state")
	_, err = shopify.NewOAuth(shopify.OAuthConfig{}).AuthorizeURL(oauthShop, "read_products", "https://app.example/cb", "s")
	require.ErrorContains(t, err, "empty API key")
}

func TestOAuthCodeGrant(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	ctx := context.Background()
	code := b.fake.IssueCode(oauthShop)

	tok, err := b.client.ExchangeCode(ctx, oauthShop, code)
	require.NoError(t, err)
	now := b.clock.Now()
	require.NotEmpty(t, tok.AccessToken)
	require.NotEmpty(t, tok.RefreshToken, "expiring=1 was sent")
	require.Equal(t, fake.DefaultOAuthScope, tok.Scope)
	require.Equal(t, now.Add(time.Hour), tok.ExpiresAt)
	require.Equal(t, now.Add(90*24*time.Hour), tok.RefreshExpiresAt)

	// The token works on the fake's Admin API.
	requireAdminWorks(t, b, tok.AccessToken)

	// A replayed code is refused.
	_, err = b.client.ExchangeCode(ctx, oauthShop, code)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)
	requireClean(t, err, code)

	// So are an unknown code, and a code of another shop.
	_, err = b.client.ExchangeCode(ctx, oauthShop, "not-a-code")
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)
	otherCode := b.fake.IssueCode(oauthOther)
	_, err = b.client.ExchangeCode(ctx, oauthShop, otherCode)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)
	requireClean(t, err, otherCode)

	// Nothing to exchange, or a bad shop: no request at all.
	before := len(b.fake.OAuthCalls())
	_, err = b.client.ExchangeCode(ctx, oauthShop, "")
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)
	_, err = b.client.ExchangeCode(ctx, "evil.com", b.fake.IssueCode(oauthShop))
	require.ErrorIs(t, err, shopify.ErrBadShop)
	require.Len(t, b.fake.OAuthCalls(), before)

	calls := b.fake.OAuthCalls()
	require.Equal(t, fake.OAuthGrantCode, calls[0].Grant)
	require.Equal(t, oauthShop, calls[0].Shop)
	require.True(t, calls[0].Expiring)
	require.Equal(t, http.StatusOK, calls[0].Status)
	require.Equal(t, "invalid_grant", calls[1].Error)
}

// requireAdminWorks checks that token reads the shop through the Admin
// client.
func requireAdminWorks(t *testing.T, b *oauthBundle, token string) {
	t.Helper()
	_, err := fake.AdminSchema()
	require.NoError(t, err)
	c, err := shopify.NewAdminClient(shopify.AdminConfig{Shop: oauthShop, AccessToken: token, BaseURL: b.fake.URL, MaxRetries: -1})
	require.NoError(t, err)
	vs, err := c.Variants(context.Background(), []int64{1})
	require.NoError(t, err)
	require.Empty(t, vs)
}

func TestOAuthTokenExchange(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	ctx := context.Background()
	now := b.clock.Now()

	st := sessionToken(t, oauthSecret, oauthKey, oauthShop, now)
	tok, err := b.client.ExchangeSessionToken(ctx, oauthShop, st)
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.NotEmpty(t, tok.RefreshToken)
	require.Equal(t, now.Add(time.Hour), tok.ExpiresAt)
	require.Equal(t, now.Add(90*24*time.Hour), tok.RefreshExpiresAt)
	requireAdminWorks(t, b, tok.AccessToken)

	calls := b.fake.OAuthCalls()
	require.Len(t, calls, 1)
	require.Equal(t, fake.OAuthCall{
		Grant: fake.OAuthGrantTokenExchange, Shop: oauthShop, Time: now, Expiring: true, Status: http.StatusOK,
	}, calls[0])

	bad := map[string]string{
		"expired":      st, // used after the clock moves on
		"foreign shop": sessionToken(t, oauthSecret, oauthKey, oauthOther, now),
		"other secret": sessionToken(t, "another_fake_secret", oauthKey, oauthShop, now),
		"other app":    sessionToken(t, oauthSecret, "another_client_id", oauthShop, now),
		"garbage":      "not.a.jwt",
	}
	for name, st := range bad {
		if name == "expired" {
			continue
		}
		_, err := b.client.ExchangeSessionToken(ctx, oauthShop, st)
		require.ErrorIs(t, err, shopify.ErrInvalidSubjectToken, name)
		requireClean(t, err, st)
	}
	b.clock.Advance(71 * time.Second) // exp + 10 s leeway has passed
	_, err = b.client.ExchangeSessionToken(ctx, oauthShop, bad["expired"])
	require.ErrorIs(t, err, shopify.ErrInvalidSubjectToken)
	requireClean(t, err, bad["expired"])

	_, err = b.client.ExchangeSessionToken(ctx, oauthShop, "")
	require.ErrorIs(t, err, shopify.ErrInvalidSubjectToken)
}

func TestOAuthRefreshRotation(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	ctx := context.Background()
	first, err := b.client.ExchangeSessionToken(ctx, oauthShop, sessionToken(t, oauthSecret, oauthKey, oauthShop, b.clock.Now()))
	require.NoError(t, err)
	r1 := first.RefreshToken

	b.clock.Advance(50 * time.Minute)
	second, err := b.client.Refresh(ctx, oauthShop, r1)
	require.NoError(t, err)
	require.NotEqual(t, r1, second.RefreshToken, "refresh rotates the refresh token")
	require.NotEqual(t, first.AccessToken, second.AccessToken)
	require.Equal(t, b.clock.Now().Add(time.Hour), second.ExpiresAt)
	r2 := second.RefreshToken

	// The answer was "lost": r1 still works while r2 is unused.
	retry, err := b.client.Refresh(ctx, oauthShop, r1)
	require.NoError(t, err)
	r2b := retry.RefreshToken
	require.NotEqual(t, r2, r2b)

	// The first use of r2 retires r1 (and the unused r2b).
	third, err := b.client.Refresh(ctx, oauthShop, r2)
	require.NoError(t, err)
	_, err = b.client.Refresh(ctx, oauthShop, r1)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)
	requireClean(t, err, r1)
	_, err = b.client.Refresh(ctx, oauthShop, r2b)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)

	// r2 itself still works until r3 is used.
	_, err = b.client.Refresh(ctx, oauthShop, r2)
	require.NoError(t, err)
	fourth, err := b.client.Refresh(ctx, oauthShop, third.RefreshToken)
	require.NoError(t, err)
	_, err = b.client.Refresh(ctx, oauthShop, r2)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)

	// Another shop's refresh token is refused.
	_, err = b.client.Refresh(ctx, oauthOther, fourth.RefreshToken)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)

	// Revocation ends it all.
	b.fake.RevokeRefreshTokens(oauthShop)
	_, err = b.client.Refresh(ctx, oauthShop, fourth.RefreshToken)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)
	requireClean(t, err, fourth.RefreshToken, fourth.AccessToken)
}

func TestOAuthRefreshTokenLifetimes(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	ctx := context.Background()
	b.fake.SetTokenLifetimes(10*time.Minute, 40*24*time.Hour)
	tok, err := b.client.ExchangeCode(ctx, oauthShop, b.fake.IssueCode(oauthShop))
	require.NoError(t, err)
	require.Equal(t, b.clock.Now().Add(10*time.Minute), tok.ExpiresAt)
	require.Equal(t, b.clock.Now().Add(40*24*time.Hour), tok.RefreshExpiresAt)

	// A used refresh token whose replacement stays unused works for 30 days
	// from its first use.
	_, err = b.client.Refresh(ctx, oauthShop, tok.RefreshToken)
	require.NoError(t, err)
	b.clock.Advance(30*24*time.Hour - time.Second)
	_, err = b.client.Refresh(ctx, oauthShop, tok.RefreshToken)
	require.NoError(t, err)
	b.clock.Advance(time.Second)
	_, err = b.client.Refresh(ctx, oauthShop, tok.RefreshToken)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)

	// An unused refresh token expires with its lifetime.
	tok, err = b.client.ExchangeCode(ctx, oauthShop, b.fake.IssueCode(oauthShop))
	require.NoError(t, err)
	b.clock.Advance(40 * 24 * time.Hour)
	_, err = b.client.Refresh(ctx, oauthShop, tok.RefreshToken)
	require.ErrorIs(t, err, shopify.ErrInvalidGrant)
}

func TestOAuthExpiredAccessTokenIsRefreshed(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	ctx := context.Background()
	_, err := fake.AdminSchema()
	require.NoError(t, err)
	tok, err := b.client.ExchangeSessionToken(ctx, oauthShop, sessionToken(t, oauthSecret, oauthKey, oauthShop, b.clock.Now()))
	require.NoError(t, err)
	b.fake.PutVariant(oauthShop, fake.Variant{
		ID: 11, ProductID: 12, InventoryItemID: 13, Title: "Default Title", Price: "1.00",
		Policy: "DENY", Tracked: true, ProductTitle: "Sock", Handle: "sock", ProductStatus: "ACTIVE",
		Levels: []fake.Level{{LocationID: 1, LocationName: "Web", Available: 3, FulfillsOnline: true}},
	})

	admin := func(token string) *shopify.AdminClient {
		c, err := shopify.NewAdminClient(shopify.AdminConfig{Shop: oauthShop, AccessToken: token, BaseURL: b.fake.URL, MaxRetries: -1})
		require.NoError(t, err)
		return c
	}
	vs, err := admin(tok.AccessToken).Variants(ctx, []int64{11})
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, 3, vs[0].SellableOnline)

	b.clock.Advance(59*time.Minute + 59*time.Second)
	_, err = admin(tok.AccessToken).Variants(ctx, []int64{11})
	require.NoError(t, err, "a second before expiry")
	b.clock.Advance(time.Second)
	_, err = admin(tok.AccessToken).Variants(ctx, []int64{11})
	require.ErrorIs(t, err, shopify.ErrUnauthorized)
	requireClean(t, err, tok.AccessToken)

	fresh, err := b.client.Refresh(ctx, oauthShop, tok.RefreshToken)
	require.NoError(t, err)
	vs, err = admin(fresh.AccessToken).Variants(ctx, []int64{11})
	require.NoError(t, err)
	require.Len(t, vs, 1)
	_, err = admin(tok.AccessToken).Variants(ctx, []int64{11})
	require.ErrorIs(t, err, shopify.ErrUnauthorized, "the expired token stays dead")
}

func TestOAuthWrongClientCredentials(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	ctx := context.Background()
	for name, cfg := range map[string]shopify.OAuthConfig{
		"wrong secret": {APIKey: oauthKey, APISecret: "wrong_secret_DO_NOT_LEAK"},
		"wrong key":    {APIKey: "other_key", APISecret: oauthSecret},
	} {
		cfg.BaseURL = b.fake.URL
		code := b.fake.IssueCode(oauthShop)
		_, err := shopify.NewOAuth(cfg).ExchangeCode(ctx, oauthShop, code)
		require.ErrorIs(t, err, shopify.ErrInvalidClient, name)
		require.NotErrorIs(t, err, shopify.ErrInvalidGrant, name)
		requireClean(t, err, code, cfg.APISecret)
	}
	_, err := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, BaseURL: b.fake.URL}).Refresh(ctx, oauthShop, "r")
	require.ErrorContains(t, err, "empty API key or secret")
}

// rawServer answers the token endpoint with handler and records what it got.
type rawRequest struct {
	Host, Path, ContentType string
	Body                    map[string]any
}

func rawServer(t *testing.T, handler func(http.ResponseWriter, *http.Request)) (*httptest.Server, func() []rawRequest) {
	t.Helper()
	var mu sync.Mutex
	var got []rawRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rr := rawRequest{Host: r.Host, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
		_ = json.Unmarshal(raw, &rr.Body)
		mu.Lock()
		got = append(got, rr)
		mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []rawRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]rawRequest(nil), got...)
	}
}

func answerJSON(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestOAuthRequestShape(t *testing.T) {
	t.Parallel()
	srv, got := rawServer(t, answerJSON(200,
		`{"access_token":"shpat_x","scope":"read_products","expires_in":3600,"refresh_token":"shprt_y","refresh_token_expires_in":7776000}`))
	now := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	o := shopify.NewOAuth(shopify.OAuthConfig{
		APIKey: oauthKey, APISecret: oauthSecret, BaseURL: srv.URL + "/prefix/",
		NowFunc: func() time.Time { return now },
	})
	ctx := context.Background()

	tok, err := o.ExchangeCode(ctx, oauthShop, "the-code")
	require.NoError(t, err)
	require.Equal(t, shopify.Token{
		AccessToken: "shpat_x", Scope: "read_products", ExpiresAt: now.Add(time.Hour),
		RefreshToken: "shprt_y", RefreshExpiresAt: now.Add(90 * 24 * time.Hour),
	}, tok)
	_, err = o.ExchangeSessionToken(ctx, oauthShop, "the-session-token")
	require.NoError(t, err)
	_, err = o.Refresh(ctx, oauthShop, "the-refresh-token")
	require.NoError(t, err)

	reqs := got()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		require.Equal(t, oauthShop, r.Host, "the shop is named in Host")
		require.Equal(t, "/prefix/admin/oauth/access_token", r.Path)
		require.Equal(t, "application/json", r.ContentType)
	}
	creds := map[string]any{"client_id": oauthKey, "client_secret": oauthSecret}
	with := func(m map[string]any) map[string]any {
		for k, v := range creds {
			m[k] = v
		}
		return m
	}
	require.Equal(t, with(map[string]any{"code": "the-code", "expiring": "1"}), reqs[0].Body)
	require.Equal(t, with(map[string]any{
		"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
		"subject_token":        "the-session-token",
		"subject_token_type":   "urn:ietf:params:oauth:token-type:id_token",
		"requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
		"expiring":             "1",
	}), reqs[1].Body)
	require.Equal(t, with(map[string]any{"grant_type": "refresh_token", "refresh_token": "the-refresh-token"}), reqs[2].Body)
}

func TestOAuthAnswers(t *testing.T) {
	t.Parallel()
	const refresh = "shprt_REFRESH_DO_NOT_LEAK"
	tests := []struct {
		name    string
		status  int
		body    string
		want    error  // sentinel, or nil for a plain error
		wantMsg string // part of the message
		ok      bool
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"The refresh token is invalid or expired"}`,
			shopify.ErrInvalidGrant, "HTTP 400 invalid_grant: The refresh token is invalid or expired", false},
		{"invalid_grant as 401", 401, `{"error":"invalid_grant"}`, shopify.ErrInvalidGrant, "HTTP 401 invalid_grant", false},
		{"invalid_subject_token", 400, `{"error":"invalid_subject_token"}`, shopify.ErrInvalidSubjectToken, "invalid_subject_token", false},
		{"invalid_client", 401, `{"error":"invalid_client"}`, shopify.ErrInvalidClient, "invalid_client", false},
		{"echoing server", 400, `{"error":"invalid_grant","error_description":"bad token ` + refresh + ` for secret ` + oauthSecret + `"}`,
			shopify.ErrInvalidGrant, "[redacted]", false},
		{"forged log lines", 400, `{"error":"invalid_request","error_description":"a\nlevel=error msg=forged"}`,
			nil, "HTTP 400 invalid_request: a level=error msg=forged", false},
		{"5xx", 503, `{"errors":"Service Unavailable"}`, nil, "HTTP 503", false},
		{"5xx html", 502, `<html>` + oauthSecret + `</html>`, nil, "HTTP 502", false},
		{"200 without token", 200, `{"scope":"x"}`, nil, "no access_token", false},
		{"200 with error", 200, `{"error":"invalid_grant"}`, shopify.ErrInvalidGrant, "invalid_grant", false},
		{"200 not JSON", 200, `<html>`, nil, "decode response", false},
		{"negative expires_in", 200, `{"access_token":"a","expires_in":-5}`, nil, "bad expires_in", false},
		{"absurd refresh lifetime", 200, `{"access_token":"a","refresh_token":"r","refresh_token_expires_in":1e300}`,
			nil, "bad refresh_token_expires_in", false},
		{"non-expiring token", 200, `{"access_token":"shpat_forever","scope":"read_products"}`, nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := rawServer(t, answerJSON(tc.status, tc.body))
			o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret, BaseURL: srv.URL})
			tok, err := o.Refresh(context.Background(), oauthShop, refresh)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, shopify.Token{AccessToken: "shpat_forever", Scope: "read_products"}, tok)
				return
			}
			requireClean(t, err, refresh)
			require.Contains(t, err.Error(), tc.wantMsg)
			require.True(t, strings.HasPrefix(err.Error(), "refresh token for "+oauthShop+": "), err.Error())
			require.NotContains(t, err.Error(), "\n")
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			}
			for _, s := range []error{shopify.ErrInvalidGrant, shopify.ErrInvalidSubjectToken, shopify.ErrInvalidClient} {
				if s != tc.want {
					require.NotErrorIs(t, err, s)
				}
			}
		})
	}
}

func TestOAuthTransport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		srv, _ := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret, BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
		start := time.Now()
		_, err := o.ExchangeSessionToken(ctx, oauthShop, "sess-token-DO-NOT-LEAK")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "timed out after 50ms")
		require.Less(t, time.Since(start), 5*time.Second)
		requireClean(t, err, "sess-token-DO-NOT-LEAK")
	})

	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		srv, got := rawServer(t, answerJSON(200, `{"access_token":"a"}`))
		o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret, BaseURL: srv.URL})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := o.Refresh(cctx, oauthShop, "r")
		require.ErrorIs(t, err, context.Canceled)
		require.Empty(t, got())
	})

	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret, BaseURL: base})
		_, err := o.Refresh(ctx, oauthShop, "shprt_conn_DO_NOT_LEAK")
		requireClean(t, err, "shprt_conn_DO_NOT_LEAK")
		require.ErrorContains(t, err, "request: ")
	})

	t.Run("redirect not followed", func(t *testing.T) {
		t.Parallel()
		elsewhere, gotElsewhere := rawServer(t, answerJSON(200, `{"access_token":"stolen"}`))
		srv, _ := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
		})
		o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret, BaseURL: srv.URL, HTTPClient: &http.Client{}})
		_, err := o.Refresh(ctx, oauthShop, "r")
		require.ErrorContains(t, err, "HTTP 307")
		require.Empty(t, gotElsewhere(), "the secret must not follow a redirect")
	})

	t.Run("bad base URL", func(t *testing.T) {
		t.Parallel()
		for _, base := range []string{"ftp://x", "http://", "http://h?q=1", "::"} {
			o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret, BaseURL: base})
			_, err := o.Refresh(ctx, oauthShop, "r")
			require.ErrorContains(t, err, "base URL", base)
		}
	})

	t.Run("bad shop", func(t *testing.T) {
		t.Parallel()
		o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret, BaseURL: "http://127.0.0.1:1"})
		for _, shop := range []string{"evil.com", "x.myshopify.com\nx", "admin.shopify.com/store/x"} {
			_, err := o.Refresh(ctx, shop, "r")
			require.ErrorIs(t, err, shopify.ErrBadShop)
			require.NotContains(t, err.Error(), "\n")
		}
	})
}

// TestOAuthErrorsNeverLeak drives every failure the fake can produce and
// checks no message holds a secret, code or token.
func TestOAuthErrorsNeverLeak(t *testing.T) {
	t.Parallel()
	b := setupOAuth(t)
	ctx := context.Background()
	tok, err := b.client.ExchangeSessionToken(ctx, oauthShop, sessionToken(t, oauthSecret, oauthKey, oauthShop, b.clock.Now()))
	require.NoError(t, err)
	code := b.fake.IssueCode(oauthShop)
	_, err = b.client.ExchangeCode(ctx, oauthShop, code)
	require.NoError(t, err)
	st := sessionToken(t, "another_fake_secret", oauthKey, oauthShop, b.clock.Now())
	secrets := []string{tok.AccessToken, tok.RefreshToken, code, st, oauthSecret}

	var errs []error
	collect := func(_ shopify.Token, err error) { errs = append(errs, err) }
	collect(b.client.ExchangeCode(ctx, oauthShop, code))
	collect(b.client.ExchangeSessionToken(ctx, oauthShop, st))
	b.fake.RevokeRefreshTokens(oauthShop)
	collect(b.client.Refresh(ctx, oauthShop, tok.RefreshToken))
	b.fake.FailNext(http.StatusInternalServerError, `{"error":"`+tok.RefreshToken+`"}`)
	collect(b.client.Refresh(ctx, oauthShop, tok.RefreshToken))
	b.fake.SetDown(true)
	collect(b.client.ExchangeCode(ctx, oauthShop, code))
	b.fake.SetDown(false)
	wrong := shopify.NewOAuth(shopify.OAuthConfig{APIKey: oauthKey, APISecret: oauthSecret + "x", BaseURL: b.fake.URL})
	collect(wrong.ExchangeCode(ctx, oauthShop, code))
	for _, err := range errs {
		requireClean(t, err, secrets...)
		t.Log(err)
	}
	require.True(t, errors.Is(errs[0], shopify.ErrInvalidGrant))
	require.True(t, errors.Is(errs[1], shopify.ErrInvalidSubjectToken))
	require.True(t, errors.Is(errs[2], shopify.ErrInvalidGrant))
	require.ErrorContains(t, errs[3], "HTTP 500")
	require.ErrorContains(t, errs[4], "HTTP 503")
	require.True(t, errors.Is(errs[5], shopify.ErrInvalidClient))
}
