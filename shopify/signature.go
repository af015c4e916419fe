package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrBadSignature reports a missing, malformed or wrong signature, or a
// signed request whose structure cannot be trusted (for example a repeated
// shop or timestamp parameter).
var ErrBadSignature = errors.New("shopify: bad signature")

// ErrBadShop reports a shop domain that does not match the myshopify.com rule.
var ErrBadShop = errors.New("shopify: invalid shop domain")

// ErrStale reports a timestamp (or JWT exp/nbf) that is missing or outside the
// allowed clock window.
var ErrStale = errors.New("shopify: timestamp outside allowed window")

// DefaultMaxSkew is the clock window used by VerifyProxyQuery and
// VerifyOAuthQuery when they are given a maxSkew <= 0. It is the 90 s
// tolerance of Shopify's shopify-app-js library.
const DefaultMaxSkew = 90 * time.Second

// WebhookHMACHeader is the HTTP header that carries the webhook signature.
const WebhookHMACHeader = "X-Shopify-Hmac-Sha256"

// SignWebhook returns the X-Shopify-Hmac-Sha256 value Shopify would send for
// body: the standard base64 encoding of HMAC-SHA256(secret, body).
func SignWebhook(secret string, body []byte) string {
	return base64.StdEncoding.EncodeToString(macBytes(secret, body))
}

// VerifyWebhook checks the X-Shopify-Hmac-Sha256 header value against the raw
// request body. The header must be the canonical standard base64 encoding of a
// 32-byte MAC; the decoded bytes are compared in constant time with the MAC
// computed under each non-empty secret (current first, then previous). It
// returns an error wrapping ErrBadSignature when the header is missing,
// malformed or wrong, or when no secret is configured.
func VerifyWebhook(body []byte, header string, secrets ...string) error {
	const op = "verify webhook"
	keys := usableSecrets(secrets)
	if len(keys) == 0 {
		return fmt.Errorf("%s: no secret configured: %w", op, ErrBadSignature)
	}
	if header == "" {
		return fmt.Errorf("%s: missing %s header: %w", op, WebhookHMACHeader, ErrBadSignature)
	}
	got, ok := decodeBase64MAC(header)
	if !ok {
		return fmt.Errorf("%s: malformed %s header: %w", op, WebhookHMACHeader, ErrBadSignature)
	}
	for _, secret := range keys {
		if hmac.Equal(got, macBytes(secret, body)) {
			return nil
		}
	}
	return fmt.Errorf("%s: hmac mismatch: %w", op, ErrBadSignature)
}

// ProxyRequest is the verified context of an app proxy request.
type ProxyRequest struct {
	// Shop is the lower-cased myshopify.com domain of the storefront.
	Shop string
	// LoggedInCustomerID is the storefront customer id, 0 for a logged-out
	// shopper (Shopify then sends the parameter empty).
	LoggedInCustomerID int64
	// PathPrefix is the proxy path the shopper used, e.g. "/apps/restock".
	// Merchants can change it, so build storefront links from it.
	PathPrefix string
	// Timestamp is when Shopify forwarded the request.
	Timestamp time.Time
}

// proxySingleValueParams are the app proxy parameters that must appear at
// most once. shopify-app-js rejects repeats of the first four; the last two
// are added because ProxyRequest exposes them and a repeated value would be
// ambiguous (which one did Shopify set?).
func proxySingleValueParams() []string {
	return []string{"shop", "signature", "timestamp", "hmac", "logged_in_customer_id", "path_prefix"}
}

// SignProxyQuery returns the app proxy signature Shopify would append to q:
// the lowercase hex HMAC-SHA256 of every "key=value" string (the signature
// parameter excluded, values of a repeated key joined with "," in order),
// sorted and concatenated with no separator. q is not modified.
func SignProxyQuery(secret string, q url.Values) string {
	return hex.EncodeToString(macBytes(secret, []byte(proxyMessage(q))))
}

