package web

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// Development only: outside the Shopify admin nobody hands the embedded page
// session tokens, so /dev/admin mints them for a shop in the database and
// opens /app with a stand-in for App Bridge's shopify.idToken(). Only
// requests from this machine are served.

func (s *Server) devOnlyLocal(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
		h := c.Request().Header
		proxied := h.Get("X-Forwarded-For") != "" || h.Get("Forwarded") != "" || h.Get("X-Real-IP") != "" || h.Get("X-Forwarded-Host") != ""
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || proxied {
			return c.JSON(http.StatusForbidden, apiError{Error: "development routes answer requests from this machine only"})
		}
		return next(c)
	}
}

func (s *Server) devSessionToken(shop string) (string, error) {
	now := s.flow.Now()
	return shopify.SignSessionToken(s.cfg.Secrets[0], map[string]any{
		"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": s.cfg.APIKey, "sub": "1",
		"exp": now.Add(time.Minute).Unix(), "nbf": now.Add(-5 * time.Second).Unix(), "iat": now.Unix(),
		"jti": strconv.FormatInt(now.UnixNano(), 36), "sid": "dev",
	})
}

// devShop finds the shop named by ?shop=, or the only one there is.
func (s *Server) devShop(c echo.Context) (string, error) {
	if raw := c.QueryParam("shop"); raw != "" {
		shop, err := shopify.NormalizeShop(raw)
		if err != nil {
			return "", fmt.Errorf("shop %q is not a NAME.myshopify.com domain", raw)
		}
		if _, err := store.ShopByDomain(c.Request().Context(), s.cfg.Store.DB, shop); err != nil {
			return "", fmt.Errorf("no shop %s in the database: run `restockrelay shop add --shop %s --token TOKEN` first", shop, shop)
		}
		return shop, nil
	}
	var shops []store.Shop
	if err := s.cfg.Store.DB.WithContext(c.Request().Context()).Order("id").Limit(2).Find(&shops).Error; err != nil {
		return "", err
	}
	if len(shops) != 1 {
		if len(shops) == 0 {
			return "", fmt.Errorf("no shop in the database yet: run `restockrelay shop add --shop NAME.myshopify.com --token TOKEN` (or `go run ./app shop add …`), then reload")
		}
		return "", fmt.Errorf("several shops are in the database: name one, /dev/admin?shop=NAME.myshopify.com")
	}
	return shops[0].Domain, nil
}

// devShopToken answers a bad ?shop= itself (ok false), else a fresh
// session token for the shop.
func (s *Server) devShopToken(c echo.Context) (shop, tok string, ok bool, err error) {
	shop, err = s.devShop(c)
	if err != nil {
		return "", "", false, c.JSON(http.StatusBadRequest, apiError{Error: err.Error()})
	}
	tok, err = s.devSessionToken(shop)
	return shop, tok, err == nil, err
}

// devAdmin: GET /dev/admin, a developer; opens the embedded page for a shop.
func (s *Server) devAdmin(c echo.Context) error {
	shop, tok, ok, err := s.devShopToken(c)
	if !ok {
		return err
	}
	return c.Redirect(http.StatusFound, "/app?"+url.Values{"shop": {shop}, "id_token": {tok}, "embedded": {"1"}, "dev": {"1"}}.Encode())
}

// devToken: GET /dev/session-token?shop=, the development stand-in for
// shopify.idToken().
func (s *Server) devToken(c echo.Context) error {
	_, tok, ok, err := s.devShopToken(c)
	if !ok {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, tok)
}

// devShim: GET /dev/app-bridge-shim.js, window.shopify.idToken() for /app
// outside the Shopify admin.
func (s *Server) devShim(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", []byte(`// Development stand-in for App Bridge (see app/web/devadmin.go).
(function () {
  if (window.shopify && window.shopify.idToken) return;
  var shop = document.currentScript.dataset.shop;
  window.shopify = { idToken: function () {
    return fetch("/dev/session-token?shop=" + encodeURIComponent(shop)).then(function (r) { return r.text(); });
  } };
})();
`))
}
