package web

import (
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/restockrelay/restockrelay/app/restock"
)

// maxEventBody bounds an Event Webhook post (SendGrid flushes at 768 KB).
const maxEventBody = 4 << 20

// maxEventAge bounds the age of a signed event post (SendGrid defines no
// replay window; ten minutes covers its delivery delays).
const maxEventAge = 10 * time.Minute

// sendgridEvents: POST /sendgrid/events, SendGrid's Event Webhook. The
// ECDSA signature over timestamp and raw body is checked when a public key
// is configured (always, in production). Idempotent: events only stamp
// first opens and clicks and add suppressions.
func (s *Server) sendgridEvents(c echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxEventBody+1))
	if err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "could not read the request body"})
	}
	if len(body) > maxEventBody {
		return c.JSON(http.StatusRequestEntityTooLarge, apiError{Error: "event batch larger than 4 MiB"})
	}
	if s.cfg.EventKey != nil {
		sig := c.Request().Header.Get(eventwebhook.VerificationHTTPHeader)
		ts := c.Request().Header.Get(eventwebhook.TimestampHTTPHeader)
		sec, terr := strconv.ParseInt(ts, 10, 64)
		if terr != nil || sig == "" {
			return c.JSON(http.StatusUnauthorized, apiError{Error: "missing event webhook signature"})
		}
		if age := s.flow.Now().Sub(time.Unix(sec, 0)); age > maxEventAge || age < -maxEventAge {
			return c.JSON(http.StatusUnauthorized, apiError{Error: "event webhook timestamp too old"})
		}
		if ok, _ := eventwebhook.VerifySignature(s.cfg.EventKey, body, sig, ts); !ok {
			return c.JSON(http.StatusUnauthorized, apiError{Error: "invalid event webhook signature"})
		}
	} else if !s.cfg.Dev {
		return c.JSON(http.StatusServiceUnavailable, apiError{Error: "SENDGRID_WEBHOOK_PUBLIC_KEY is not configured"})
	}
	var events []restock.MailEvent
	if err := json.Unmarshal(body, &events); err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "the body must be a JSON array of events"})
	}
	n, err := s.flow.RecordMailEvents(c.Request().Context(), events)
	if err != nil {
		s.log.Error("mail events not recorded", "error", err)
		return c.JSON(http.StatusInternalServerError, apiError{Error: "could not record the events; please retry"})
	}
	return c.JSON(http.StatusOK, map[string]int{"applied": n})
}

// ParseEventKey reads SendGrid's base64 DER public key.
func ParseEventKey(b64 string) (*ecdsa.PublicKey, error) {
	return eventwebhook.ConvertPublicKeyBase64ToECDSA(b64)
}
