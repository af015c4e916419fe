package fake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	oauthTestShop   = "oauth-fake.myshopify.com"
	oauthTestKey    = "fake_oauth_client_id"
	oauthTestSecret = "fake_oauth_client_secret"
	shopQuery       = `query Shop { shop { currencyCode myshopifyDomain } }`
)

func setupOAuthFake(t *testing.T) (*fake.Shopify, *fake.Clock) {
	t.Helper()
	_, err := fake.AdminSchema()
	require.NoError(t, err)
	s := fake.NewShopify()
	t.Cleanup(s.Close)
	clock := fake.NewClock(time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC))
	s.NowFunc = clock.Now
	s.SetOAuthApp(oauthTestKey, oauthTestSecret)
	return s, clock
}

type tokenReply struct {
	status int
	body   map[string]any
}

func (r tokenReply) str(k string) string { s, _ := r.body[k].(string); return s }

// postToken posts params to the token endpoint, as JSON unless form is set,
// addressed to host (a shop domain) unless host is "".
func postToken(t *testing.T, s *fake.Shopify, host string, form bool, params map[string]any) tokenReply {
	t.Helper()
	r, err := doPostToken(s, host, form, params)
	require.NoError(t, err)
	return r
}

// doPostToken is postToken for any goroutine.
func doPostToken(s *fake.Shopify, host string, form bool, params map[string]any) (tokenReply, error) {
	var body []byte
	ct := "application/json"
	if form {
		q := url.Values{}
		for k, v := range params {
			q.Set(k, v.(string))
		}
		body, ct = []byte(q.Encode()), "application/x-www-form-urlencoded"
	} else {
		var err error
		if body, err = json.Marshal(params); err != nil {
			return tokenReply{}, err
		}
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/admin/oauth/access_token", bytes.NewReader(body))
	if err != nil {
		return tokenReply{}, err
	}
	req.Header.Set("Content-Type", ct)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return tokenReply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return tokenReply{}, err
	}
	r := tokenReply{status: resp.StatusCode}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&r.body); err != nil {
		return tokenReply{}, fmt.Errorf("decode %q: %w", raw, err)
	}
	return r, nil
}

func creds(kv ...any) map[string]any {
	m := map[string]any{"client_id": oauthTestKey, "client_secret": oauthTestSecret}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func exchangeParams(subject string) map[string]any {
	return creds(
		"grant_type", "urn:ietf:params:oauth:grant-type:token-exchange",
		"subject_token", subject,
		"subject_token_type", "urn:ietf:params:oauth:token-type:id_token",
		"requested_token_type", "urn:shopify:params:oauth:token-type:offline-access-token",
		"expiring", 1, // a JSON number works as well as "1"
	)
}

func sessionTokenFor(t *testing.T, shop string, now time.Time) string {
	t.Helper()
	tok, err := shopify.SignSessionToken(oauthTestSecret, map[string]any{
		"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": oauthTestKey,
		"sub": "7", "exp": now.Add(time.Minute).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		"jti": "jti-1", "sid": "sid-1",
	})
	require.NoError(t, err)
	return tok
}

func TestOAuthEndpointGrants(t *testing.T) {
	t.Parallel()
	s, clock := setupOAuthFake(t)

	// Authorization code, form body, without expiring: a non-expiring token.
	code := s.IssueCode(oauthTestShop)
	r := postToken(t, s, "", true, map[string]any{"client_id": oauthTestKey, "client_secret": oauthTestSecret, "code": code})
	require.Equal(t, http.StatusOK, r.status)
	forever := r.str("access_token")
	require.NotEmpty(t, forever)
	require.Equal(t, fake.DefaultOAuthScope, r.str("scope"))
	require.NotContains(t, r.body, "expires_in")
	require.NotContains(t, r.body, "refresh_token")
	r = postToken(t, s, "", true, map[string]any{"client_id": oauthTestKey, "client_secret": oauthTestSecret, "code": code})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "invalid_grant", r.str("error"))

	// The shop did not exist: it was added, with USD.
	a := post(t, s, forever, shopQuery, nil)
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "USD", at(t, a.body, "data", "shop", "currencyCode"))
	require.Equal(t, oauthTestShop, at(t, a.body, "data", "shop", "myshopifyDomain"))

	// Token exchange, JSON body with expiring as a number.
	s.SetOAuthScope("read_products")
	r = postToken(t, s, oauthTestShop, false, exchangeParams(sessionTokenFor(t, oauthTestShop, clock.Now())))
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "read_products", r.str("scope"))
	require.Equal(t, json.Number("3600"), r.body["expires_in"])
	require.Equal(t, json.Number("7776000"), r.body["refresh_token_expires_in"])
	access, refresh := r.str("access_token"), r.str("refresh_token")
	require.True(t, strings.HasPrefix(refresh, "shprt_"))
	require.NotEqual(t, access, refresh)

	// Refresh.
	r = postToken(t, s, oauthTestShop, false, creds("grant_type", "refresh_token", "refresh_token", refresh))
	require.Equal(t, http.StatusOK, r.status)
	require.NotEqual(t, refresh, r.str("refresh_token"))

	// Every issued token works, the non-expiring one for ever.
	clock.Advance(24 * time.Hour)
	require.Equal(t, http.StatusOK, post(t, s, forever, shopQuery, nil).status)
	require.Equal(t, http.StatusUnauthorized, post(t, s, access, shopQuery, nil).status)

	calls := s.OAuthCalls()
	require.Len(t, calls, 4)
	grants := []string{calls[0].Grant, calls[1].Grant, calls[2].Grant, calls[3].Grant}
	require.Equal(t, []string{fake.OAuthGrantCode, fake.OAuthGrantCode, fake.OAuthGrantTokenExchange, fake.OAuthGrantRefresh}, grants)
	require.False(t, calls[0].Expiring)
	require.True(t, calls[2].Expiring)
	require.Equal(t, "invalid_grant", calls[1].Error)
	for _, c := range calls {
		require.Equal(t, oauthTestShop, c.Shop)
	}
}

