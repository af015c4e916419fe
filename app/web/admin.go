package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

const sessionKey = "session_token"

// requireSessionToken guards /api/admin/*: an App Bridge session token
// (HS256 JWT) for this app, valid now; the shop comes from the token only.
// A bad or expired token gets 401 with the header that makes App Bridge
// fetch a fresh token and retry.
func (s *Server) requireSessionToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, ok := bearer(c)
		st, err := shopify.VerifySessionToken(strings.TrimSpace(raw), s.cfg.APIKey, s.flow.Now(), s.cfg.Secrets[0])
		if !ok || err != nil {
			c.Response().Header().Set("X-Shopify-Retry-Invalid-Session-Request", "1")
			return c.JSON(http.StatusUnauthorized, apiError{Error: "missing or invalid session token; reload the app from the Shopify admin"})
		}
		c.Set(sessionKey, st)
		return next(c)
	}
}

// bearer reads "Authorization: Bearer TOKEN"; the scheme is
// case-insensitive (RFC 7235).
func bearer(c echo.Context) (string, bool) {
	h := c.Request().Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

func session(c echo.Context) shopify.SessionToken { return c.Get(sessionKey).(shopify.SessionToken) }

// ensureInstalled exchanges the session token for an offline token when the
// shop has none it can use (Shopify-managed installation: the first load of
// the embedded app is the install).
func (s *Server) ensureInstalled(c echo.Context, shop, sessionToken string) error {
	need, err := s.flow.ShopNeedsToken(c.Request().Context(), shop)
	if err != nil || !need {
		return err
	}
	_, err = s.flow.InstallWithSessionToken(c.Request().Context(), shop, sessionToken)
	return err
}

type shopStatus struct {
	Shop      string `json:"shop"`
	Installed bool   `json:"installed"`
	Scopes    string `json:"scopes"`
	Expiring  bool   `json:"expiring_offline_token"`
}

// adminShop: GET /api/admin/shop, the embedded admin page (session token).
// Installs the shop by token exchange when it has no usable token; answers
// what the app knows about the install, never a token.
func (s *Server) adminShop(c echo.Context) error {
	st := session(c)
	raw, _ := bearer(c)
	if err := s.ensureInstalled(c, st.Shop, raw); err != nil {
		return s.installError(c, st.Shop, err)
	}
	sh, err := store.ShopByDomain(c.Request().Context(), s.cfg.Store.DB, st.Shop)
	if err != nil {
		return s.jsonError(c, err)
	}
	return c.JSON(http.StatusOK, shopStatus{Shop: sh.Domain, Installed: sh.Active(), Scopes: sh.Scopes, Expiring: sh.RefreshToken != ""})
}

// adminDataRequests: GET /api/admin/data-requests, the embedded admin page
// (session token). What the app holds about each shopper for whom the shop
// received customers/data_request, for the merchant to pass on.
func (s *Server) adminDataRequests(c echo.Context) error {
	reqs, err := s.flow.DataRequests(c.Request().Context(), session(c).Shop)
	if err != nil {
		return s.jsonError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"data_requests": reqs})
}

func (s *Server) installError(c echo.Context, shop string, err error) error {
	s.log.Warn("token exchange failed", "shop", shop, "error", err)
	if errors.Is(err, shopify.ErrInvalidSubjectToken) {
		c.Response().Header().Set("X-Shopify-Retry-Invalid-Session-Request", "1")
		return c.JSON(http.StatusUnauthorized, apiError{Error: "the session token was refused; retry with a fresh one"})
	}
	return c.JSON(http.StatusBadGateway, apiError{Error: "Shopify did not authorize the app; reload the page to try again"})
}

// appPage: GET /app, the embedded app's document load inside the Shopify
// admin (id_token in the query). Installs by token exchange on first load;
// a missing or stale id_token gets a bounce page that asks App Bridge for a
// fresh one. Framed only by the shop's admin.
func (s *Server) appPage(c echo.Context) error {
	q := c.QueryParams()
	shopParam, _ := shopify.NormalizeShop(q.Get("shop"))
	// Session tokens are checked against the current secret only: a
	// previous (perhaps leaked) secret must not mint admin sessions.
	st, err := shopify.VerifySessionToken(q.Get("id_token"), s.cfg.APIKey, s.flow.Now(), s.cfg.Secrets[0])
	if err != nil {
		if shopParam == "" {
			c.Response().Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
			return c.JSON(http.StatusBadRequest, apiError{Error: "open Restock Relay from your Shopify admin"})
		}
		s.embeddedHeaders(c, shopParam)
		return s.page(c, http.StatusOK, "bounce.html", map[string]any{"Title": "Restock Relay", "APIKey": s.cfg.APIKey})
	}
	s.embeddedHeaders(c, st.Shop)
	if shopParam != "" && shopParam != st.Shop {
		return c.JSON(http.StatusBadRequest, apiError{Error: "the session token is for another shop"})
	}
	if err := s.ensureInstalled(c, st.Shop, q.Get("id_token")); err != nil {
		if errors.Is(err, shopify.ErrInvalidSubjectToken) {
			// Shopify wants a fresher token: let App Bridge fetch one.
			return s.page(c, http.StatusOK, "bounce.html", map[string]any{"Title": "Restock Relay", "APIKey": s.cfg.APIKey})
		}
		return s.installError(c, st.Shop, err)
	}
	s.embeddedHeaders(c, st.Shop)
	// The admin page itself has no inline script: only the CDN's App
	// Bridge and our own file may run.
	c.Set(cspKey, strings.Replace(c.Get(cspKey).(string), " 'unsafe-inline'", "", 1))
	return s.page(c, http.StatusOK, "app.html", map[string]any{"Title": "Restock Relay", "APIKey": s.cfg.APIKey, "Shop": st.Shop, "AssetVersion": assetVersion,
		"DevShim": s.cfg.Dev && q.Get("dev") == "1"})
}

