package web

import (
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/shopify"
)

// webhook: POST /webhooks, Shopify, every topic. The HMAC is checked over
// the raw body before anything is stored; the delivery is recorded under
// its webhook id with its job in one transaction, so a redelivery is
// acknowledged and not processed twice.
func (s *Server) webhook(c echo.Context) error {
	req := c.Request()
	if req.ContentLength > MaxWebhookBody {
		return c.JSON(http.StatusRequestEntityTooLarge, apiError{Error: "webhook body larger than 1 MiB"})
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxWebhookBody+1))
	if err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "could not read the request body"})
	}
	if len(body) > MaxWebhookBody {
		return c.JSON(http.StatusRequestEntityTooLarge, apiError{Error: "webhook body larger than 1 MiB"})
	}
	h := req.Header
	if err := shopify.VerifyWebhook(body, h.Get(shopify.HeaderHMAC), s.cfg.Secrets...); err != nil {
		return c.JSON(http.StatusUnauthorized, apiError{Error: "missing or invalid X-Shopify-Hmac-Sha256"})
	}
	topic, id := h.Get(shopify.HeaderTopic), h.Get(shopify.HeaderWebhookID)
	if !headerToken(topic, 100) || !headerToken(id, 255) {
		return c.JSON(http.StatusBadRequest, apiError{Error: "X-Shopify-Topic and X-Shopify-Webhook-Id are required (printable ASCII)"})
	}
	shop, err := shopify.NormalizeShop(h.Get(shopify.HeaderShopDomain))
	if err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "X-Shopify-Shop-Domain must be a name.myshopify.com domain"})
	}
	var triggered time.Time
	if v := h.Get(shopify.HeaderTriggeredAt); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			triggered = t
		}
	}
	outcome, err := s.flow.AcceptWebhook(req.Context(), restock.IncomingWebhook{
		WebhookID: id, Shop: shop, Topic: topic, TriggeredAt: triggered, Body: body,
	})
	if err != nil {
		s.log.Error("webhook not recorded", "shop", shop, "topic", topic, "webhook_id", id, "error", err)
		// Not 2xx: Shopify delivers it again.
		return c.JSON(http.StatusInternalServerError, apiError{Error: "could not record the webhook; it will be retried"})
	}
	if outcome == restock.IntakeInvalid {
		s.log.Warn("webhook body does not parse; kept for inspection", "shop", shop, "topic", topic, "webhook_id", id)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": outcome})
}

// headerToken accepts a non-empty header value of printable ASCII (what
// Shopify sends for topics and ids) up to max bytes.
func headerToken(v string, max int) bool {
	if v == "" || len(v) > max {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
