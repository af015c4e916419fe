package shopify

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mutateHex returns sig with the character at i%len(sig) replaced by a
// different lowercase hex digit.
func mutateHex(sig string, i uint) string {
	if sig == "" {
		return "0"
	}
	p := int(i % uint(len(sig)))
	const digits = "0123456789abcdef"
	c := digits[(strings.IndexByte(digits, sig[p])+1+int(i%15))%16]
	return sig[:p] + string(c) + sig[p+1:]
}

func FuzzVerifyWebhook(f *testing.F) {
	for _, v := range loadVectors(f).Webhook {
		f.Add(v.Secret, []byte(v.Body), v.ExpectedHeader, uint(0))
	}
	f.Add("", []byte{}, "", uint(7))
	f.Add("s", []byte("x"), "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7h=", uint(43))
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string, pos uint) {
		err := VerifyWebhook(body, header, secret)
		if secret == "" {
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("no usable secret but VerifyWebhook = %v", err)
			}
			return
		}
		sig := SignWebhook(secret, body)
		if err == nil && header != sig {
			t.Fatalf("header %q verified but the signature is %q", header, sig)
		}
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("error %v does not wrap ErrBadSignature", err)
		}
		if err := VerifyWebhook(body, sig, secret); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		// Any change of one character must be rejected, including changes
		// that only touch base64 padding bits.
		p := int(pos % uint(len(sig)))
		for _, c := range []byte{sig[p] ^ 1, sig[p] ^ 0x20, '=', 'A', '\n'} {
			if c == sig[p] {
				continue
			}
			mut := sig[:p] + string(c) + sig[p+1:]
			if err := VerifyWebhook(body, mut, secret); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("mutated signature %q (from %q) = %v", mut, sig, err)
			}
		}
	})
}

func FuzzVerifyProxyQuery(f *testing.F) {
	for _, v := range loadVectors(f).Proxy {
		q := v.query()
		q.Set("signature", v.ExpectedSignatureHex)
		f.Add(v.Secret, q.Encode(), uint(0))
	}
	f.Add("hush", "shop=a.myshopify.com&shop=b.myshopify.com&timestamp=1", uint(1))
	f.Add("k", "%zz&=&==&a=b=c&signature=&", uint(2))
	f.Fuzz(func(t *testing.T, secret, rawQuery string, pos uint) {
		q, _ := url.ParseQuery(rawQuery)
		now := time.Unix(1767225600, 0)
		// Arbitrary input never panics, and never passes without the secret.
		if _, err := VerifyProxyQuery(q, now, 0, secret); err == nil {
			if secret == "" || q.Get("signature") != SignProxyQuery(secret, q) {
				t.Fatalf("query %q verified without a matching signature", rawQuery)
			}
		}
		if secret == "" {
			return
		}
		// Make the query well-formed, sign it, and it must verify.
		for _, k := range proxySingleValueParams() {
			q.Del(k)
		}
		q.Set("shop", "fuzz-shop.myshopify.com")
		q.Set("timestamp", "1767225600")
		q.Set("logged_in_customer_id", "")
		q.Set("path_prefix", "/apps/restock")
		before := q.Encode()
		sig := SignProxyQuery(secret, q)
		if q.Encode() != before {
			t.Fatal("SignProxyQuery modified q")
		}
		q.Set("signature", sig)
		req, err := VerifyProxyQuery(q, now, 0, secret)
		if err != nil {
			t.Fatalf("own signature rejected for %q: %v", q.Encode(), err)
		}
		if req.Shop != "fuzz-shop.myshopify.com" || req.LoggedInCustomerID != 0 {
			t.Fatalf("ProxyRequest = %+v", req)
		}
		q.Set("signature", mutateHex(sig, pos))
		if _, err := VerifyProxyQuery(q, now, 0, secret); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("mutated signature = %v", err)
		}
	})
}

