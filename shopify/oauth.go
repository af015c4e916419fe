package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors of the OAuth client; match them with errors.Is.
var (
	// ErrInvalidSubjectToken means Shopify refused the session token of a
	// token exchange (400 invalid_subject_token): it expired or is not for
	// this app or shop. The frontend must retry with a fresh session token
	// (answer 401 with X-Shopify-Retry-Invalid-Session-Request: 1).
	ErrInvalidSubjectToken = errors.New("shopify: invalid subject token")
	// ErrInvalidGrant means Shopify refused the authorization code or the
	// refresh token (invalid_grant): it was already used, expired, revoked,
	// retired by the use of its replacement, or belongs to another shop.
	// Retrying will not help; the app needs a new grant (token exchange on
	// the next embedded load, or the OAuth flow again).
	ErrInvalidGrant = errors.New("shopify: invalid grant")
	// ErrInvalidClient means Shopify refused the app's credentials
	// (invalid_client): a wrong API key or secret. Retrying will not help.
	ErrInvalidClient = errors.New("shopify: invalid client credentials")
)

// Token is an Admin API access token with its refresh token, as Shopify's
// access_token endpoint returns them. Store the pair atomically: a refresh
// rotates both.
type Token struct {
	AccessToken string
	Scope       string // comma-separated granted scopes
	// ExpiresAt is when AccessToken stops working; zero for a non-expiring
	// token.
	ExpiresAt time.Time
	// RefreshToken obtains a new pair from Refresh; "" for a non-expiring
	// token.
	RefreshToken     string
	RefreshExpiresAt time.Time // zero when unknown or without refresh token
}

// OAuthConfig configures an OAuth client.
type OAuthConfig struct {
	APIKey    string // client id
	APISecret string // client secret
	// BaseURL, if set, replaces https://{shop} (scheme, host and an optional
	// path prefix) for the access_token endpoint, e.g. the URL of a fake
	// Shopify in tests. Requests then carry Host: {shop}, so the server can
	// tell which shop is meant. It does not change AuthorizeURL, which is
	// for the merchant's browser.
	BaseURL string
	// HTTPClient is copied, never modified (redirects are refused on the
	// copy); nil means a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds each request; default 10s.
	Timeout time.Duration
	// NowFunc is the clock that turns expires_in into ExpiresAt; nil means
	// time.Now.
	NowFunc func() time.Time
}

// OAuth obtains and refreshes offline Admin API access tokens from Shopify's
// /admin/oauth/access_token endpoint: the authorization-code grant, token
// exchange of a session token, and refresh. It always asks for expiring
// offline tokens (expiring=1). It sends JSON bodies, never logs, and keeps
// secrets, codes and tokens out of its error messages.
//
// It does not retry: each call makes one request and the caller decides.
// An OAuth is safe for concurrent use.
type OAuth struct {
	apiKey, apiSecret string
	baseURL           string
	httpClient        *http.Client
	timeout           time.Duration
	now               func() time.Time
}

// Grant and token types of Shopify's token endpoint.
const (
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	grantTypeRefreshToken  = "refresh_token"
	tokenTypeIDToken       = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeOfflineAccess = "urn:shopify:params:oauth:token-type:offline-access-token"

	defaultOAuthTimeout   = 10 * time.Second
	maxOAuthResponseBytes = 1 << 20
	// maxTokenLifetime bounds expires_in values the client believes.
	maxTokenLifetime = 10 * 365 * 24 * time.Hour
	// minRedactLen is the shortest secret redacted from a whole message.
	minRedactLen = 8
)

