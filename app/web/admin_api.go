package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
)

// adminDemand: GET /api/admin/demand, the embedded admin page (session
// token). Variants ranked by shoppers waiting.
func (s *Server) adminDemand(c echo.Context) error {
	rows, err := s.flow.Demand(c.Request().Context(), session(c).Shop)
	if err != nil {
		return s.jsonError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"variants": rows})
}

// adminRestocks: GET /api/admin/restocks, the embedded admin page (session
// token). Each restock's reach, engagement and credited orders, newest
// first (before, limit), with the shop's totals.
func (s *Server) adminRestocks(c echo.Context) error {
	var before int64
	limit := 20
	if v := c.QueryParam("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return s.validationOr(c, restock.ValidationError{{Field: "before", Message: "before must be a positive whole number"}})
		}
		before = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return s.validationOr(c, restock.ValidationError{{Field: "limit", Message: "limit must be a whole number from 1 to 100"}})
		}
		limit = n
	}
	page, err := s.flow.Results(c.Request().Context(), session(c).Shop, before, limit)
	if err != nil {
		return s.jsonError(c, err)
	}
	return c.JSON(http.StatusOK, page)
}

// subscriberQuery reads the list's filters from the query string; a bad
// number is a 400 naming the parameter.
func subscriberQuery(c echo.Context) (restock.SubscriberQuery, error) {
	q := restock.SubscriberQuery{Search: c.QueryParam("q"), Status: c.QueryParam("status")}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"product_id", &q.ProductID}, {"before", &q.Before}} {
		if v := c.QueryParam(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return q, restock.ValidationError{{Field: p.name, Message: p.name + " must be a positive whole number"}}
			}
			*p.dst = n
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, restock.ValidationError{{Field: "limit", Message: "limit must be a whole number from 1 to 200"}}
		}
		q.Limit = n
	}
	return q, q.Validate()
}

// adminSubscribers: GET /api/admin/subscribers, the embedded admin page
// (session token). Search (q), filters (status, product_id) and keyset
// pages (before, limit), newest first.
func (s *Server) adminSubscribers(c echo.Context) error {
	q, err := subscriberQuery(c)
	if err != nil {
		return s.validationOr(c, err)
	}
	page, err := s.flow.Subscribers(c.Request().Context(), session(c).Shop, q)
	if err != nil {
		return s.validationOr(c, err)
	}
	return c.JSON(http.StatusOK, page)
}

// adminProducts: GET /api/admin/products, the embedded admin page (session
// token). Products with subscribers, for the list's filter.
func (s *Server) adminProducts(c echo.Context) error {
	ps, err := s.flow.SubscribedProducts(c.Request().Context(), session(c).Shop)
	if err != nil {
		return s.jsonError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"products": ps})
}

// adminExport: GET /api/admin/subscribers.csv, the embedded admin page
// (session token). Streams the filtered list as CSV straight from a
// database cursor: memory stays flat for any number of rows.
func (s *Server) adminExport(c echo.Context) error {
	q, err := subscriberQuery(c)
	if err != nil {
		return s.validationOr(c, err)
	}
	shop := session(c).Shop
	if _, err := store.ShopByDomain(c.Request().Context(), s.cfg.Store.DB, shop); err != nil {
		return s.jsonError(c, err)
	}
	h := c.Response().Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+strings.TrimSuffix(shop, ".myshopify.com")+`-subscribers.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Response().WriteHeader(http.StatusOK)
	n, err := s.flow.ExportSubscribers(c.Request().Context(), shop, q, c.Response(), c.Response().Flush)
	if err != nil {
		// The status is sent: the client sees a cut-off file. Log it.
		s.log.Error("subscriber export failed", "shop", shop, "rows", n, "error", err)
	}
	return nil
}

// adminDeleteSubscriber: DELETE /api/admin/subscribers/:id, the embedded
// admin page (session token). Only the token's shop's rows can be deleted.
func (s *Server) adminDeleteSubscriber(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return c.JSON(http.StatusBadRequest, apiError{Error: "the subscriber id must be a positive whole number"})
	}
	err = s.flow.DeleteSubscriber(c.Request().Context(), session(c).Shop, id)
	if errors.Is(err, store.ErrNotFound) {
		return c.JSON(http.StatusNotFound, apiError{Error: "no such subscriber in this shop; it may already be deleted"})
	}
	if err != nil {
		return s.jsonError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "deleted"})
}

// adminShopPreview: POST /api/admin/preview, the embedded admin page
// (session token). Renders a step with the copy being typed and a product
// of the shop's catalog; read-only.
func (s *Server) adminShopPreview(c echo.Context) error {
	var in restock.PreviewInput
	if err := decodeJSON(c, &in); err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "the preview request must be a JSON object: " + err.Error()})
	}
	r, err := s.flow.ShopPreview(c.Request().Context(), session(c).Shop, in)
	if err != nil {
		return s.validationOr(c, err)
	}
	return c.JSON(http.StatusOK, r)
}

// adminTestEmail: POST /api/admin/test-email, the embedded admin page
// (session token). Sends one step, as it is being edited, to one address
// through the real sender; a few a minute per shop.
func (s *Server) adminTestEmail(c echo.Context) error {
	var in restock.TestInput
	if err := decodeJSON(c, &in); err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "the test request must be a JSON object: " + err.Error()})
	}
	shop := session(c).Shop
	// Only a send that can go counts against the allowance: a typo in the
	// address is a 422, not a minute's wait.
	if err := restock.ValidateTest(in); err != nil {
		return s.validationOr(c, err)
	}
	if ok, wait := s.tests.allow(shop, s.flow.Now()); !ok {
		return s.rateLimited(c, wait)
	}
	r, err := s.flow.SendTest(c.Request().Context(), shop, in)
	var ve restock.ValidationError
	switch {
	case errors.As(err, &ve):
		return s.validationOr(c, err)
	case err != nil:
		s.log.Warn("test email failed", "shop", shop, "error", err)
		return c.JSON(http.StatusBadGateway, apiError{Error: "the mail provider did not take the test email; check the sender settings and try again"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "sent", "subject": r.Subject, "product": r.Product})
}

type onboardingView struct {
	restock.Onboarding
	// BlockLink opens the theme editor on a product page with the app block
	// being added to its main section; EmbedLink switches the app embed on.
	BlockLink string `json:"block_link"`
	EmbedLink string `json:"embed_link"`
}

// adminOnboarding: GET /api/admin/onboarding, the embedded admin page
// (session token). The first-run checklist; refresh=1 re-reads the theme.
func (s *Server) adminOnboarding(c echo.Context) error {
	shop := session(c).Shop
	if c.QueryParam("refresh") == "1" {
		s.flow.ForgetTheme(shop)
	}
	o, err := s.flow.ShopOnboarding(c.Request().Context(), shop)
	if err != nil {
		return s.jsonError(c, err)
	}
	editor := "https://" + shop + "/admin/themes/current/editor?"
	block := url.Values{"template": {"product"}, "addAppBlockId": {s.cfg.APIKey + "/" + restock.BlockHandle}, "target": {"mainSection"}}
	embed := url.Values{"context": {"apps"}, "template": {"product"}, "activateAppId": {s.cfg.APIKey + "/" + restock.EmbedHandle}}
	return c.JSON(http.StatusOK, onboardingView{Onboarding: o, BlockLink: editor + block.Encode(), EmbedLink: editor + embed.Encode()})
}
