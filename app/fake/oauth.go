package fake

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/restockrelay/restockrelay/shopify"
)

// The fake's OAuth token endpoint, POST /admin/oauth/access_token, answers
// the three grants Shopify's does, with JSON or form bodies:
//
//   - authorization code: client_id, client_secret, code (from IssueCode),
//     optional expiring;
//   - token exchange: grant_type=urn:ietf:params:oauth:grant-type:token-exchange,
//     subject_token (a session token verified with shopify.VerifySessionToken
//     against the app of SetOAuthApp at NowFunc), subject_token_type=…:id_token,
//     requested_token_type=…:offline-access-token, optional expiring;
//   - refresh: grant_type=refresh_token, refresh_token.
//
// With expiring=1 the answer is an expiring offline token with a refresh
// token (lifetimes from SetTokenLifetimes); otherwise a non-expiring token.
// Online tokens and the migration of non-expiring tokens (subject_token_type
// offline-access-token) are not supported (400 invalid_request).
//
// The shop is the request's Host when that is a shop domain (a client with a
// base-URL override sends Host: {shop}); a code, session token or refresh
// token of another shop is then refused. Otherwise the shop is the one the
// credential belongs to.
//
// Issued access tokens authenticate GraphQL requests for their shop like
// those of AddShop, until they expire by NowFunc (then 401); issuing one for
// a shop that was not added adds it, with currency USD and no data. Unlike
// AddShop, issuing a token leaves the shop's other tokens working.
//
// Refresh tokens rotate as Shopify's do since 2026-08-28: a refresh returns
// a new pair; the used refresh token keeps working (each use returns another
// pair) until one of its replacements is first used, and for at most 30 days
// from its first use; then it, and its unused replacements, get
// invalid_grant.
//
// SetDown, FailNext and SetLatency apply to this endpoint too.

// OAuthCall is one request the token endpoint received. It holds no token,
// code or secret.
type OAuthCall struct {
	Grant    string    // "authorization_code", "token_exchange", "refresh_token", or the unknown grant_type sent
	Shop     string    // the shop addressed (Host), else the credential's; "" when unknown
	Time     time.Time // by NowFunc
	Expiring bool      // an expiring token was asked for (always for a refresh)
	Status   int       // HTTP status of the answer
	Error    string    // OAuth error code of a refusal, e.g. "invalid_grant"; "" on success
}

// Grant names of OAuthCall.
const (
	OAuthGrantCode          = "authorization_code"
	OAuthGrantTokenExchange = "token_exchange"
	OAuthGrantRefresh       = "refresh_token"
)

const (
	defaultOAuthAccessLife  = time.Hour
	defaultOAuthRefreshLife = 90 * 24 * time.Hour
	// oauthRecoveryPeriod bounds how long a used refresh token keeps working
	// while its replacement is unused, from its first use.
	oauthRecoveryPeriod = 30 * 24 * time.Hour
	// DefaultOAuthScope is the scope granted unless SetOAuthScope says else.
	DefaultOAuthScope = "read_products,read_inventory,read_orders,read_themes,write_app_proxy"

	oauthGrantTypeExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	oauthTokenTypeIDToken  = "urn:ietf:params:oauth:token-type:id_token"
	oauthTokenTypeOffline  = "urn:shopify:params:oauth:token-type:offline-access-token"
)

// oauthState is the OAuth side of a Shopify; its fields are guarded by the
// Shopify's mu. It must not point back to the Shopify (see oauthOf).
type oauthState struct {
	apiKey, apiSecret string
	scope             string
	accessLife        time.Duration
	refreshLife       time.Duration
	codes             map[string]*oauthCode
	access            map[string]time.Time // issued access token -> expiry (zero: never)
	refresh           map[string]*oauthRefresh
	calls             []OAuthCall
}

type oauthCode struct {
	shop string
	used bool
}

type oauthRefresh struct {
	shop      string
	expires   time.Time
	parent    string    // refresh token whose use issued this one; "" for the first
	firstUsed time.Time // zero until used
	retired   bool      // a replacement was used
	revoked   bool
}

