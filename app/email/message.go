// Package email renders restock emails from templates/ and sends them,
// through SendGrid or, in development, into an outbox folder.
package email

import (
	"context"
	"errors"
	"sort"
	"strings"
)

// Address is a mailbox with an optional display name.
type Address struct {
	Email string
	Name  string
}

// Message is one email sent to many recipients: the content is rendered
// once, and each recipient gets their own links through substitutions.
type Message struct {
	From       Address
	ReplyTo    *Address
	Subject    string
	Text       string
	HTML       string
	Categories []string
	Recipients []Recipient
}

// Recipient is one addressee with the values that make the email theirs.
type Recipient struct {
	Email string
	// Substitutions replace keys (such as -rr_unsub-) in subject and content.
	Substitutions map[string]string
	// Headers are per-recipient headers (List-Unsubscribe).
	Headers map[string]string
	// CustomArgs come back in the provider's events; all strings.
	CustomArgs map[string]string
}

// Result says what happened to each recipient of a Send, by index.
type Result struct {
	// Accepted lists recipients the provider took.
	Accepted []int
	// Rejected maps recipients the provider refused to the reason.
	Rejected map[int]string
	// ProviderIDs maps accepted recipients to the provider's message id.
	ProviderIDs map[int]string
	// Requests is how many HTTP requests the send took.
	Requests int
}

// Sender delivers messages.
type Sender interface {
	Send(ctx context.Context, m *Message) (Result, error)
}

// ErrPermanent marks a failure that retrying will not fix (bad key,
// unverified sender, malformed request).
var ErrPermanent = errors.New("permanent mail failure")

// ErrUncertain marks a failure after which the provider may or may not
// have accepted the message (the request was cut off in flight): sending
// again could deliver it twice.
var ErrUncertain = errors.New("mail may have been accepted")

// Apply replaces every substitution key in s with its value.
func (r Recipient) Apply(s string) string {
	if len(r.Substitutions) == 0 {
		return s
	}
	keys := make([]string, 0, len(r.Substitutions))
	for k := range r.Substitutions {
		keys = append(keys, k)
	}
	// Longest key first, so overlapping keys replace the same way every time.
	sort.Slice(keys, func(i, j int) bool {
		return len(keys[i]) > len(keys[j]) || (len(keys[i]) == len(keys[j]) && keys[i] < keys[j])
	})
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, r.Substitutions[k])
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
