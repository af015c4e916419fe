package web

import (
	"bytes"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/templates"
)

// cspKey lets a handler replace the default Content-Security-Policy (the
// embedded pages may be framed by the shop's admin).
const cspKey = "csp"

var pages = template.Must(template.ParseFS(templates.FS, "pages/*.html"))

// page renders one page template with the layout.
func (s *Server) page(c echo.Context, code int, name string, data map[string]any) error {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("render page", "page", name, "error", err)
		return echo.NewHTTPError(http.StatusInternalServerError)
	}
	h := c.Response().Header()
	csp, _ := c.Get(cspKey).(string)
	if csp == "" {
		csp = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; frame-ancestors 'none'"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(code, buf.Bytes())
}
