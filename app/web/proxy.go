package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/shopify"
)

const proxyKey = "proxy_request"

// requireProxySignature checks the App Proxy signature (query only); the
// shop comes from the signed query, never from the body.
func (s *Server) requireProxySignature(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := c.QueryParams()
		if err := proxyQueryShape(q); err != nil {
			return c.JSON(http.StatusUnauthorized, apiError{Error: "this request must come through the store's app proxy (" + err.Error() + ")"})
		}
		pr, err := shopify.VerifyProxyQuery(q, s.flow.Now(), s.cfg.ProxyMaxSkew, s.cfg.Secrets...)
		if err != nil {
			msg := "this request must come through the store's app proxy (missing or invalid signature)"
			if errors.Is(err, shopify.ErrStale) {
				msg = "this request has expired; please reload the page and try again"
			}
			return c.JSON(http.StatusUnauthorized, apiError{Error: msg})
		}
		c.Set(proxyKey, pr)
		return next(c)
	}
}

// proxyParams are the only query parameters the proxy routes take, each
// once, with the shape its value must have. Shopify signs the sorted
// key=value pairs with no separator, so a query with other keys (or values
// containing '=') could be re-split into a different one under the same
// signature: another shop, customer or timestamp.
var proxyParams = map[string]*regexp.Regexp{
	"shop":                  regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*\.myshopify\.com$`),
	"timestamp":             regexp.MustCompile(`^[0-9]{1,12}$`),
	"signature":             regexp.MustCompile(`^[0-9a-f]{64}$`),
	"logged_in_customer_id": regexp.MustCompile(`^[0-9]{0,20}$`),
	"path_prefix":           regexp.MustCompile(`^/(apps|a|community|tools)/[A-Za-z0-9_-]{1,30}$`),
	"variant_id":            regexp.MustCompile(`^[^=]{0,100}$`), // checked by the handler (422)
}

var proxyRequired = []string{"shop", "timestamp", "signature", "logged_in_customer_id", "path_prefix"}

func proxyQueryShape(q url.Values) error {
	for k, vs := range q {
		re, ok := proxyParams[k]
		if !ok {
			return fmt.Errorf("unexpected query parameter %q", k)
		}
		if len(vs) != 1 || !re.MatchString(vs[0]) {
			return fmt.Errorf("malformed query parameter %q", k)
		}
	}
	for _, k := range proxyRequired {
		if _, ok := q[k]; !ok {
			return fmt.Errorf("missing %s", k)
		}
	}
	return nil
}

// maxSignupBody bounds the storefront form.
const maxSignupBody = 16 << 10

type signupForm struct {
	// Website is the honeypot: hidden from people, filled in by bots.
	Website          string `json:"website"`
	Email            string `json:"email"`
	VariantID        any    `json:"variant_id"`
	ProductID        any    `json:"product_id"`
	Locale           string `json:"locale"`
	AcceptsMarketing any    `json:"accepts_marketing"`
}

// subscribe: POST /proxy/subscribe, the storefront "Notify me" form through
// the App Proxy. Idempotent: one subscription per shop, variant and email
// (201 the first time, 200 after).
func (s *Server) subscribe(c echo.Context) error {
	pr := c.Get(proxyKey).(shopify.ProxyRequest)
	req := c.Request()
	now := s.flow.Now()
	if ok, wait := s.limits.ip.allow(pr.Shop+"|"+shopperIP(c.Request()), now); !ok {
		return s.rateLimited(c, wait)
	}
	if ok, wait := s.limits.shop.allow(pr.Shop, now); !ok {
		return s.rateLimited(c, wait)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxSignupBody+1))
	if err != nil {
		return c.JSON(http.StatusBadRequest, apiError{Error: "could not read the request"})
	}
	if len(body) > maxSignupBody {
		return c.JSON(http.StatusRequestEntityTooLarge, apiError{Error: "the form is too large"})
	}
	var f signupForm
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber() // ids above 2^53 stay exact
		if err := dec.Decode(&f); err != nil {
			return c.JSON(http.StatusBadRequest, apiError{Error: "the request is not valid JSON"})
		}
	case "application/x-www-form-urlencoded", "":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return c.JSON(http.StatusBadRequest, apiError{Error: "the form could not be read"})
		}
		f = signupForm{Website: v.Get("website"), Email: v.Get("email"), VariantID: v.Get("variant_id"), ProductID: v.Get("product_id"),
			Locale: v.Get("locale"), AcceptsMarketing: v.Get("accepts_marketing")}
	default:
		return c.JSON(http.StatusUnsupportedMediaType, apiError{Error: "send the form as JSON or as a URL-encoded form"})
	}
	if strings.TrimSpace(f.Website) != "" {
		// A bot filled the hidden field: look successful, store nothing.
		s.log.Info("signup honeypot filled", "shop", pr.Shop)
		return c.JSON(http.StatusCreated, map[string]string{"status": "subscribed"})
	}
	variantID, ok := parseID(f.VariantID)
	if !ok {
		return c.JSON(http.StatusUnprocessableEntity, apiError{Error: "variant_id must be a product variant id", Code: "unknown_variant"})
	}
	if ok, wait := s.limits.email.allow(pr.Shop+"|"+restock.NormalizeEmail(f.Email), now); !ok {
		return s.rateLimited(c, wait)
	}
	res, err := s.flow.Subscribe(req.Context(), restock.SignupRequest{
		Shop: pr.Shop, VariantID: variantID, Email: f.Email, Locale: f.Locale,
		AcceptsMarketing: truthy(f.AcceptsMarketing), CustomerID: pr.LoggedInCustomerID,
	})
	page := ct == "application/x-www-form-urlencoded" && strings.Contains(req.Header.Get("Accept"), "text/html")
	if err != nil {
		if page && statusOf(err) < 500 {
			return s.proxyPage(c, statusOf(err), "We couldn't add you to the list", err.Error())
		}
		return s.jsonError(c, err)
	}
	if res.Created {
		s.log.Info("shopper subscribed", "shop", pr.Shop, "variant_id", variantID, "subscription_id", res.Subscription.ID)
	}
	if page {
		// A form posted without JavaScript: Shopify renders this Liquid
		// inside the shop's theme.
		return s.proxyPage(c, http.StatusOK, "You're on the list", "We'll email you when "+res.Variant.DisplayTitle()+" is back in stock.")
	}
	if res.Created {
		return c.JSON(http.StatusCreated, map[string]string{"status": "subscribed"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "already_subscribed"})
}

// proxyStatus: GET /proxy/status?variant_id=…, the storefront block for a
// logged-in shopper; read-only.
func (s *Server) proxyStatus(c echo.Context) error {
	pr := c.Get(proxyKey).(shopify.ProxyRequest)
	variantID, ok := parseID(c.QueryParam("variant_id"))
	if !ok {
		return c.JSON(http.StatusUnprocessableEntity, apiError{Error: "variant_id must be a product variant id"})
	}
	waiting := false
	if pr.LoggedInCustomerID > 0 {
		w, err := s.flow.CustomerWaits(c.Request().Context(), pr.Shop, variantID, pr.LoggedInCustomerID)
		if err != nil {
			return s.jsonError(c, err)
		}
		waiting = w
	}
	return c.JSON(http.StatusOK, map[string]bool{"waiting": waiting})
}

// proxyPage answers a plain form post with a page Shopify renders as
// Liquid in the shop's theme. The text is escaped (and Liquid braces with
// it), and the way back is the product page the form came from.
func (s *Server) proxyPage(c echo.Context, status int, heading, text string) error {
	back := "/"
	if ref, err := url.Parse(c.Request().Referer()); err == nil && strings.HasPrefix(ref.Path, "/products/") {
		back = ref.Path
		if ref.RawQuery != "" {
			back += "?" + ref.RawQuery
		}
	}
	esc := func(v string) string {
		v = html.EscapeString(v)
		return strings.NewReplacer("{", "&#123;", "}", "&#125;", "%", "&#37;").Replace(v)
	}
	body := `<div class="page-width" style="padding:40px 0"><h1>` + esc(heading) + `</h1><p>` + esc(text) +
		`</p><p><a href="` + esc(back) + `">Back to the product</a></p></div>`
	return c.Blob(status, "application/liquid; charset=utf-8", []byte(body))
}

// shopperIP is the address Shopify's app proxy reports for the shopper: the
// first X-Forwarded-For entry (every request here comes from Shopify's
// servers, so the peer address is theirs). A request that skips the proxy
// could put anything there, but it still needs a valid signed query, and
// the per-email and per-shop buckets still apply.
func shopperIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
			return ip.String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimited answers 429 with Retry-After in whole seconds.
func (s *Server) rateLimited(c echo.Context, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	return c.JSON(http.StatusTooManyRequests, apiError{Error: "too many requests; please try again in a moment", Code: "rate_limited"})
}

func parseID(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
		// Accept a GID too: gid://shopify/ProductVariant/123.
		if strings.HasPrefix(s, "gid://") {
			if _, id, err := shopify.ParseGID(s); err == nil {
				return id, id > 0
			}
			return 0, false
		}
	case json.Number:
		s = x.String()
	default:
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "1", "true", "on", "yes":
			return true
		}
	case json.Number:
		return x.String() != "0"
	}
	return false
}