func FuzzVerifyOAuthQuery(f *testing.F) {
	for _, v := range loadVectors(f).OAuth {
		q := v.query(f)
		q.Set("hmac", v.ExpectedHMACHex)
		f.Add(v.Secret, q.Encode(), uint(0))
	}
	f.Add("hush", "hmac=1&hmac=2&shop=x.myshopify.com", uint(1))
	f.Add("k", "a%5B%5D=1&a=2&%25=%26&%3D=%3D&host=YQ%3D%3D&state=a+b", uint(2))
	f.Fuzz(func(t *testing.T, secret, rawQuery string, pos uint) {
		q, _ := url.ParseQuery(rawQuery)
		now := time.Unix(1767225600, 0)
		if _, err := VerifyOAuthQuery(q, now, 0, secret); err == nil && secret == "" {
			t.Fatalf("query %q verified without a secret", rawQuery)
		}
		if secret == "" {
			return
		}
		// Keep one value per plain key (VerifyOAuthQuery rejects repeats),
		// pin shop and timestamp, sign, and it must verify.
		for k, vs := range q {
			if len(vs) > 1 && !strings.HasSuffix(k, "[]") {
				q[k] = vs[:1]
			}
		}
		q.Del("hmac")
		q.Del("signature")
		q.Set("shop", "Fuzz-Shop.myshopify.com")
		q.Set("timestamp", "1767225600")
		before := q.Encode()
		sig := SignOAuthQuery(secret, q)
		if q.Encode() != before {
			t.Fatal("SignOAuthQuery modified q")
		}
		q.Set("hmac", sig)
		shop, err := VerifyOAuthQuery(q, now, 0, secret)
		if err != nil {
			t.Fatalf("own signature rejected for %q: %v", q.Encode(), err)
		}
		if shop != "fuzz-shop.myshopify.com" {
			t.Fatalf("shop = %q", shop)
		}
		q.Set("hmac", mutateHex(sig, pos))
		if _, err := VerifyOAuthQuery(q, now, 0, secret); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("mutated hmac = %v", err)
		}
	})
}

func FuzzNormalizeShop(f *testing.F) {
	vf := loadVectors(f)
	for _, v := range vf.OAuth {
		f.Add(v.query(f).Get("shop"))
	}
	for _, v := range vf.Proxy {
		f.Add(v.query().Get("shop"))
	}
	for _, s := range []string{
		"evil.com", "x.myshopify.com.evil.com", "x.myshopify.com/../", "X.MYSHOPIFY.COM",
		" x.myshopify.com ", "-x.myshopify.com", "x.myshopify.com:443", "user@x.myshopify.com",
		"admin.shopify.com/store/x", "\u212a.myshopify.com", "x.myshopify.com\n",
	} {
		f.Add(s)
	}
	shopRE := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-_]*\.myshopify\.com$`)
	f.Fuzz(func(t *testing.T, raw string) {
		if got, want := ValidShop(raw), shopRE.MatchString(raw); got != want {
			t.Fatalf("ValidShop(%q) = %v, regexp says %v", raw, got, want)
		}
		out, err := NormalizeShop(raw)
		if err != nil {
			if !errors.Is(err, ErrBadShop) {
				t.Fatalf("NormalizeShop(%q) error %v does not wrap ErrBadShop", raw, err)
			}
			if ValidShop(raw) {
				t.Fatalf("NormalizeShop rejected valid shop %q: %v", raw, err)
			}
			return
		}
		if !ValidShop(out) {
			t.Fatalf("NormalizeShop(%q) = %q fails ValidShop", raw, out)
		}
		if out != strings.ToLower(out) {
			t.Fatalf("NormalizeShop(%q) = %q is not lower case", raw, out)
		}
		if again, err := NormalizeShop(out); err != nil || again != out {
			t.Fatalf("NormalizeShop not idempotent: %q -> %q -> %q, %v", raw, out, again, err)
		}
	})
}