func TestOAuthEndpointKeepsShopData(t *testing.T) {
	t.Parallel()
	s, clock := setupOAuthFake(t)
	s.AddShop(oauthTestShop, "shpat_static", "EUR")
	r := postToken(t, s, oauthTestShop, false, exchangeParams(sessionTokenFor(t, oauthTestShop, clock.Now())))
	require.Equal(t, http.StatusOK, r.status)
	a := post(t, s, r.str("access_token"), shopQuery, nil)
	require.Equal(t, "EUR", at(t, a.body, "data", "shop", "currencyCode"))
	require.Equal(t, http.StatusOK, post(t, s, "shpat_static", shopQuery, nil).status, "AddShop's token still works")
}

func TestOAuthEndpointRefusals(t *testing.T) {
	t.Parallel()
	s, clock := setupOAuthFake(t)
	now := clock.Now()
	good := sessionTokenFor(t, oauthTestShop, now)
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name   string
		host   string
		params map[string]any
		status int
		err    string
	}{
		{"no credentials", oauthTestShop, with(exchangeParams(good), "client_id", nil, "client_secret", nil), 401, "invalid_client"},
		{"wrong secret", oauthTestShop, with(exchangeParams(good), "client_secret", "nope"), 401, "invalid_client"},
		{"wrong key", oauthTestShop, with(exchangeParams(good), "client_id", "nope"), 401, "invalid_client"},
		{"session token of another shop", "other.myshopify.com", exchangeParams(good), 400, "invalid_subject_token"},
		{"session token with port in host", oauthTestShop + ":443", exchangeParams(good), 200, ""},
		{"garbage session token", "", exchangeParams("x.y.z"), 400, "invalid_subject_token"},
		{"online token requested", "", with(exchangeParams(good), "requested_token_type", "urn:shopify:params:oauth:token-type:online-access-token"), 400, "invalid_request"},
		{"token migration", "", with(exchangeParams(good), "subject_token_type", "urn:shopify:params:oauth:token-type:offline-access-token"), 400, "invalid_request"},
		{"unknown grant", "", creds("grant_type", "password"), 400, "unsupported_grant_type"},
		{"nothing", "", creds(), 400, "unsupported_grant_type"},
		{"refresh without token", "", creds("grant_type", "refresh_token"), 400, "invalid_request"},
		{"unknown refresh token", "", creds("grant_type", "refresh_token", "refresh_token", "shprt_nope"), 400, "invalid_grant"},
		{"code of another shop", "other.myshopify.com", creds("code", s.IssueCode(oauthTestShop)), 400, "invalid_grant"},
	}
	for _, tc := range tests {
		r := postToken(t, s, tc.host, false, tc.params)
		require.Equal(t, tc.status, r.status, tc.name)
		require.Equal(t, tc.err, r.str("error"), tc.name)
	}

	// A body that is neither JSON nor a form.
	resp, err := http.Post(s.URL+"/admin/oauth/access_token", "application/json", strings.NewReader("{"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// A fake without an app refuses everyone.
	bare := fake.NewShopify()
	defer bare.Close()
	r := postToken(t, bare, "", false, creds("code", bare.IssueCode(oauthTestShop)))
	require.Equal(t, "invalid_client", r.str("error"))

	// Outages and injected failures apply to the endpoint too.
	s.SetDown(true)
	require.Equal(t, http.StatusServiceUnavailable, postToken(t, s, "", false, exchangeParams(good)).status)
	s.SetDown(false)
	s.FailNext(http.StatusBadGateway, `{"errors":"Bad Gateway"}`)
	require.Equal(t, http.StatusBadGateway, postToken(t, s, "", false, exchangeParams(good)).status)
	require.Equal(t, http.StatusOK, postToken(t, s, "", false, exchangeParams(good)).status)
}

func TestOAuthEndpointLifetimes(t *testing.T) {
	t.Parallel()
	s, clock := setupOAuthFake(t)
	s.SetTokenLifetimes(1500*time.Millisecond, 100*time.Millisecond)
	r := postToken(t, s, "", false, exchangeParams(sessionTokenFor(t, oauthTestShop, clock.Now())))
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, json.Number("1"), r.body["expires_in"], "whole seconds")
	require.Equal(t, json.Number("1"), r.body["refresh_token_expires_in"], "at least one second")
	access := r.str("access_token")

	clock.Advance(999 * time.Millisecond)
	require.Equal(t, http.StatusOK, post(t, s, access, shopQuery, nil).status)
	clock.Advance(time.Millisecond)
	require.Equal(t, http.StatusUnauthorized, post(t, s, access, shopQuery, nil).status)
	r = postToken(t, s, "", false, creds("grant_type", "refresh_token", "refresh_token", r.str("refresh_token")))
	require.Equal(t, "invalid_grant", r.str("error"), "the refresh token expired too")

	s.SetTokenLifetimes(0, -1) // defaults again
	r = postToken(t, s, "", false, exchangeParams(sessionTokenFor(t, oauthTestShop, clock.Now())))
	require.Equal(t, json.Number("3600"), r.body["expires_in"])
}