// NewOAuth returns an OAuth client. The configuration is checked when it is
// used: a missing API key or secret, or a bad BaseURL, fails every call.
func NewOAuth(cfg OAuthConfig) *OAuth {
	o := &OAuth{
		apiKey:    cfg.APIKey,
		apiSecret: cfg.APISecret,
		baseURL:   cfg.BaseURL,
		timeout:   cfg.Timeout,
		now:       cfg.NowFunc,
	}
	if o.timeout <= 0 {
		o.timeout = defaultOAuthTimeout
	}
	if o.now == nil {
		o.now = time.Now
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	// The token endpoint does not redirect; following a 307/308 would send
	// the client secret in the body to wherever it points.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.httpClient = hc
	return o
}

// AuthorizeURL returns the URL to send the merchant to for the
// authorization-code grant:
// https://{shop}/admin/oauth/authorize?client_id=…&redirect_uri=…&scope=…&state=…
// with every value query-encoded. shop is normalised with NormalizeShop (so
// "admin.shopify.com/store/x" works); anything else is rejected with
// ErrBadShop. scopes is comma-separated ("read_products,read_inventory");
// redirectURI must be an absolute http(s) URL listed in the app's
// redirect_urls, and state a fresh nonce the callback must bring back. Only
// offline access is asked for (no grant_options[]).
func (o *OAuth) AuthorizeURL(shop, scopes, redirectURI, state string) (string, error) {
	const op = "build authorize URL"
	s, err := NormalizeShop(shop)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if o.apiKey == "" {
		return "", fmt.Errorf("%s for %s: empty API key", op, s)
	}
	if state == "" {
		return "", fmt.Errorf("%s for %s: empty state", op, s)
	}
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("%s for %s: redirect URI %q is not an absolute http(s) URL", op, s, clipText(redirectURI, 200))
	}
	q := url.Values{}
	q.Set("client_id", o.apiKey)
	q.Set("scope", scopes)
	q.Set("redirect_uri", redirectURI)
	q.Set("state", state)
	return "https://" + s + "/admin/oauth/authorize?" + q.Encode(), nil
}

// ExchangeCode trades the code of an OAuth callback for an expiring offline
// access token (the authorization-code grant). Verify the callback first
// (VerifyOAuthQuery, state, shop). A used, expired or foreign code fails
// with ErrInvalidGrant.
func (o *OAuth) ExchangeCode(ctx context.Context, shop, code string) (Token, error) {
	return o.request(ctx, "exchange code", shop, code, ErrInvalidGrant, map[string]string{
		"code":     code,
		"expiring": "1",
	})
}

// ExchangeSessionToken trades an App Bridge session token (id token) of the
// shop for an expiring offline access token (token exchange). A session
// token Shopify refuses (expired, another app's or shop's) fails with
// ErrInvalidSubjectToken: have the frontend retry with a fresh one.
func (o *OAuth) ExchangeSessionToken(ctx context.Context, shop, sessionToken string) (Token, error) {
	return o.request(ctx, "exchange session token", shop, sessionToken, ErrInvalidSubjectToken, map[string]string{
		"grant_type":           grantTypeTokenExchange,
		"subject_token":        sessionToken,
		"subject_token_type":   tokenTypeIDToken,
		"requested_token_type": tokenTypeOfflineAccess,
		"expiring":             "1",
	})
}

// Refresh trades a refresh token for a new access token and a new refresh
// token (Shopify rotates it); store the returned pair in place of the old
// one atomically. The old refresh token keeps working until the new one is
// first used (for at most 30 days), so retrying a refresh whose answer was
// lost is safe. A revoked, expired or retired refresh token fails with
// ErrInvalidGrant.
func (o *OAuth) Refresh(ctx context.Context, shop, refreshToken string) (Token, error) {
	return o.request(ctx, "refresh token", shop, refreshToken, ErrInvalidGrant, map[string]string{
		"grant_type":    grantTypeRefreshToken,
		"refresh_token": refreshToken,
	})
}

// tokenAnswer is the JSON the access_token endpoint answers with.
type tokenAnswer struct {
	AccessToken           string   `json:"access_token"`
	Scope                 string   `json:"scope"`
	ExpiresIn             *float64 `json:"expires_in"`
	RefreshToken          string   `json:"refresh_token"`
	RefreshTokenExpiresIn *float64 `json:"refresh_token_expires_in"`
	Error                 string   `json:"error"`
	ErrorDescription      string   `json:"error_description"`
}

// request posts one grant to the shop's access_token endpoint. credential
// (the code or token sent) and the client secret are redacted from any
// error; an empty credential fails at once, wrapping emptyErr.
func (o *OAuth) request(ctx context.Context, op, shop, credential string, emptyErr error, params map[string]string) (Token, error) {
	if !ValidShop(shop) {
		return Token{}, fmt.Errorf("%s for %q: %w", op, clipText(shop, 80), ErrBadShop)
	}
	if credential == "" {
		return Token{}, fmt.Errorf("%s for %s: nothing to exchange: %w", op, shop, emptyErr)
	}
	tok, err := o.post(ctx, shop, credential, params)
	if err != nil {
		// The answer's text is already redacted; this is a second lock for
		// the rest of the message, skipping strings too short to be secrets
		// (they would garble it).
		msg := fmt.Sprintf("%s for %s: %v", op, shop, err)
		for _, s := range []string{o.apiSecret, credential} {
			if len(s) >= minRedactLen {
				msg = redact(msg, s)
			}
		}
		return Token{}, &redactedError{msg: msg, err: err}
	}
	return tok, nil
}

