package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// outboxList: GET /dev/outbox, a developer; the emails the outbox sender
// wrote (development only).
func (s *Server) outboxList(c echo.Context) error {
	emails, err := s.cfg.Outbox.List()
	if err != nil {
		return err
	}
	if c.QueryParam("format") == "json" || c.Request().Header.Get("Accept") == "application/json" {
		return c.JSON(http.StatusOK, emails)
	}
	return s.page(c, http.StatusOK, "outbox.html", map[string]any{"Title": "Outbox", "Emails": emails, "Dir": s.cfg.Outbox.Dir})
}

// outboxShow: GET /dev/outbox/{file}, a developer; one email's HTML part,
// sandboxed.
func (s *Server) outboxShow(c echo.Context) error {
	em, err := s.cfg.Outbox.Read(c.Param("name"))
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "no such email in the outbox")
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.HTML(http.StatusOK, em.HTML)
}
