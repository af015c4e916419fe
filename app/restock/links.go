package restock

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
)

// Links signs and checks the tokens in click (/r/) and unsubscribe (/u/)
// links: the message id plus a truncated HMAC, so a token cannot be guessed
// or altered and needs no lookup table.
type Links struct {
	key     []byte
	baseURL string
}

// NewLinks derives the link key from the app's encryption key.
func NewLinks(secret []byte, baseURL string) *Links {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("restock-relay links v1"))
	return &Links{key: m.Sum(nil), baseURL: strings.TrimRight(baseURL, "/")}
}

// ErrBadToken is returned for a token that was not made by Token.
var ErrBadToken = errors.New("invalid or tampered link")

const (
	purposeClick = 'r'
	purposeUnsub = 'u'
)

func (l *Links) token(purpose byte, messageID int64) string {
	var buf [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(buf[:], uint64(messageID))
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte{purpose})
	m.Write(buf[:n])
	sig := m.Sum(nil)[:16]
	return base64.RawURLEncoding.EncodeToString(buf[:n]) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (l *Links) parse(purpose byte, tok string) (int64, error) {
	idPart, sigPart, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 64 {
		return 0, ErrBadToken
	}
	// Strict: a token has one spelling (no unused bits to flip).
	raw, err := base64.RawURLEncoding.Strict().DecodeString(idPart)
	if err != nil {
		return 0, ErrBadToken
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigPart)
	if err != nil {
		return 0, ErrBadToken
	}
	id, n := binary.Uvarint(raw)
	if n <= 0 || n != len(raw) || id == 0 || id > 1<<62 {
		return 0, ErrBadToken
	}
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte{purpose})
	m.Write(raw)
	if !hmac.Equal(sig, m.Sum(nil)[:16]) {
		return 0, ErrBadToken
	}
	return int64(id), nil
}

// ClickURL is the tracked product link of one message.
func (l *Links) ClickURL(messageID int64) string {
	return l.baseURL + "/r/" + l.token(purposeClick, messageID)
}

// UnsubscribeURL is the unsubscribe link of one message.
func (l *Links) UnsubscribeURL(messageID int64) string {
	return l.baseURL + "/u/" + l.token(purposeUnsub, messageID)
}

// ParseClick returns the message id of a click token.
func (l *Links) ParseClick(tok string) (int64, error) { return l.parse(purposeClick, tok) }

// ParseUnsubscribe returns the message id of an unsubscribe token.
func (l *Links) ParseUnsubscribe(tok string) (int64, error) { return l.parse(purposeUnsub, tok) }
