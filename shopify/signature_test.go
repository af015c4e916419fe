package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// vectorFile mirrors testdata/vectors.json.
type vectorFile struct {
	Webhook            []webhookVector      `json:"webhook_hmac"`
	OAuth              []oauthVector        `json:"oauth_query_hmac"`
	Proxy              []proxyVector        `json:"app_proxy_signature"`
	SessionToken       []sessionTokenVector `json:"session_token_jwt"`
	RejectedCandidates []struct {
		What string `json:"what"`
		Why  string `json:"why"`
	} `json:"rejected_candidates"`
}

type webhookVector struct {
	Name           string `json:"name"`
	Secret         string `json:"secret"`
	Body           string `json:"body"`
	ExpectedHeader string `json:"expected_header"`
	Verified       bool   `json:"verified"`
}

type oauthVector struct {
	Name            string            `json:"name"`
	Secret          string            `json:"secret"`
	QueryParams     map[string]string `json:"query_params"`
	QueryString     string            `json:"query_string"`
	Message         string            `json:"message"`
	ExpectedHMACHex string            `json:"expected_hmac_hex"`
	Verified        bool              `json:"verified"`
}

// query returns the vector's parameters as url.Values.
func (v oauthVector) query(t testing.TB) url.Values {
	t.Helper()
	if v.QueryString != "" {
		q, err := url.ParseQuery(v.QueryString)
		if err != nil {
			t.Fatalf("%s: parse query_string: %v", v.Name, err)
		}
		return q
	}
	q := url.Values{}
	for k, val := range v.QueryParams {
		q.Set(k, val)
	}
	return q
}

type proxyVector struct {
	Name                 string      `json:"name"`
	Secret               string      `json:"secret"`
	QueryPairs           [][2]string `json:"query_pairs"`
	Message              string      `json:"message"`
	ExpectedSignatureHex string      `json:"expected_signature_hex"`
	Verified             bool        `json:"verified"`
}

// query returns the vector's pairs as url.Values, preserving value order.
func (v proxyVector) query() url.Values {
	q := url.Values{}
	for _, p := range v.QueryPairs {
		q.Add(p[0], p[1])
	}
	return q
}

