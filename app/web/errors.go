package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
)

// apiError is the JSON error body: {"error": "...", "code": "..."}; the
// message is for people, the code for the storefront script.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// codeOf names an error for scripts.
func codeOf(err error) string {
	switch {
	case errors.Is(err, restock.ErrInvalidEmail):
		return "invalid_email"
	case errors.Is(err, restock.ErrTooManyForEmail):
		return "too_many_waits"
	case errors.Is(err, restock.ErrUnknownShop):
		return "not_installed"
	case errors.Is(err, restock.ErrUnknownVariant):
		return "unknown_variant"
	case errors.Is(err, restock.ErrInStock):
		return "in_stock"
	case errors.Is(err, restock.ErrNotRestockable):
		return "always_available"
	case errors.Is(err, restock.ErrCatalogUnavailable):
		return "unavailable"
	}
	return ""
}

// statusOf is the one place errors become HTTP status codes.
func statusOf(err error) int {
	switch {
	case errors.Is(err, restock.ErrInvalidEmail), errors.Is(err, restock.ErrTooManyForEmail):
		return http.StatusUnprocessableEntity
	case errors.Is(err, restock.ErrUnknownShop), errors.Is(err, restock.ErrUnknownVariant):
		return http.StatusNotFound
	case errors.Is(err, restock.ErrInStock), errors.Is(err, restock.ErrNotRestockable):
		return http.StatusConflict
	case errors.Is(err, restock.ErrCatalogUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, restock.ErrBadToken), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// jsonError answers with a safe message; internal details go to the log.
func (s *Server) jsonError(c echo.Context, err error) error {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.log.Error("request failed", "route", c.Path(), "error", err)
		msg = "something went wrong on our side; please try again"
	}
	if errors.Is(err, store.ErrNotFound) && strings.HasPrefix(c.Path(), "/api/admin/") {
		// The one bare not-found under the admin API is the shop itself.
		msg = "Restock Relay has no record of this shop yet: open the app from the Shopify admin to install it"
	}
	if code == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", "60")
	}
	return c.JSON(code, apiError{Error: msg, Code: codeOf(err)})
}

func httpErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code := http.StatusInternalServerError
		msg := "something went wrong on our side"
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = he.Code
			if m, ok := he.Message.(string); ok {
				msg = m
			} else {
				msg = http.StatusText(code)
			}
		} else {
			log.Error("unhandled error", "route", c.Path(), "error", err)
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(code)
			return
		}
		_ = c.JSON(code, apiError{Error: msg})
	}
}