// embeddedHeaders let the Shopify admin, and only it, frame the page.
func (s *Server) embeddedHeaders(c echo.Context, shop string) {
	c.Response().Header().Set("Content-Security-Policy", "frame-ancestors https://"+shop+" https://admin.shopify.com")
	c.Set(cspKey, "frame-ancestors https://"+shop+" https://admin.shopify.com; default-src 'self'; script-src 'self' https://cdn.shopify.com 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data: blob:; connect-src 'self' https://*.shopify.com https://*.shopifysvc.com; frame-src 'self'; object-src 'none'; base-uri 'self'")
}

// root: GET /, the app URL Shopify opens (application_url): with Shopify's
// query (shop, id_token…) it is the embedded app; else the health line.
func (s *Server) root(c echo.Context) error {
	if c.QueryParam("shop") != "" {
		return c.Redirect(http.StatusFound, "/app?"+c.QueryString())
	}
	return c.String(http.StatusOK, "Restock Relay: install it from the Shopify admin.\n")
}

// adminSettings: GET /api/admin/settings, the embedded admin page (session
// token). The shop's sequence settings and copy (defaults filled in) and
// the variables copy may use.
func (s *Server) adminSettings(c echo.Context) error {
	v, err := s.flow.ShopSettings(c.Request().Context(), session(c).Shop)
	if err != nil {
		return s.jsonError(c, err)
	}
	return c.JSON(http.StatusOK, v)
}

// adminSaveSettings: PUT /api/admin/settings, the embedded admin page
// (session token). Saves everything or nothing: 422 lists each field's
// problem for inline messages. Idempotent.
func (s *Server) adminSaveSettings(c echo.Context) error {
	// Fields the body leaves out keep their saved values (so "change the
	// reminder delay" cannot switch the reminder off); "copy", when sent,
	// is the shop's whole copy (entries not listed are removed).
	cur, err := s.flow.ShopSettings(c.Request().Context(), session(c).Shop)
	if err != nil {
		return s.jsonError(c, err)
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAdminBody+1))
	if err != nil || len(raw) > maxAdminBody {
		return c.JSON(http.StatusRequestEntityTooLarge, apiError{Error: "the settings are larger than 1 MiB; save fewer translations at a time"})
	}
	in := cur.Settings
	var probe map[string]json.RawMessage
	if json.Unmarshal(raw, &probe) == nil {
		if _, ok := probe["copy"]; ok {
			in.Copy = nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "the settings must be a JSON object with the fields GET /api/admin/settings returns under \"settings\": " + jsonProblem(err)})
	}
	if dec.More() {
		return c.JSON(http.StatusBadRequest, apiError{Error: "the settings must be one JSON object, with nothing after it"})
	}
	if err := s.flow.SaveShopSettings(c.Request().Context(), session(c).Shop, in); err != nil {
		return s.validationOr(c, err)
	}
	return s.adminSettings(c)
}

func (s *Server) validationOr(c echo.Context, err error) error {
	var ve restock.ValidationError
	if errors.As(err, &ve) {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": "please correct the highlighted fields", "fields": ve})
	}
	return s.jsonError(c, err)
}

// maxAdminBody bounds the admin API's request bodies: room for three
// steps of copy in every language the page offers, in any script.
const maxAdminBody = 1 << 20

func decodeJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(jsonProblem(err))
	}
	if dec.More() {
		return errors.New("nothing may follow the JSON object")
	}
	return nil
}

// jsonProblem says what is wrong with a JSON body in the API's words, not
// Go's ("cannot unmarshal string into Go struct field …").
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field == "":
		return "the body must be a JSON object"
	case errors.As(err, &te):
		return fmt.Sprintf("%q must be %s", te.Field, jsonKind(te.Type.Kind().String()))
	case errors.Is(err, io.EOF):
		return "the body is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is cut off or larger than 1 MiB"
	}
	return err.Error()
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "a whole number"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "true or false"
	case k == "string":
		return "a string"
	case k == "slice":
		return "a list"
	}
	return "an object"
}
