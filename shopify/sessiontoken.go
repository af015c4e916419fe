package shopify

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every error VerifySessionToken returns, next
// to ErrBadSignature, ErrStale or ErrBadShop when one of those applies. An
// app answers it with 401 and X-Shopify-Retry-Invalid-Session-Request: 1 so
// that App Bridge retries with a fresh token.
var ErrInvalidToken = errors.New("shopify: invalid session token")

// SessionTokenLeeway is the clock leeway applied to a session token's exp and
// nbf claims, as in Shopify's Node and Ruby libraries.
const SessionTokenLeeway = 10 * time.Second

// SessionToken is the verified content of an App Bridge session (ID) token.
type SessionToken struct {
	// Shop is the lower-cased myshopify.com domain, from the dest claim.
	Shop string
	// UserID is the staff user id (the sub claim), a string of digits.
	UserID string
	// SessionID is the sid claim.
	SessionID string
	// JTI is the unique token id, usable to reject replays.
	JTI string
	// Expires is the exp claim.
	Expires time.Time
}

// sessionClaims is the claim set of a Shopify session token.
type sessionClaims struct {
	Dest string `json:"dest"`
	SID  string `json:"sid"`
	jwt.RegisteredClaims
}

// VerifySessionToken verifies an App Bridge session token (the Bearer token
// of an embedded app's fetch, or the id_token query parameter) at time now.
// The token must be an HS256 JWT signed with one of the secrets (current
// client secret first, then the previous one; empty ones are ignored), carry
// exp (and nbf if present) valid within SessionTokenLeeway, have aud equal to
// apiKey (the app's client id), a dest of "https://" followed by a valid shop
// domain and iss equal to dest + "/admin". Every error wraps ErrInvalidToken;
// bad signatures and algorithms also wrap ErrBadSignature, exp/nbf failures
// ErrStale, and dest/iss failures ErrBadShop.
func VerifySessionToken(token, apiKey string, now time.Time, secrets ...string) (SessionToken, error) {
	const op = "verify session token"
	if apiKey == "" {
		return SessionToken{}, fmt.Errorf("%s: empty api key: %w", op, ErrInvalidToken)
	}
	keys := usableSecrets(secrets)
	if len(keys) == 0 {
		return SessionToken{}, fmt.Errorf("%s: no secret configured: %w: %w", op, ErrInvalidToken, ErrBadSignature)
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, []byte(k))
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(SessionTokenLeeway),
		jwt.WithAudience(apiKey),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var claims sessionClaims
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		// WithValidMethods already limits alg to HS256; this is a second lock.
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return set, nil
	})
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenMalformed),
			errors.Is(err, jwt.ErrTokenUnverifiable),
			errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return SessionToken{}, fmt.Errorf("%s: %v: %w: %w", op, err, ErrInvalidToken, ErrBadSignature)
		case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
			return SessionToken{}, fmt.Errorf("%s: %v: %w: %w", op, err, ErrInvalidToken, ErrStale)
		default:
			return SessionToken{}, fmt.Errorf("%s: %v: %w", op, err, ErrInvalidToken)
		}
	}
	shop, ok := strings.CutPrefix(claims.Dest, "https://")
	if !ok || !ValidShop(shop) {
		return SessionToken{}, fmt.Errorf("%s: dest %q is not a shop URL: %w: %w",
			op, truncate(claims.Dest, 100), ErrInvalidToken, ErrBadShop)
	}
	if claims.Issuer != claims.Dest+"/admin" {
		return SessionToken{}, fmt.Errorf("%s: iss %q does not match dest %q: %w: %w",
			op, truncate(claims.Issuer, 100), claims.Dest, ErrInvalidToken, ErrBadShop)
	}
	out := SessionToken{
		Shop:      asciiLower(shop),
		UserID:    claims.Subject,
		SessionID: claims.SID,
		JTI:       claims.ID,
	}
	if claims.ExpiresAt != nil {
		out.Expires = claims.ExpiresAt.Time
	}
	return out, nil
}

// SignSessionToken returns an HS256 JWT with the given claims signed with
// secret, shaped like the tokens App Bridge issues when claims carries iss,
// dest, aud, sub, exp, nbf, iat, jti and sid. It exists for tests and the
// local demo; production tokens come from Shopify.
func SignSessionToken(secret string, claims map[string]any) (string, error) {
	if secret == "" {
		return "", errors.New("sign session token: empty secret")
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign session token: %w", err)
	}
	return tok, nil
}