// oauthOf returns the OAuth state of s, creating it if create is set (else
// it may be nil).
func oauthOf(s *Shopify, create bool) *oauthState {
	s.oauthMu.Lock()
	defer s.oauthMu.Unlock()
	if s.oauth == nil && create {
		s.oauth = &oauthState{
			scope:       DefaultOAuthScope,
			accessLife:  defaultOAuthAccessLife,
			refreshLife: defaultOAuthRefreshLife,
			codes:       map[string]*oauthCode{},
			access:      map[string]time.Time{},
			refresh:     map[string]*oauthRefresh{},
		}
	}
	return s.oauth
}

// SetOAuthApp sets the client credentials (API key and secret) the token
// endpoint accepts; other credentials get 401 {"error":"invalid_client"}.
// The secret also verifies session tokens. Until it is called every request
// is refused.
func (s *Shopify) SetOAuthApp(apiKey, apiSecret string) {
	st := oauthOf(s, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	st.apiKey, st.apiSecret = apiKey, apiSecret
}

// SetOAuthScope sets the scope issued tokens are granted (comma-separated);
// the default is DefaultOAuthScope.
func (s *Shopify) SetOAuthScope(scope string) {
	st := oauthOf(s, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	st.scope = scope
}

// IssueCode returns a new authorization code for shop, as Shopify gives the
// app's OAuth callback. It can be exchanged once; a replay gets 400
// invalid_grant.
func (s *Shopify) IssueCode(shop string) string {
	st := oauthOf(s, true)
	code := oauthRandom("")
	s.mu.Lock()
	defer s.mu.Unlock()
	st.codes[code] = &oauthCode{shop: shop}
	return code
}

// SetTokenLifetimes sets the lifetimes of tokens issued from now on:
// expiring access tokens (default 1h) and refresh tokens (default 90 days).
// They are counted in whole seconds from NowFunc, at least one; zero or
// negative keeps the default.
func (s *Shopify) SetTokenLifetimes(access, refresh time.Duration) {
	st := oauthOf(s, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	st.accessLife = oauthLifetime(access, defaultOAuthAccessLife)
	st.refreshLife = oauthLifetime(refresh, defaultOAuthRefreshLife)
}

func oauthLifetime(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return max(d.Truncate(time.Second), time.Second)
}

// RevokeRefreshTokens makes every refresh token issued for shop so far fail
// with invalid_grant. Access tokens keep working until they expire.
func (s *Shopify) RevokeRefreshTokens(shop string) {
	st := oauthOf(s, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range st.refresh {
		if r.shop == shop {
			r.revoked = true
		}
	}
}

// OAuthCalls returns every request the token endpoint received, oldest
// first.
func (s *Shopify) OAuthCalls() []OAuthCall {
	st := oauthOf(s, false)
	if st == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OAuthCall(nil), st.calls...)
}

// expireOAuthTokens wraps the GraphQL handler: an issued access token past
// its expiry is forgotten before the request is answered, so it gets 401.
func (s *Shopify) expireOAuthTokens(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-Shopify-Access-Token")
		if st := oauthOf(s, false); st != nil && tok != "" {
			s.mu.Lock()
			if exp, ok := st.access[tok]; ok && !exp.IsZero() && !s.now().Before(exp) {
				delete(st.access, tok)
				delete(s.tokens, tok)
			}
			s.mu.Unlock()
		}
		next(w, r)
	}
}

// oauthAnswer is the body of a token endpoint answer.
type oauthAnswer struct {
	AccessToken           string `json:"access_token,omitempty"`
	Scope                 string `json:"scope,omitempty"`
	ExpiresIn             int64  `json:"expires_in,omitempty"`
	RefreshToken          string `json:"refresh_token,omitempty"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in,omitempty"`
	Error                 string `json:"error,omitempty"`
	ErrorDescription      string `json:"error_description,omitempty"`
}

func (s *Shopify) serveOAuthToken(w http.ResponseWriter, r *http.Request) {
	st := oauthOf(s, true)
	params, parseErr := oauthParams(r)
	shopFromHost := oauthHostShop(r.Host)

	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}

	s.mu.Lock()
	call := OAuthCall{Shop: shopFromHost, Time: s.now()}
	status, body := s.oauthAnswerLocked(st, &call, params, parseErr)
	call.Status = status
	st.calls = append(st.calls, call)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// oauthAnswerLocked decides the answer to one token request and fills in
// call; callers hold s.mu.
func (s *Shopify) oauthAnswerLocked(st *oauthState, call *OAuthCall, p map[string]string, parseErr error) (int, []byte) {
	grantType := p["grant_type"]
	switch {
	case grantType == "" && p["code"] != "", grantType == "authorization_code":
		call.Grant = OAuthGrantCode
	case grantType == oauthGrantTypeExchange:
		call.Grant = OAuthGrantTokenExchange
	case grantType == "refresh_token":
		call.Grant = OAuthGrantRefresh
	default:
		call.Grant = grantType
		if len(call.Grant) > 100 {
			call.Grant = call.Grant[:100]
		}
	}
	call.Expiring = p["expiring"] == "1" || call.Grant == OAuthGrantRefresh

	if s.down {
		return http.StatusServiceUnavailable, []byte(`{"errors":"Service Unavailable"}`)
	}
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		return f.status, []byte(f.body)
	}

	refuse := func(status int, code, desc string) (int, []byte) {
		call.Error = code
		return status, mustJSON(oauthAnswer{Error: code, ErrorDescription: desc})
	}
	if parseErr != nil {
		return refuse(http.StatusBadRequest, "invalid_request", "The request body could not be read.")
	}
	if st.apiKey == "" ||
		subtle.ConstantTimeCompare([]byte(p["client_id"]), []byte(st.apiKey)) != 1 ||
		subtle.ConstantTimeCompare([]byte(p["client_secret"]), []byte(st.apiSecret)) != 1 {
		return refuse(http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
	}
	now := s.now()
	hostShop := call.Shop

	switch call.Grant {
	case OAuthGrantCode:
		c := st.codes[p["code"]]
		if c != nil && call.Shop == "" {
			call.Shop = c.shop
		}
		if c == nil || c.used {
			return refuse(http.StatusBadRequest, "invalid_grant", "The authorization code is invalid or was already used.")
		}
		c.used = true
		if hostShop != "" && hostShop != c.shop {
			return refuse(http.StatusBadRequest, "invalid_grant", "The authorization code was issued for another shop.")
		}
		return http.StatusOK, mustJSON(s.issueLocked(st, c.shop, call.Expiring, "", now))

	case OAuthGrantTokenExchange:
		if p["subject_token_type"] != oauthTokenTypeIDToken {
			return refuse(http.StatusBadRequest, "invalid_request", "The fake supports only id_token subject tokens.")
		}
		if p["requested_token_type"] != oauthTokenTypeOffline {
			return refuse(http.StatusBadRequest, "invalid_request", "The fake issues only offline access tokens.")
		}
		tok, err := shopify.VerifySessionToken(p["subject_token"], st.apiKey, now, st.apiSecret)
		if err != nil {
			return refuse(http.StatusBadRequest, "invalid_subject_token", "The subject token is invalid or expired.")
		}
		if call.Shop == "" {
			call.Shop = tok.Shop
		}
		if hostShop != "" && hostShop != tok.Shop {
			return refuse(http.StatusBadRequest, "invalid_subject_token", "The subject token is for another shop.")
		}
		return http.StatusOK, mustJSON(s.issueLocked(st, tok.Shop, call.Expiring, "", now))

	case OAuthGrantRefresh:
		used := p["refresh_token"]
		if used == "" {
			return refuse(http.StatusBadRequest, "invalid_request", "The refresh_token parameter is missing.")
		}
		rt := st.refresh[used]
		if rt == nil {
			return refuse(http.StatusBadRequest, "invalid_grant", "The refresh token is invalid.")
		}
		if call.Shop == "" {
			call.Shop = rt.shop
		}
		switch {
		case rt.revoked:
			return refuse(http.StatusBadRequest, "invalid_grant", "The refresh token was revoked.")
		case rt.retired:
			return refuse(http.StatusBadRequest, "invalid_grant", "The refresh token was replaced by one already in use.")
		case !now.Before(rt.expires):
			return refuse(http.StatusBadRequest, "invalid_grant", "The refresh token has expired.")
		case !rt.firstUsed.IsZero() && !now.Before(rt.firstUsed.Add(oauthRecoveryPeriod)):
			return refuse(http.StatusBadRequest, "invalid_grant", "The refresh token was replaced more than 30 days ago.")
		case hostShop != "" && hostShop != rt.shop:
			return refuse(http.StatusBadRequest, "invalid_grant", "The refresh token was issued for another shop.")
		}
		if rt.firstUsed.IsZero() {
			rt.firstUsed = now
		}
		if rt.parent != "" {
			// The first use of a replacement retires the token it replaced
			// and that token's other, unused replacements.
			for tok, other := range st.refresh {
				if tok == rt.parent || (other.parent == rt.parent && tok != used && other.firstUsed.IsZero()) {
					other.retired = true
				}
			}
		}
		return http.StatusOK, mustJSON(s.issueLocked(st, rt.shop, true, used, now))
	}
	return refuse(http.StatusBadRequest, "unsupported_grant_type", "The grant type is not supported.")
}

// issueLocked makes a new access token (and, when expiring, a refresh token
// replacing parent) for shop and registers the access token for GraphQL;
// callers hold s.mu.
func (s *Shopify) issueLocked(st *oauthState, shop string, expiring bool, parent string, now time.Time) oauthAnswer {
	ans := oauthAnswer{AccessToken: oauthRandom("shpat_fake_"), Scope: st.scope}
	var expires time.Time
	if expiring {
		expires = now.Add(st.accessLife)
		ans.ExpiresIn = int64(st.accessLife / time.Second)
		ans.RefreshToken = oauthRandom("shprt_fake_")
		ans.RefreshTokenExpiresIn = int64(st.refreshLife / time.Second)
		st.refresh[ans.RefreshToken] = &oauthRefresh{
			shop:    shop,
			expires: now.Add(st.refreshLife),
			parent:  parent,
		}
	}
	st.access[ans.AccessToken] = expires

	sh := s.shops[shop]
	if sh == nil {
		sh = &fakeShop{
			domain:   shop,
			id:       s.nextShopID,
			currency: "USD",
			variants: map[int64]*Variant{},
			levels:   map[int64][]Level{},
		}
		s.nextShopID++
		s.shops[shop] = sh
		sh.rebuild()
	}
	s.tokens[ans.AccessToken] = shop
	return ans
}

// oauthParams reads a token request's parameters from a JSON or form body.
// JSON numbers and booleans are kept as their text ("1", "true").
func oauthParams(r *http.Request) (map[string]string, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		q, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, err
		}
		for k := range q {
			out[k] = q.Get(k)
		}
		return out, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out, nil
}

// oauthHostShop is the shop a request's Host names, or "".
func oauthHostShop(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if shopify.ValidShop(host) {
		return host
	}
	return ""
}

func oauthRandom(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b[:])
}

// serveAuthorize is Shopify's authorize page with a merchant who approves
// at once: GET /admin/oauth/authorize (shop from Host) redirects to the
// app's redirect_uri with a fresh code, the state, and Shopify's query
// HMAC over them, signed with the app's secret.
func (s *Shopify) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	st := oauthOf(s, true)
	q := r.URL.Query()
	shop := oauthHostShop(r.Host)
	s.mu.Lock()
	key, secret := st.apiKey, st.apiSecret
	s.mu.Unlock()
	if shop == "" || key == "" || q.Get("client_id") != key {
		http.Error(w, "unknown app or shop", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || back.Host == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := url.Values{"code": {s.IssueCode(shop)}, "shop": {shop}, "state": {q.Get("state")},
		"timestamp": {strconv.FormatInt(s.now().Unix(), 10)}, "host": {base64.RawStdEncoding.EncodeToString([]byte("admin.shopify.com/store/" + strings.TrimSuffix(shop, ".myshopify.com")))}}
	v.Set("hmac", shopify.SignOAuthQuery(secret, v))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}
