package web

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
)

func (s *Server) badLink(c echo.Context, err error) error {
	if errors.Is(err, restock.ErrBadToken) || errors.Is(err, store.ErrNotFound) {
		return s.page(c, http.StatusNotFound, "notfound.html", map[string]any{"Title": "Link not valid"})
	}
	s.log.Error("email link failed", "route", c.Path(), "error", err)
	return echo.NewHTTPError(http.StatusInternalServerError, "something went wrong; please try again")
}

// unsubscribePage: GET /u/{token}, a shopper from an email. Shows what
// will stop and a button; a GET never unsubscribes (link scanners follow
// links).
func (s *Server) unsubscribePage(c echo.Context) error {
	r, err := s.flow.UnsubscribeTarget(c.Request().Context(), c.Param("token"))
	if err != nil {
		return s.badLink(c, err)
	}
	return s.page(c, http.StatusOK, "unsubscribe.html", map[string]any{
		"Title": "Unsubscribe", "Email": maskEmail(r.Subscription.Email), "Shop": shopName(r.Shop),
		"Product": r.Variant.ProductTitle, "Done": r.Subscription.Status == store.SubUnsubscribed,
	})
}

// unsubscribe: POST /u/{token}, the page's button or a mailbox provider's
// RFC 8058 one-click request (body List-Unsubscribe=One-Click). Idempotent.
func (s *Server) unsubscribe(c echo.Context) error {
	body, _ := io.ReadAll(io.LimitReader(c.Request().Body, 4096))
	r, err := s.flow.Unsubscribe(c.Request().Context(), c.Param("token"))
	if err != nil {
		if strings.Contains(string(body), "List-Unsubscribe=One-Click") && (errors.Is(err, restock.ErrBadToken) || errors.Is(err, store.ErrNotFound)) {
			return c.String(http.StatusNotFound, "unknown unsubscribe link")
		}
		return s.badLink(c, err)
	}
	if strings.Contains(string(body), "List-Unsubscribe=One-Click") {
		return c.String(http.StatusOK, "unsubscribed")
	}
	return s.page(c, http.StatusOK, "unsubscribe.html", map[string]any{
		"Title": "Unsubscribed", "Email": maskEmail(r.Subscription.Email), "Shop": shopName(r.Shop), "Done": true,
	})
}

// click: GET /r/{token}, a shopper from an email. Records the click and
// redirects to the shop's product page, never anywhere else.
func (s *Server) click(c echo.Context) error {
	to, err := s.flow.Click(c.Request().Context(), c.Param("token"))
	if err != nil {
		return s.badLink(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return c.Redirect(http.StatusFound, to)
}

func shopName(sh store.Shop) string {
	if sh.Name != "" {
		return sh.Name
	}
	return strings.TrimSuffix(sh.Domain, ".myshopify.com")
}

// maskEmail shows enough of an address for a shopper to recognise it.
func maskEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at <= 1 {
		return e
	}
	return e[:1] + strings.Repeat("•", min(at-1, 6)) + e[at:]
}