func (o *OAuth) post(ctx context.Context, shop, credential string, params map[string]string) (Token, error) {
	if o.apiKey == "" || o.apiSecret == "" {
		return Token{}, errors.New("empty API key or secret")
	}
	endpoint := "https://" + shop + "/admin/oauth/access_token"
	if o.baseURL != "" {
		u, err := url.Parse(o.baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			// Not quoted: it could carry userinfo.
			return Token{}, errors.New("base URL must be http(s)://host[/path] without userinfo or query")
		}
		endpoint = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/") + "/admin/oauth/access_token"
	}

	body := map[string]string{"client_id": o.apiKey, "client_secret": o.apiSecret}
	for k, v := range params {
		body[k] = v
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return Token{}, fmt.Errorf("encode request: %w", err)
	}

	rctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, endpoint, bytes.NewReader(raw))
	if err != nil {
		return Token{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if o.baseURL != "" {
		req.Host = shop
	}

	// Expiry counts from before the request: a token is never believed to
	// live longer than it does.
	now := o.now()
	resp, err := o.httpClient.Do(req)
	if err != nil {
		if ctx.Err() == nil && rctx.Err() != nil {
			return Token{}, fmt.Errorf("request: timed out after %v: %w", o.timeout, rctx.Err())
		}
		return Token{}, fmt.Errorf("request: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxOAuthResponseBytes+1))
	if err != nil {
		return Token{}, fmt.Errorf("read response (HTTP %d): %w", resp.StatusCode, err)
	}
	if len(data) > maxOAuthResponseBytes {
		return Token{}, fmt.Errorf("response (HTTP %d) larger than %d bytes", resp.StatusCode, maxOAuthResponseBytes)
	}

	var ans tokenAnswer
	decodeErr := json.Unmarshal(data, &ans)
	if resp.StatusCode != http.StatusOK {
		return Token{}, answerError(resp.StatusCode, ans, decodeErr, o.apiSecret, credential)
	}
	if decodeErr != nil {
		return Token{}, fmt.Errorf("decode response (HTTP 200): %w", decodeErr)
	}
	if ans.AccessToken == "" {
		if ans.Error != "" {
			return Token{}, answerError(resp.StatusCode, ans, nil, o.apiSecret, credential)
		}
		return Token{}, errors.New("response (HTTP 200) has no access_token")
	}
	tok := Token{AccessToken: ans.AccessToken, Scope: ans.Scope, RefreshToken: ans.RefreshToken}
	var ok bool
	if tok.ExpiresAt, ok = expiry(now, ans.ExpiresIn); !ok {
		return Token{}, errors.New("response (HTTP 200) has a bad expires_in")
	}
	if tok.RefreshExpiresAt, ok = expiry(now, ans.RefreshTokenExpiresIn); !ok {
		return Token{}, errors.New("response (HTTP 200) has a bad refresh_token_expires_in")
	}
	return tok, nil
}

// answerError turns an error answer into an error wrapping the matching
// sentinel. Only the error code and description are quoted: clipped, on
// one line, and with the secrets (which a server might echo) redacted.
func answerError(status int, ans tokenAnswer, decodeErr error, secrets ...string) error {
	code := ans.Error
	desc := ans.ErrorDescription
	if decodeErr != nil {
		code, desc = "", ""
	}
	var sentinel error
	switch code {
	case "invalid_subject_token":
		sentinel = ErrInvalidSubjectToken
	case "invalid_grant":
		sentinel = ErrInvalidGrant
	case "invalid_client":
		sentinel = ErrInvalidClient
	}
	code, desc = redact(code, secrets...), redact(desc, secrets...)
	msg := fmt.Sprintf("HTTP %d", status)
	if code != "" {
		msg += " " + clipText(printable(code), 60)
	}
	if desc != "" {
		msg += ": " + clipText(printable(desc), 200)
	}
	if sentinel != nil {
		return fmt.Errorf("%s: %w", msg, sentinel)
	}
	return errors.New(msg)
}

// expiry converts a lifetime in seconds counted from now. An absent or zero
// lifetime means no expiry; a negative, non-finite or absurd one is bad.
func expiry(now time.Time, secs *float64) (time.Time, bool) {
	if secs == nil || *secs == 0 {
		return time.Time{}, true
	}
	s := *secs
	if math.IsNaN(s) || s < 0 || s > maxTokenLifetime.Seconds() {
		return time.Time{}, false
	}
	return now.Add(time.Duration(s * float64(time.Second))), true
}

// redact replaces every non-empty secret in msg.
func redact(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// printable replaces control characters, so an answer cannot forge lines in
// a log.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