func TestOAuthEndpointConcurrentRefresh(t *testing.T) {
	t.Parallel()
	s, clock := setupOAuthFake(t)
	r := postToken(t, s, "", false, exchangeParams(sessionTokenFor(t, oauthTestShop, clock.Now())))
	refresh := r.str("refresh_token")

	// Retries of one refresh token race; all succeed while no replacement is
	// used, and each gives a working access token.
	var wg sync.WaitGroup
	replies := make([]tokenReply, 8)
	errs := make([]error, len(replies))
	for i := range replies {
		wg.Go(func() {
			replies[i], errs[i] = doPostToken(s, oauthTestShop, false, creds("grant_type", "refresh_token", "refresh_token", refresh))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	for _, r := range replies {
		require.Equal(t, http.StatusOK, r.status)
		require.False(t, seen[r.str("refresh_token")])
		seen[r.str("refresh_token")] = true
		require.Equal(t, http.StatusOK, post(t, s, r.str("access_token"), shopQuery, nil).status)
	}
	// Using one replacement retires the original and the other replacements.
	r = postToken(t, s, "", false, creds("grant_type", "refresh_token", "refresh_token", replies[3].str("refresh_token")))
	require.Equal(t, http.StatusOK, r.status)
	for i, old := range replies {
		if i == 3 {
			continue
		}
		r := postToken(t, s, "", false, creds("grant_type", "refresh_token", "refresh_token", old.str("refresh_token")))
		require.Equal(t, "invalid_grant", r.str("error"))
	}
	r = postToken(t, s, "", false, creds("grant_type", "refresh_token", "refresh_token", refresh))
	require.Equal(t, "invalid_grant", r.str("error"))
}
