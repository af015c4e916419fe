package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/shopify"
)

const (
	stateCookie = "rr_oauth_state"
	stateTTL    = 5 * time.Minute
)

// authStart: GET /auth?shop=…, a merchant's browser (installs that do not go
// through Shopify-managed installation). Validates the shop (and the query
// HMAC when Shopify sent one), sets a signed, short-lived state cookie bound
// to the shop and redirects to Shopify's authorize page.
func (s *Server) authStart(c echo.Context) error {
	q := c.QueryParams()
	var shop string
	var err error
	if q.Get("hmac") != "" {
		shop, err = shopify.VerifyOAuthQuery(q, s.flow.Now(), 0, s.cfg.Secrets...)
	} else {
		shop, err = shopify.NormalizeShop(q.Get("shop"))
	}
	if err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "shop must be your-store.myshopify.com (and the link must be unmodified)"})
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	state := hex.EncodeToString(nonce[:])
	expires := s.flow.Now().Add(stateTTL)
	c.SetCookie(&http.Cookie{Name: stateCookie, Value: s.signState(state, shop, expires), Path: "/auth",
		Expires: expires, MaxAge: int(stateTTL.Seconds()), HttpOnly: true, Secure: strings.HasPrefix(s.cfg.AppURL, "https://"),
		SameSite: http.SameSiteLaxMode})
	to, err := s.cfg.OAuth.AuthorizeURL(shop, s.cfg.Scopes, s.cfg.AppURL+"/auth/callback", state)
	if err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "cannot start the install for that shop"})
	}
	return c.Redirect(http.StatusFound, to)
}

// authCallback: GET /auth/callback, Shopify redirecting the merchant back.
// Checks the query HMAC and timestamp, that state matches the signed cookie
// set for the same shop, then exchanges the code and stores the token.
// A code is single-use at Shopify, so a replay fails there too.
func (s *Server) authCallback(c echo.Context) error {
	q := c.QueryParams()
	shop, err := shopify.VerifyOAuthQuery(q, s.flow.Now(), 0, s.cfg.Secrets...)
	if err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "this install link was altered or has expired; start the install again"})
	}
	ck, err := c.Cookie(stateCookie)
	if err != nil || !s.stateValid(ck.Value, q.Get("state"), shop) {
		return c.JSON(http.StatusForbidden, apiError{Error: "the install session has expired or does not match; start the install again"})
	}
	c.SetCookie(&http.Cookie{Name: stateCookie, Value: "", Path: "/auth", MaxAge: -1, HttpOnly: true})
	code := q.Get("code")
	if code == "" || len(code) > 512 {
		return c.JSON(http.StatusBadRequest, apiError{Error: "the authorization code is missing"})
	}
	if _, err := s.flow.InstallWithCode(c.Request().Context(), shop, code); err != nil {
		s.log.Warn("install failed", "shop", shop, "error", err)
		if errors.Is(err, shopify.ErrInvalidGrant) {
			return c.JSON(http.StatusBadRequest, apiError{Error: "that authorization was already used or has expired; start the install again"})
		}
		return c.JSON(http.StatusBadGateway, apiError{Error: "Shopify did not complete the install; please try again"})
	}
	return c.Redirect(http.StatusFound, "https://"+shop+"/admin/apps/"+url.PathEscape(s.cfg.APIKey))
}

// signState binds the nonce to the shop and an expiry with an HMAC.
func (s *Server) signState(state, shop string, expires time.Time) string {
	payload := state + "|" + shop + "|" + strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, s.stateKey())
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) stateValid(cookie, state, shop string) bool {
	p, sig, ok := strings.Cut(cookie, ".")
	if !ok || state == "" {
		return false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(p)
	if err != nil {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, s.stateKey())
	m.Write(raw)
	if !hmac.Equal(got, m.Sum(nil)) {
		return false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[0]), []byte(state)) || parts[1] != shop {
		return false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	return err == nil && s.flow.Now().Unix() <= exp
}

func (s *Server) stateKey() []byte {
	m := hmac.New(sha256.New, []byte(s.cfg.Secrets[0]))
	m.Write([]byte("restock-relay oauth state"))
	return m.Sum(nil)
}