type sessionTokenVector struct {
	Name           string `json:"name"`
	Secret         string `json:"secret"`
	ClientID       string `json:"client_id"`
	Token          string `json:"token"`
	CheckAtUnix    int64  `json:"check_at_unix"`
	Expected       string `json:"expected"`
	ExpectedShop   string `json:"expected_shop"`
	ExpectedUserID string `json:"expected_user_id"`
	Verified       bool   `json:"verified"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatalf("decode vectors: %v", err)
	}
	if len(vf.Webhook) == 0 || len(vf.OAuth) == 0 || len(vf.Proxy) == 0 || len(vf.SessionToken) == 0 {
		t.Fatalf("vectors file is missing a section: %d webhook, %d oauth, %d proxy, %d session token",
			len(vf.Webhook), len(vf.OAuth), len(vf.Proxy), len(vf.SessionToken))
	}
	return vf
}

// timestampOf returns the timestamp parameter of q as a time, or the zero
// time when q has none.
func timestampOf(t testing.TB, q url.Values) time.Time {
	t.Helper()
	raw := q.Get("timestamp")
	if raw == "" {
		return time.Time{}
	}
	sec, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		t.Fatalf("timestamp %q: %v", raw, err)
	}
	return time.Unix(sec, 0)
}

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func TestVectorsAllVerified(t *testing.T) {
	vf := loadVectors(t)
	n := 0
	for _, v := range vf.Webhook {
		n++
		if !v.Verified {
			t.Errorf("webhook vector %s is not marked verified", v.Name)
		}
	}
	for _, v := range vf.OAuth {
		n++
		if !v.Verified {
			t.Errorf("oauth vector %s is not marked verified", v.Name)
		}
	}
	for _, v := range vf.Proxy {
		n++
		if !v.Verified {
			t.Errorf("proxy vector %s is not marked verified", v.Name)
		}
	}
	for _, v := range vf.SessionToken {
		n++
		if !v.Verified {
			t.Errorf("session token vector %s is not marked verified", v.Name)
		}
	}
	if n != 22 {
		t.Errorf("got %d vectors, the file says 22", n)
	}
	// Rejected candidates carry no usable material by design; make sure none
	// sneaks into the verified sections under the same description.
	for _, r := range vf.RejectedCandidates {
		t.Logf("rejected candidate (not used): %s: %s", r.What, r.Why)
		if r.What == "" || r.Why == "" {
			t.Errorf("rejected candidate without what/why: %+v", r)
		}
	}
}

func TestWebhookVectors(t *testing.T) {
	for _, v := range loadVectors(t).Webhook {
		t.Run(v.Name, func(t *testing.T) {
			body := []byte(v.Body)
			if got := SignWebhook(v.Secret, body); got != v.ExpectedHeader {
				t.Errorf("SignWebhook = %q, want %q", got, v.ExpectedHeader)
			}
			if err := VerifyWebhook(body, v.ExpectedHeader, v.Secret); err != nil {
				t.Errorf("VerifyWebhook: %v", err)
			}
			// Rotation: the vector's secret as the previous one still verifies.
			if err := VerifyWebhook(body, v.ExpectedHeader, "rotated_new_secret", "", v.Secret); err != nil {
				t.Errorf("VerifyWebhook with previous secret: %v", err)
			}
			if err := VerifyWebhook(body, v.ExpectedHeader, v.Secret+"x"); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyWebhook with other secret = %v, want ErrBadSignature", err)
			}
			tampered := append([]byte(v.Body), ' ')
			if err := VerifyWebhook(tampered, v.ExpectedHeader, v.Secret); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyWebhook with tampered body = %v, want ErrBadSignature", err)
			}
		})
	}
}

// TestWebhookRawBodyMatters checks gotcha 1: the two vectors hold the same
// JSON value serialised differently, so their signatures differ and neither
// verifies the other's body.
func TestWebhookRawBodyMatters(t *testing.T) {
	byName := map[string]webhookVector{}
	for _, v := range loadVectors(t).Webhook {
		byName[v.Name] = v
	}
	compact, spaced := byName["computed_inventory_levels_update_compact"], byName["computed_same_json_other_whitespace"]
	if compact.Name == "" || spaced.Name == "" {
		t.Fatal("whitespace vectors missing")
	}
	var a, b any
	if err := json.Unmarshal([]byte(compact.Body), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(spaced.Body), &b); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("whitespace vectors should hold the same JSON value")
	}
	if err := VerifyWebhook([]byte(spaced.Body), compact.ExpectedHeader, compact.Secret); !errors.Is(err, ErrBadSignature) {
		t.Errorf("compact header verified the spaced body: %v", err)
	}
}

// TestWebhookGoShopifyInvalidMessage covers the second half of the
// go_shopify_verify_webhook vector note: the quoted body "my invalid message"
// has the hex MAC ac3560…, which does not match the valid header.
func TestWebhookGoShopifyInvalidMessage(t *testing.T) {
	const wantHex = "ac3560a67dd9ed3f46cf1807856b78f27c9543b5ae98f5292d8eccf6252254f0"
	body := []byte(`"my invalid message"`)
	raw, err := hex.DecodeString(wantHex)
	if err != nil {
		t.Fatal(err)
	}
	header := base64.StdEncoding.EncodeToString(raw)
	if got := SignWebhook("hush", body); got != header {
		t.Errorf("SignWebhook = %q, want %q", got, header)
	}
	if err := VerifyWebhook(body, header, "hush"); err != nil {
		t.Errorf("VerifyWebhook: %v", err)
	}
	if err := VerifyWebhook(body, "hMTq0K2x7oyOjoBwGYeTj5oxfnaVYXzbanUG9aajpKI=", "hush"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("valid message header verified the invalid message: %v", err)
	}
}

func TestVerifyWebhookHostile(t *testing.T) {
	const secret = "test_secret_key"
	body := []byte(`{"foo": "bar"}`)
	good := "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="
	goodRaw, _ := base64.StdEncoding.DecodeString(good)
	// 'g' -> 'h' flips only a padding bit: a lax decoder maps it to the
	// same 32 bytes.
	paddingBitFlip := good[:42] + "h="
	tests := []struct {
		name    string
		header  string
		secrets []string
	}{
		{"missing header", "", []string{secret}},
		{"forged with other secret", SignWebhook("attacker", body), []string{secret}},
		{"forged all-zero mac", base64.StdEncoding.EncodeToString(make([]byte, 32)), []string{secret}},
		{"wrong base64", "!!!!not-base64!!!!", []string{secret}},
		{"hex instead of base64", hex.EncodeToString(goodRaw), []string{secret}},
		{"raw url base64", base64.RawURLEncoding.EncodeToString(goodRaw), []string{secret}},
		{"missing padding", strings.TrimSuffix(good, "="), []string{secret}},
		{"truncated", good[:20], []string{secret}},
		{"extra byte", base64.StdEncoding.EncodeToString(append(append([]byte{}, goodRaw...), 0)), []string{secret}},
		{"padding bits set", paddingBitFlip, []string{secret}},
		{"embedded newline", good[:10] + "\n" + good[10:43], []string{secret}},
		{"leading space", " " + good, []string{secret}},
		{"no secrets", good, nil},
		{"only empty secrets", good, []string{"", ""}},
		{"case flipped", strings.ToLower(good), []string{secret}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook(body, tc.header, tc.secrets...)
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifyWebhook = %v, want ErrBadSignature", err)
			}
			if !strings.HasPrefix(err.Error(), "verify webhook: ") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
	if err := VerifyWebhook(body, good, "", secret); err != nil {
		t.Errorf("empty current secret should be skipped: %v", err)
	}
}

func TestOAuthVectors(t *testing.T) {
	for _, v := range loadVectors(t).OAuth {
		t.Run(v.Name, func(t *testing.T) {
			q := v.query(t)
			if got := oauthMessage(q); got != v.Message {
				t.Errorf("signed message = %q, want %q", got, v.Message)
			}
			if got := SignOAuthQuery(v.Secret, q); got != v.ExpectedHMACHex {
				t.Errorf("SignOAuthQuery = %q, want %q", got, v.ExpectedHMACHex)
			}
			if got := hmacHex(v.Secret, v.Message); got != v.ExpectedHMACHex {
				t.Errorf("vector self-check: hmac(message) = %q, want %q", got, v.ExpectedHMACHex)
			}
			before := q.Encode()
			q.Set("hmac", v.ExpectedHMACHex)
			// The legacy signature parameter is not signed.
			q.Set("signature", "legacy-ignored")
			now := timestampOf(t, q).Add(30 * time.Second)
			shop, err := VerifyOAuthQuery(q, now, time.Minute, v.Secret)
			if q.Get("shop") == "" {
				// shopify_python_api_delimiter_escaping has no shop: the
				// signature must pass and the shop check fail.
				if !errors.Is(err, ErrBadShop) {
					t.Fatalf("VerifyOAuthQuery = %v, want ErrBadShop after a good signature", err)
				}
			} else {
				if err != nil {
					t.Fatalf("VerifyOAuthQuery: %v", err)
				}
				if shop != q.Get("shop") {
					t.Errorf("shop = %q, want %q", shop, q.Get("shop"))
				}
			}
			// Rotation.
			if _, err2 := VerifyOAuthQuery(q, now, time.Minute, "new_secret", v.Secret); !errors.Is(err2, ErrBadShop) && err2 != nil {
				t.Errorf("VerifyOAuthQuery with previous secret: %v", err2)
			}
			// Wrong secret.
			if _, err := VerifyOAuthQuery(q, now, time.Minute, v.Secret+"x"); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyOAuthQuery with other secret = %v, want ErrBadSignature", err)
			}
			q.Del("hmac")
			q.Del("signature")
			if q.Encode() != before {
				t.Errorf("query changed by signing: %q -> %q", before, q.Encode())
			}
		})
	}
}

func TestOAuthAppJSForm(t *testing.T) {
	// shopify-app-js percent-encodes values before signing; a padded base64
	// host and a space show where it differs from the documented escaping.
	const secret = "hush"
	q := url.Values{}
	q.Set("host", "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUveA==")
	q.Set("shop", "x.myshopify.com")
	q.Set("state", "a b+c")
	q.Set("timestamp", "1767225600")
	const appJS = "host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUveA%3D%3D&shop=x.myshopify.com&state=a%20b%2Bc&timestamp=1767225600"
	const documented = "host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUveA==&shop=x.myshopify.com&state=a b+c&timestamp=1767225600"
	if got := oauthFormMessage(q); got != appJS {
		t.Errorf("oauthFormMessage = %q, want %q", got, appJS)
	}
	if got := oauthMessage(q); got != documented {
		t.Errorf("oauthMessage = %q, want %q", got, documented)
	}
	now := time.Unix(1767225600, 0)
	for _, msg := range []string{appJS, documented} {
		q.Set("hmac", hmacHex(secret, msg))
		if _, err := VerifyOAuthQuery(q, now, 0, secret); err != nil {
			t.Errorf("VerifyOAuthQuery(hmac of %q): %v", msg, err)
		}
	}
}

func TestVerifyOAuthQueryHostile(t *testing.T) {
	const secret = "hush"
	base := func() url.Values {
		q := url.Values{}
		q.Set("code", "0907a61c0c8d55e99db179b68161bc00")
		q.Set("shop", "some-shop.myshopify.com")
		q.Set("state", "abcd")
		q.Set("timestamp", "1337178173")
		return q
	}
	signed := func(q url.Values) url.Values {
		q.Set("hmac", SignOAuthQuery(secret, q))
		return q
	}
	now := time.Unix(1337178173, 0)
	tests := []struct {
		name string
		q    func() url.Values
		now  time.Time
		want error
	}{
		{"missing hmac", base, now, ErrBadSignature},
		{"forged hmac", func() url.Values {
			q := base()
			q.Set("hmac", SignOAuthQuery("attacker", q))
			return q
		}, now, ErrBadSignature},
		{"uppercase hex", func() url.Values {
			q := signed(base())
			q.Set("hmac", strings.ToUpper(q.Get("hmac")))
			return q
		}, now, ErrBadSignature},
		{"not hex", func() url.Values {
			q := base()
			q.Set("hmac", strings.Repeat("zz", 32))
			return q
		}, now, ErrBadSignature},
		{"shop swapped after signing", func() url.Values {
			q := signed(base())
			q.Set("shop", "evil-shop.myshopify.com")
			return q
		}, now, ErrBadSignature},
		{"param added after signing", func() url.Values {
			q := signed(base())
			q.Set("extra", "1")
			return q
		}, now, ErrBadSignature},
		{"repeated hmac", func() url.Values {
			q := signed(base())
			q.Add("hmac", q.Get("hmac"))
			return q
		}, now, ErrBadSignature},
		{"repeated shop", func() url.Values {
			q := base()
			q.Add("shop", "evil.myshopify.com")
			return signed(q)
		}, now, ErrBadSignature},
		{"signed evil.com", func() url.Values {
			q := base()
			q.Set("shop", "evil.com")
			return signed(q)
		}, now, ErrBadShop},
		{"signed shop with path", func() url.Values {
			q := base()
			q.Set("shop", "x.myshopify.com/../")
			return signed(q)
		}, now, ErrBadShop},
		{"stale", func() url.Values { return signed(base()) }, now.Add(91 * time.Second), ErrStale},
		{"future", func() url.Values { return signed(base()) }, now.Add(-91 * time.Second), ErrStale},
		{"missing timestamp", func() url.Values {
			q := base()
			q.Del("timestamp")
			return signed(q)
		}, now, ErrStale},
		{"minimal timestamp", func() url.Values {
			q := base()
			q.Set("timestamp", "-9223372036854775808")
			return signed(q)
		}, now, ErrStale},
		{"maximal timestamp", func() url.Values {
			q := base()
			q.Set("timestamp", "9223372036854775807")
			return signed(q)
		}, now, ErrStale},
		{"far-future timestamp saturating Sub", func() url.Values {
			q := base()
			q.Set("timestamp", "100000000000")
			return signed(q)
		}, now, ErrStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyOAuthQuery(tc.q(), tc.now, 0, secret)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyOAuthQuery = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "verify oauth query: ") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
	if _, err := VerifyOAuthQuery(signed(base()), now.Add(90*time.Second), 0, secret); err != nil {
		t.Errorf("timestamp exactly DefaultMaxSkew old should pass: %v", err)
	}
	if _, err := VerifyOAuthQuery(signed(base()), now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("no secrets = %v, want ErrBadSignature", err)
	}
}

func TestPythonJSONList(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"1", "2"}, `["1", "2"]`},
		{[]string{}, `[]`},
		{[]string{`a"b\c`}, `["a\"b\\c"]`},
		{[]string{"é", "\n\x01", "😀"}, `["\u00e9", "\n\u0001", "\ud83d\ude00"]`},
		{[]string{"<&>"}, `["<&>"]`},
	}
	for _, tc := range tests {
		if got := pythonJSONList(tc.in); got != tc.want {
			t.Errorf("pythonJSONList(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestProxyVectors(t *testing.T) {
	for _, v := range loadVectors(t).Proxy {
		t.Run(v.Name, func(t *testing.T) {
			q := v.query()
			if got := proxyMessage(q); got != v.Message {
				t.Errorf("signed message = %q, want %q", got, v.Message)
			}
			before := q.Encode()
			if got := SignProxyQuery(v.Secret, q); got != v.ExpectedSignatureHex {
				t.Errorf("SignProxyQuery = %q, want %q", got, v.ExpectedSignatureHex)
			}
			if q.Encode() != before {
				t.Errorf("SignProxyQuery modified q")
			}
			if got := hmacHex(v.Secret, v.Message); got != v.ExpectedSignatureHex {
				t.Errorf("vector self-check: hmac(message) = %q, want %q", got, v.ExpectedSignatureHex)
			}
			q.Set("signature", v.ExpectedSignatureHex)
			ts := timestampOf(t, q)
			req, err := VerifyProxyQuery(q, ts.Add(-5*time.Second), time.Minute, v.Secret)
			if err != nil {
				t.Fatalf("VerifyProxyQuery: %v", err)
			}
			if req.Shop != q.Get("shop") || req.PathPrefix != q.Get("path_prefix") || !req.Timestamp.Equal(ts) {
				t.Errorf("ProxyRequest = %+v", req)
			}
			wantCustomer := int64(0)
			if raw := q.Get("logged_in_customer_id"); raw != "" {
				wantCustomer, _ = strconv.ParseInt(raw, 10, 64)
			}
			if req.LoggedInCustomerID != wantCustomer {
				t.Errorf("LoggedInCustomerID = %d, want %d", req.LoggedInCustomerID, wantCustomer)
			}
			if _, err := VerifyProxyQuery(q, ts, time.Minute, "new_secret", v.Secret); err != nil {
				t.Errorf("VerifyProxyQuery with previous secret: %v", err)
			}
			if _, err := VerifyProxyQuery(q, ts, time.Minute, v.Secret+"x"); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyProxyQuery with other secret = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestVerifyProxyQueryHostile(t *testing.T) {
	const secret = "fake_client_secret_DO_NOT_USE_1234"
	base := func() url.Values {
		q := url.Values{}
		q.Set("shop", "fake-shop.myshopify.com")
		q.Set("logged_in_customer_id", "")
		q.Set("path_prefix", "/apps/restock")
		q.Set("timestamp", "1767225600")
		return q
	}
	signed := func(q url.Values) url.Values {
		q.Set("signature", SignProxyQuery(secret, q))
		return q
	}
	now := time.Unix(1767225600, 0)
	tests := []struct {
		name string
		q    func() url.Values
		now  time.Time
		want error
	}{
		{"missing signature", base, now, ErrBadSignature},
		{"forged signature", func() url.Values {
			q := base()
			q.Set("signature", SignProxyQuery("attacker", q))
			return q
		}, now, ErrBadSignature},
		{"oauth-style signature", func() url.Values {
			q := base()
			q.Set("signature", SignOAuthQuery(secret, q))
			return q
		}, now, ErrBadSignature},
		{"uppercase hex", func() url.Values {
			q := signed(base())
			q.Set("signature", strings.ToUpper(q.Get("signature")))
			return q
		}, now, ErrBadSignature},
		{"base64 signature", func() url.Values {
			q := base()
			raw, _ := hex.DecodeString(SignProxyQuery(secret, q))
			q.Set("signature", base64.StdEncoding.EncodeToString(raw))
			return q
		}, now, ErrBadSignature},
		{"repeated shop", func() url.Values {
			q := base()
			q.Add("shop", "evil.myshopify.com")
			return signed(q)
		}, now, ErrBadSignature},
		{"repeated signature", func() url.Values {
			q := signed(base())
			q.Add("signature", q.Get("signature"))
			return q
		}, now, ErrBadSignature},
		{"repeated timestamp", func() url.Values {
			q := base()
			q.Add("timestamp", "1767225600")
			return signed(q)
		}, now, ErrBadSignature},
		{"repeated hmac", func() url.Values {
			q := base()
			q.Add("hmac", "a")
			q.Add("hmac", "b")
			return signed(q)
		}, now, ErrBadSignature},
		{"repeated logged_in_customer_id", func() url.Values {
			q := base()
			q.Set("logged_in_customer_id", "666")
			q.Add("logged_in_customer_id", "")
			return signed(q)
		}, now, ErrBadSignature},
		{"empty logged_in_customer_id dropped", func() url.Values {
			q := signed(base())
			q.Del("logged_in_customer_id")
			return q
		}, now, ErrBadSignature},
		{"customer id injected", func() url.Values {
			q := signed(base())
			q.Set("logged_in_customer_id", "42")
			return q
		}, now, ErrBadSignature},
		{"signed non-numeric customer id", func() url.Values {
			q := base()
			q.Set("logged_in_customer_id", "42abc")
			return signed(q)
		}, now, ErrBadSignature},
		{"signed evil.com", func() url.Values {
			q := base()
			q.Set("shop", "evil.com")
			return signed(q)
		}, now, ErrBadShop},
		{"signed missing shop", func() url.Values {
			q := base()
			q.Del("shop")
			return signed(q)
		}, now, ErrBadShop},
		{"stale timestamp", func() url.Values { return signed(base()) }, now.Add(91 * time.Second), ErrStale},
		{"future timestamp", func() url.Values { return signed(base()) }, now.Add(-91 * time.Second), ErrStale},
		{"non-numeric timestamp", func() url.Values {
			q := base()
			q.Set("timestamp", "soon")
			return signed(q)
		}, now, ErrStale},
		{"minimal timestamp", func() url.Values {
			q := base()
			q.Set("timestamp", "-9223372036854775808")
			return signed(q)
		}, now, ErrStale},
		{"far-future timestamp saturating Sub", func() url.Values {
			q := base()
			q.Set("timestamp", "100000000000")
			return signed(q)
		}, now, ErrStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyProxyQuery(tc.q(), tc.now, 0, secret)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyProxyQuery = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "verify proxy query: ") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
	// The empty logged_in_customer_id is signed, and the request verifies.
	req, err := VerifyProxyQuery(signed(base()), now, 0, secret)
	if err != nil {
		t.Fatalf("logged-out request: %v", err)
	}
	if req.LoggedInCustomerID != 0 {
		t.Errorf("LoggedInCustomerID = %d, want 0", req.LoggedInCustomerID)
	}
	// A custom maxSkew narrows the window.
	if _, err := VerifyProxyQuery(signed(base()), now.Add(10*time.Second), 5*time.Second, secret); !errors.Is(err, ErrStale) {
		t.Errorf("10 s old with 5 s skew = %v, want ErrStale", err)
	}
	if _, err := VerifyProxyQuery(signed(base()), now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("no secrets = %v, want ErrBadSignature", err)
	}
}

func TestShopDomains(t *testing.T) {
	tests := []struct {
		in        string
		valid     bool
		normal    string // "" when NormalizeShop must fail
		wantError bool
	}{
		{"fake-shop.myshopify.com", true, "fake-shop.myshopify.com", false},
		{"shop_1.myshopify.com", true, "shop_1.myshopify.com", false},
		{"1shop.myshopify.com", true, "1shop.myshopify.com", false},
		{"X.myshopify.com", true, "x.myshopify.com", false},
		{"X.MYSHOPIFY.COM", false, "x.myshopify.com", false},
		{" x.myshopify.com ", false, "x.myshopify.com", false},
		{"\tx.myshopify.com\n", false, "x.myshopify.com", false},
		{"admin.shopify.com/store/x", false, "x.myshopify.com", false},
		{"Admin.Shopify.com/store/My-Shop", false, "my-shop.myshopify.com", false},
		{"evil.com", false, "", true},
		{"x.myshopify.com.evil.com", false, "", true},
		{"x.myshopify.com/../", false, "", true},
		{"-x.myshopify.com", false, "", true},
		{"_x.myshopify.com", false, "", true},
		{"x.myshopify.com:443", false, "", true},
		{"user@x.myshopify.com", false, "", true},
		{"https://x.myshopify.com", false, "", true},
		{"x.y.myshopify.com", false, "", true},
		{".myshopify.com", false, "", true},
		{"myshopify.com", false, "", true},
		{"", false, "", true},
		{"x.myshopify.com\n", false, "x.myshopify.com", false},
		{"x.myshopify.com%00", false, "", true},
		{"x\x00.myshopify.com", false, "", true},
		{"x y.myshopify.com", false, "", true},
		{"x.myshopifyXcom", false, "", true},
		{"\u212a.myshopify.com", false, "", true}, // KELVIN SIGN lower-cases to 'k'
		{"admin.shopify.com/store/", false, "", true},
		{"admin.shopify.com/store/x/apps", false, "", true},
		{"admin.shopify.com/store/x.myshopify.com", false, "", true},
		{"admin.shopify.com/store/-x", false, "", true},
		{"https://admin.shopify.com/store/x", false, "", true},
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.in), func(t *testing.T) {
			if got := ValidShop(tc.in); got != tc.valid {
				t.Errorf("ValidShop = %v, want %v", got, tc.valid)
			}
			got, err := NormalizeShop(tc.in)
			if tc.wantError {
				if !errors.Is(err, ErrBadShop) {
					t.Errorf("NormalizeShop = %q, %v; want ErrBadShop", got, err)
				}
				return
			}
			if err != nil || got != tc.normal {
				t.Errorf("NormalizeShop = %q, %v; want %q", got, err, tc.normal)
			}
		})
	}
}

func TestSessionTokenVectors(t *testing.T) {
	for _, v := range loadVectors(t).SessionToken {
		t.Run(v.Name, func(t *testing.T) {
			now := time.Unix(v.CheckAtUnix, 0)
			tok, err := VerifySessionToken(v.Token, v.ClientID, now, v.Secret)
			if v.Expected == "valid" {
				if err != nil {
					t.Fatalf("VerifySessionToken: %v", err)
				}
				if v.ExpectedShop != "" && tok.Shop != v.ExpectedShop {
					t.Errorf("Shop = %q, want %q", tok.Shop, v.ExpectedShop)
				}
				if v.ExpectedUserID != "" && tok.UserID != v.ExpectedUserID {
					t.Errorf("UserID = %q, want %q", tok.UserID, v.ExpectedUserID)
				}
				if tok.SessionID != "fake-session-0001" || tok.JTI != "00000000-0000-4000-8000-000000000001" ||
					!tok.Expires.Equal(time.Unix(1767225660, 0)) {
					t.Errorf("token = %+v", tok)
				}
				if _, err := VerifySessionToken(v.Token, v.ClientID, now, "new_secret", v.Secret); err != nil {
					t.Errorf("VerifySessionToken with previous secret: %v", err)
				}
				return
			}
			if !strings.HasPrefix(v.Expected, "invalid") {
				t.Fatalf("unknown expectation %q", v.Expected)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("VerifySessionToken = %v, want ErrInvalidToken (%s)", err, v.Expected)
			}
			var want error
			switch {
			case strings.Contains(v.Expected, "expired"), strings.Contains(v.Expected, "nbf"):
				want = ErrStale
			case strings.Contains(v.Expected, "signature"):
				want = ErrBadSignature
			}
			if want != nil && !errors.Is(err, want) {
				t.Errorf("VerifySessionToken = %v, want %v (%s)", err, want, v.Expected)
			}
			if want == nil && (errors.Is(err, ErrStale) || errors.Is(err, ErrBadSignature)) {
				t.Errorf("VerifySessionToken = %v, want only ErrInvalidToken (%s)", err, v.Expected)
			}
		})
	}
}

func TestSessionTokenHostile(t *testing.T) {
	const (
		secret = "fake_client_secret_DO_NOT_USE_1234"
		apiKey = "fake_client_id_0001"
	)
	now := time.Unix(1767225630, 0)
	claims := func() map[string]any {
		return map[string]any{
			"iss":  "https://fake-shop.myshopify.com/admin",
			"dest": "https://fake-shop.myshopify.com",
			"aud":  apiKey,
			"sub":  "42",
			"exp":  1767225660,
			"nbf":  1767225600,
			"iat":  1767225600,
			"jti":  "00000000-0000-4000-8000-000000000002",
			"sid":  "fake-session-0002",
		}
	}
	sign := func(t *testing.T, c map[string]any) string {
		t.Helper()
		tok, err := SignSessionToken(secret, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	with := func(k string, v any) func(*testing.T) string {
		return func(t *testing.T) string {
			c := claims()
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return sign(t, c)
		}
	}
	b64 := base64.RawURLEncoding.EncodeToString
	payload := func(t *testing.T) string {
		raw, err := json.Marshal(claims())
		if err != nil {
			t.Fatal(err)
		}
		return b64(raw)
	}
	hs256Over := func(t *testing.T, header string) string {
		signing := b64([]byte(header)) + "." + payload(t)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(signing))
		return signing + "." + b64(m.Sum(nil))
	}
	tests := []struct {
		name  string
		token func(*testing.T) string
		now   time.Time
		want  error
	}{
		{"alg none", func(t *testing.T) string {
			return b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + payload(t) + "."
		}, now, ErrBadSignature},
		{"alg None with hs256 signature", func(t *testing.T) string {
			return hs256Over(t, `{"alg":"None","typ":"JWT"}`)
		}, now, ErrBadSignature},
		{"HS512", func(t *testing.T) string {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(claims())).SignedString([]byte(secret))
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, now, ErrBadSignature},
		{"RS256 header with hmac signature", func(t *testing.T) string {
			return hs256Over(t, `{"alg":"RS256","typ":"JWT"}`)
		}, now, ErrBadSignature},
		{"other secret", func(t *testing.T) string {
			tok, err := SignSessionToken("another_fake_secret", claims())
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, now, ErrBadSignature},
		{"garbage", func(*testing.T) string { return "not.a.jwt" }, now, ErrBadSignature},
		{"empty", func(*testing.T) string { return "" }, now, ErrBadSignature},
		{"wrong aud", with("aud", "other_client_id"), now, ErrInvalidToken},
		{"aud list without us", with("aud", []string{"a", "b"}), now, ErrInvalidToken},
		{"missing aud", with("aud", nil), now, ErrInvalidToken},
		{"expired beyond leeway", func(t *testing.T) string { return sign(t, claims()) }, time.Unix(1767225671, 0), ErrStale},
		{"nbf in future", func(t *testing.T) string { return sign(t, claims()) }, time.Unix(1767225589, 0), ErrStale},
		{"missing exp", with("exp", nil), now, ErrInvalidToken},
		{"dest of another shop than iss", with("dest", "https://other-shop.myshopify.com"), now, ErrBadShop},
		{"iss of another shop", with("iss", "https://other-shop.myshopify.com/admin"), now, ErrBadShop},
		{"dest not myshopify", func(t *testing.T) string {
			c := claims()
			c["dest"] = "https://evil.com"
			c["iss"] = "https://evil.com/admin"
			return sign(t, c)
		}, now, ErrBadShop},
		{"dest myshopify suffix trick", func(t *testing.T) string {
			c := claims()
			c["dest"] = "https://x.myshopify.com.evil.com"
			c["iss"] = "https://x.myshopify.com.evil.com/admin"
			return sign(t, c)
		}, now, ErrBadShop},
		{"dest with path", func(t *testing.T) string {
			c := claims()
			c["dest"] = "https://fake-shop.myshopify.com/x"
			c["iss"] = "https://fake-shop.myshopify.com/x/admin"
			return sign(t, c)
		}, now, ErrBadShop},
		{"dest http", func(t *testing.T) string {
			c := claims()
			c["dest"] = "http://fake-shop.myshopify.com"
			c["iss"] = "http://fake-shop.myshopify.com/admin"
			return sign(t, c)
		}, now, ErrBadShop},
		{"missing dest", with("dest", nil), now, ErrBadShop},
		{"iss without /admin", with("iss", "https://fake-shop.myshopify.com"), now, ErrBadShop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifySessionToken(tc.token(t), apiKey, tc.now, secret)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("VerifySessionToken = %v, want ErrInvalidToken", err)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("VerifySessionToken = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "verify session token: ") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}

	good := sign(t, claims())
	if _, err := VerifySessionToken(good, apiKey, time.Unix(1767225669, 0), secret); err != nil {
		t.Errorf("9 s after exp is within leeway: %v", err)
	}
	if _, err := VerifySessionToken(good, apiKey, time.Unix(1767225591, 0), secret); err != nil {
		t.Errorf("9 s before nbf is within leeway: %v", err)
	}
	if _, err := VerifySessionToken(good, "", now, secret); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("empty api key = %v, want ErrInvalidToken", err)
	}
	if _, err := VerifySessionToken(good, apiKey, now); !errors.Is(err, ErrBadSignature) {
		t.Errorf("no secrets = %v, want ErrBadSignature", err)
	}
	if _, err := SignSessionToken("", claims()); err == nil {
		t.Error("SignSessionToken with empty secret succeeded")
	}
}