// proxyMessage builds the string signed for an app proxy request.
func proxyMessage(q url.Values) string {
	parts := make([]string, 0, len(q))
	for k, vs := range q {
		if k == "signature" {
			continue
		}
		parts = append(parts, k+"="+strings.Join(vs, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, "")
}

// VerifyProxyQuery checks an app proxy request's query (already URL-decoded,
// as from url.ParseQuery) and returns its verified context. It rejects
// repeated shop, signature, timestamp, hmac, logged_in_customer_id and
// path_prefix parameters and a missing or wrong signature (ErrBadSignature), a
// shop that fails ValidShop (ErrBadShop), and a timestamp further than maxSkew
// from now (ErrStale; maxSkew <= 0 means DefaultMaxSkew). Only the query is
// signed: a POST body is not covered and must be validated separately.
func VerifyProxyQuery(q url.Values, now time.Time, maxSkew time.Duration, secrets ...string) (ProxyRequest, error) {
	const op = "verify proxy query"
	for _, k := range proxySingleValueParams() {
		if len(q[k]) > 1 {
			return ProxyRequest{}, fmt.Errorf("%s: repeated %q parameter: %w", op, k, ErrBadSignature)
		}
	}
	sig := q.Get("signature")
	if sig == "" {
		return ProxyRequest{}, fmt.Errorf("%s: missing signature parameter: %w", op, ErrBadSignature)
	}
	if err := verifyHexMAC(sig, []string{proxyMessage(q)}, secrets); err != nil {
		return ProxyRequest{}, fmt.Errorf("%s: %w", op, err)
	}
	shop := q.Get("shop")
	if !ValidShop(shop) {
		return ProxyRequest{}, fmt.Errorf("%s: shop %q: %w", op, shop, ErrBadShop)
	}
	ts, err := checkTimestamp(q.Get("timestamp"), now, maxSkew)
	if err != nil {
		return ProxyRequest{}, fmt.Errorf("%s: %w", op, err)
	}
	var customerID int64
	if raw := q.Get("logged_in_customer_id"); raw != "" {
		customerID, err = strconv.ParseInt(raw, 10, 64)
		if err != nil || customerID <= 0 {
			return ProxyRequest{}, fmt.Errorf("%s: malformed logged_in_customer_id %q: %w", op, raw, ErrBadSignature)
		}
	}
	return ProxyRequest{
		Shop:               asciiLower(shop),
		LoggedInCustomerID: customerID,
		PathPrefix:         q.Get("path_prefix"),
		Timestamp:          ts,
	}, nil
}

// SignOAuthQuery returns the hmac value Shopify would add to an OAuth install
// or callback URL, or to an embedded admin load, with query q: the lowercase
// hex HMAC-SHA256 of the sorted "key=value" pairs joined by "&", with hmac and
// the legacy signature parameter left out. Escaping follows Shopify's
// documented rule (as in shopify_python_api and the test vectors): "%" becomes
// "%25" and "&" becomes "%26" in keys and values, "=" becomes "%3D" in keys,
// and an array parameter such as ids[]=1&ids[]=2 is signed as
// ids=["1", "2"]. A repeated key without the [] suffix is signed value by
// value, but VerifyOAuthQuery rejects such queries. q is not modified.
func SignOAuthQuery(secret string, q url.Values) string {
	return hex.EncodeToString(macBytes(secret, []byte(oauthMessage(q))))
}

// oauthMessage builds the string signed for an OAuth/admin query using the
// documented (shopify_python_api) escaping.
func oauthMessage(q url.Values) string {
	keyEsc := strings.NewReplacer("%", "%25", "=", "%3D", "&", "%26")
	valEsc := strings.NewReplacer("%", "%25", "&", "%26")
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		if k == "hmac" || k == "signature" {
			continue
		}
		if base, ok := strings.CutSuffix(k, "[]"); ok {
			pairs = append(pairs, keyEsc.Replace(base)+"="+valEsc.Replace(pythonJSONList(vs)))
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, keyEsc.Replace(k)+"="+valEsc.Replace(v))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// oauthFormMessage builds the string shopify-app-js signs for an admin query:
// keys sorted, each value form-encoded the WHATWG URLSearchParams way with
// "%20" for a space, pairs joined by "&", one pair per value of an array key.
// Keys are sorted bytewise; shopify-app-js uses localeCompare, which only
// differs for keys mixing case or punctuation, which Shopify does not send.
func oauthFormMessage(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(formEncode(k))
			b.WriteByte('=')
			b.WriteString(formEncode(v))
		}
	}
	return b.String()
}

// VerifyOAuthQuery checks the hmac parameter of an OAuth install or callback
// request, or of an embedded admin load, and returns the lower-cased shop
// domain. The signature is accepted in the documented escaping (see
// SignOAuthQuery) and in the percent-encoding shopify-app-js uses, which agree
// for ordinary parameters; the two forms cannot be confused with one another.
// It rejects repeated parameters other than array (key[]) parameters and a
// missing or wrong hmac (ErrBadSignature), a shop that fails ValidShop
// (ErrBadShop), and a timestamp further than maxSkew from now (ErrStale;
// maxSkew <= 0 means DefaultMaxSkew). The caller still has to check state
// against its own nonce on OAuth callbacks.
func VerifyOAuthQuery(q url.Values, now time.Time, maxSkew time.Duration, secrets ...string) (shop string, err error) {
	const op = "verify oauth query"
	for k, vs := range q {
		if len(vs) > 1 && (k == "hmac" || k == "signature" || !strings.HasSuffix(k, "[]")) {
			return "", fmt.Errorf("%s: repeated %q parameter: %w", op, k, ErrBadSignature)
		}
	}
	sig := q.Get("hmac")
	if sig == "" {
		return "", fmt.Errorf("%s: missing hmac parameter: %w", op, ErrBadSignature)
	}
	msgs := []string{oauthMessage(q)}
	if alt := oauthFormMessage(q); alt != msgs[0] {
		msgs = append(msgs, alt)
	}
	if err := verifyHexMAC(sig, msgs, secrets); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	shop = q.Get("shop")
	if !ValidShop(shop) {
		return "", fmt.Errorf("%s: shop %q: %w", op, shop, ErrBadShop)
	}
	if _, err := checkTimestamp(q.Get("timestamp"), now, maxSkew); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return asciiLower(shop), nil
}

// macBytes returns HMAC-SHA256(secret, msg).
func macBytes(secret string, msg []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(msg)
	return m.Sum(nil)
}

// usableSecrets drops empty secrets, keeping the caller's order.
func usableSecrets(secrets []string) []string {
	out := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// decodeBase64MAC decodes a webhook header. Only the canonical encoding of a
// SHA-256 MAC is accepted: exactly 44 characters, no line breaks (which the
// decoder would otherwise skip) and zero padding bits (Strict), so that no
// two different header strings decode to the same MAC.
func decodeBase64MAC(s string) ([]byte, bool) {
	if len(s) != base64.StdEncoding.EncodedLen(sha256.Size) || strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, false
	}
	return b, true
}

// decodeHexMAC decodes a query signature: exactly 64 lowercase hex digits.
func decodeHexMAC(s string) ([]byte, bool) {
	if len(s) != hex.EncodedLen(sha256.Size) {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, false
		}
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

// verifyHexMAC reports whether sig is the hex MAC of any of msgs under any
// usable secret, comparing decoded bytes in constant time.
func verifyHexMAC(sig string, msgs []string, secrets []string) error {
	keys := usableSecrets(secrets)
	if len(keys) == 0 {
		return fmt.Errorf("no secret configured: %w", ErrBadSignature)
	}
	got, ok := decodeHexMAC(sig)
	if !ok {
		return fmt.Errorf("malformed signature %q: %w", truncate(sig, 80), ErrBadSignature)
	}
	for _, secret := range keys {
		for _, msg := range msgs {
			if hmac.Equal(got, macBytes(secret, []byte(msg))) {
				return nil
			}
		}
	}
	return fmt.Errorf("signature mismatch: %w", ErrBadSignature)
}

// checkTimestamp parses a Unix-seconds timestamp and checks that it lies
// within maxSkew of now in either direction.
func checkTimestamp(raw string, now time.Time, maxSkew time.Duration) (time.Time, error) {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if raw == "" {
		return time.Time{}, fmt.Errorf("missing timestamp: %w", ErrStale)
	}
	sec, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not Unix seconds: %w", truncate(raw, 40), ErrStale)
	}
	ts := time.Unix(sec, 0).UTC()
	// Sub saturates on overflow; comparing against both bounds (instead of
	// negating a possibly minimal Duration) keeps the check sound.
	if d := now.Sub(ts); d > maxSkew || d < -maxSkew {
		return time.Time{}, fmt.Errorf("timestamp %d is more than %s from now: %w", sec, maxSkew, ErrStale)
	}
	return ts, nil
}

// pythonJSONList renders vs the way Python's json.dumps renders a list of
// str (", " separator, ASCII-only output), as shopify_python_api does for
// array parameters.
func pythonJSONList(vs []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('"')
		for _, r := range v {
			switch r {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				switch {
				case r < 0x20:
					fmt.Fprintf(&b, `\u%04x`, r)
				case r < utf8.RuneSelf:
					b.WriteRune(r)
				case r > 0xFFFF:
					r -= 0x10000
					fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
				default:
					fmt.Fprintf(&b, `\u%04x`, r)
				}
			}
		}
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// formEncode percent-encodes s like the WHATWG application/x-www-form-urlencoded
// serializer (URLSearchParams.toString), except that a space becomes "%20"
// rather than "+", as shopify-app-js does before signing.
func formEncode(s string) string {
	const upperHex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0x0F])
		}
	}
	return b.String()
}

// truncate shortens attacker-controlled text before it goes into an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
