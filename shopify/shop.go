package shopify

import (
	"fmt"
	"strings"
)

const (
	shopSuffix       = ".myshopify.com"
	adminStorePrefix = "admin.shopify.com/store/"
)

// ValidShop reports whether shop is a bare shop domain matching
// ^[a-zA-Z0-9][a-zA-Z0-9-_]*\.myshopify\.com$ exactly: no scheme, path,
// port, userinfo, whitespace or extra labels, and a lower-case suffix. It does
// not normalise; use NormalizeShop for input typed by a person.
func ValidShop(shop string) bool {
	label, ok := strings.CutSuffix(shop, shopSuffix)
	if !ok || label == "" || len(label) > 63 {
		return false // a DNS label is at most 63 bytes
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// NormalizeShop turns a shop typed or pasted by a person into the canonical
// lower-case "{handle}.myshopify.com" form. It trims surrounding white space,
// lower-cases ASCII letters and maps the admin URL form
// "admin.shopify.com/store/{handle}" to "{handle}.myshopify.com". Anything
// else that does not then pass ValidShop (schemes, paths, ports, userinfo,
// extra dots, non-ASCII letters) is rejected with an error wrapping ErrBadShop.
// Its result always passes ValidShop.
func NormalizeShop(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	for i := 0; i < len(s); i++ {
		// Reject non-ASCII before lower-casing: strings.ToLower would map
		// look-alikes such as U+212A KELVIN SIGN onto ASCII letters.
		if s[i] >= 0x80 {
			return "", fmt.Errorf("normalize shop %q: non-ASCII character: %w", truncate(raw, 80), ErrBadShop)
		}
	}
	s = asciiLower(s)
	if handle, ok := strings.CutPrefix(s, adminStorePrefix); ok {
		s = handle + shopSuffix
	}
	if !ValidShop(s) {
		return "", fmt.Errorf("normalize shop %q: %w", truncate(raw, 80), ErrBadShop)
	}
	return s, nil
}

// asciiLower lower-cases ASCII letters only.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
