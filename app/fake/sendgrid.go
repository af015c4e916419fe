package fake

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// This file holds the fake of SendGrid's v3 Mail Send API
// (POST /v3/mail/send) and helpers to build Event Webhook posts. The rules it
// enforces follow shared/spec/sendgrid.md sections 2, 3, 5, 6, 10 and 11.

// Limits of the v3 Mail Send API enforced by the SendGrid fake.
const (
	// MailSendPath is the path of the v3 Mail Send endpoint.
	MailSendPath = "/v3/mail/send"
	// MaxMessageBytes is the largest request body accepted (30 MiB, after
	// gzip decoding when Content-Encoding is gzip); larger bodies get 413.
	MaxMessageBytes = 30 << 20
	// MaxPersonalizations is the most personalizations one request may hold.
	MaxPersonalizations = 1000
	// MaxRecipients is the most to+cc+bcc addresses one request may hold.
	MaxRecipients = 1000
	// MaxAddressLength is the longest accepted email address, in bytes.
	MaxAddressLength = 320
	// MaxCustomArgsBytes bounds the merged (message + personalization)
	// custom_args of one personalization: the sum of key and value lengths
	// must stay below it.
	MaxCustomArgsBytes = 10000
	// MaxSubstitutionBytes bounds the substitutions of one personalization:
	// the sum of key and value lengths may not exceed it.
	MaxSubstitutionBytes = 10000
	// MaxCategories is the most categories one message may carry.
	MaxCategories = 10
	// MaxCategoryLength is the longest accepted category, in characters.
	MaxCategoryLength = 255
	// MaxScheduleAhead is how far in the future send_at may lie.
	MaxScheduleAhead = 72 * time.Hour
	// MaxGroupsToDisplay is the longest accepted asm.groups_to_display.
	MaxGroupsToDisplay = 25
	// MaxReplyToList is the longest accepted reply_to_list.
	MaxReplyToList = 1000
)

// Messages of the errors the fake answers outside of body validation.
const (
	// MessageUnauthorized is the 401 message for a missing or wrong API key.
	MessageUnauthorized = "The provided authorization grant is invalid, expired, or revoked"
	// MessageUnverifiedSender is the 403 message for a from address that is
	// not a verified Sender Identity (see SetVerifiedSenders).
	MessageUnverifiedSender = "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements"
	// MessageInvalidAddress is the 400 message for a recipient address
	// SendGrid does not accept (bad syntax, or one passed to RejectAddress).
	MessageInvalidAddress = "Does not contain a valid address."
	// MessageContentOrder is the 400 message for content blocks in the wrong
	// order or with a repeated type.
	MessageContentOrder = "Following RFC 1341, section 7.2, if either text/html or text/plain are to be sent in your email: text/plain needs to be first, followed by text/html, followed by any other content."
	// MessageTooManyRequests is the message of the default 429 body.
	MessageTooManyRequests = "too many requests"
)

const sgHelpURL = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"

// SendGrid is an in-process fake of SendGrid's v3 Mail Send API. It serves
// POST /v3/mail/send on 127.0.0.1, checks the bearer API key, validates the
// JSON body the way SendGrid documents (limits, address syntax, content
// order, types of custom_args/substitutions/enable flags, send_at window,
// reserved headers, ...) and answers with SendGrid's status codes and error
// envelope. Accepted requests are recorded; a request with any validation
// error is refused as a whole and nothing of it is recorded as delivered.
//
// Point the real client at it with
// sendgrid.GetRequest(fake.APIKey, "/v3/mail/send", fake.URL).
//
// A SendGrid is safe for concurrent use. Set the exported fields (APIKey,
// NowFunc, KeepBodies) before the first request and do not change them
// while requests are in flight.
type SendGrid struct {
	// URL is the base URL of the fake, e.g. http://127.0.0.1:PORT; pass it
	// as the host argument of sendgrid.GetRequest.
	URL string
	// APIKey is the key every request must carry as
	// "Authorization: Bearer <APIKey>". An empty key refuses every request.
	APIKey string
	// NowFunc is the fake's clock, used for the 72 h send_at window and the
	// X-RateLimit-Reset header of 429 answers. It defaults to time.Now.
	NowFunc func() time.Time
	// KeepBodies, true by default, keeps the decoded body, raw bytes and
	// headers of every accepted request so that Requests and Recipients can
	// show them. Set it to false for load tests: the fake then keeps only
	// counts (Attempts, RecipientCount) and a MailRequest with MessageID,
	// Sandbox and ToCount per accepted request; Recipients returns nil.
	KeepBodies bool

	srv       *httptest.Server
	closeOnce sync.Once

	mu         sync.Mutex
	requests   []MailRequest
	attempts   int
	recipients int
	canned     []sgCanned
	rejected   map[string]struct{} // lower-cased; replaced, never mutated
	verified   map[string]struct{} // lower-cased; nil accepts any sender
}

// MailRequest is one request the fake accepted (202, or 200 in sandbox mode).
type MailRequest struct {
	// Body is the decoded request body (zero when KeepBodies is false).
	Body Mail
	// Raw is the request body as received, after gzip decoding (nil when
	// KeepBodies is false).
	Raw []byte
	// Header holds the HTTP request headers (nil when KeepBodies is false).
	Header http.Header
	// MessageID is the X-Message-Id the fake answered; empty for sandbox
	// requests, which are not queued for delivery.
	MessageID string
	// Sandbox reports that mail_settings.sandbox_mode.enable was true: the
	// request was validated and answered 200 but nothing was delivered.
	Sandbox bool
	// ToCount is the number of personalization "to" addresses, i.e. the
	// number of Delivery entries the request produced (none if Sandbox).
	ToCount int
}

// Delivery is one personalization "to" address of an accepted, non-sandbox
// request: the flattened view of what that recipient would receive. Maps
// may be shared between the deliveries of one personalization; treat them as
// read-only.
type Delivery struct {
	// MessageID is the X-Message-Id of the request that carried it.
	MessageID string
	// Personalization is the index of the personalization in the request.
	Personalization int
	// To is the recipient address and Name its display name.
	To, Name string
	// From is the sender address (personalization override, else message).
	From string
	// Subject is the personalization subject, else the message subject,
	// after that personalization's substitutions.
	Subject string
	// Text and HTML are the text/plain and text/html content after that
	// personalization's substitutions.
	Text, HTML string
	// Headers are the message headers merged with the personalization's
	// (personalization wins, keys compared case-insensitively).
	Headers map[string]string
	// CustomArgs are the message custom_args merged with the
	// personalization's (personalization wins).
	CustomArgs map[string]string
	// Categories are the message categories.
	Categories []string
	// TemplateID and DynamicTemplateData are passed through; the fake
	// cannot render stored templates.
	TemplateID          string
	DynamicTemplateData map[string]any
	// SendAt is the effective send_at (personalization, else message; 0 if
	// unset).
	SendAt int64
}

// Mail is the decoded body of a v3 Mail Send request.
type Mail struct {
	Personalizations []Personalization `json:"personalizations"`
	From             *Address          `json:"from,omitempty"`
	ReplyTo          *Address          `json:"reply_to,omitempty"`
	ReplyToList      []Address         `json:"reply_to_list,omitempty"`
	Subject          string            `json:"subject,omitempty"`
	Content          []Content         `json:"content,omitempty"`
	Attachments      []Attachment      `json:"attachments,omitempty"`
	TemplateID       string            `json:"template_id,omitempty"`
	Sections         map[string]string `json:"sections,omitempty"`
	Headers          map[string]string `json:"headers,omitempty"`
	Categories       []string          `json:"categories,omitempty"`
	CustomArgs       map[string]string `json:"custom_args,omitempty"`
	SendAt           int64             `json:"send_at,omitempty"`
	BatchID          string            `json:"batch_id,omitempty"`
	ASM              *ASM              `json:"asm,omitempty"`
	IPPoolName       string            `json:"ip_pool_name,omitempty"`
	MailSettings     *MailSettings     `json:"mail_settings,omitempty"`
	TrackingSettings *TrackingSettings `json:"tracking_settings,omitempty"`
}

// Sandbox reports whether mail_settings.sandbox_mode.enable is true.
func (m *Mail) Sandbox() bool {
	return m.MailSettings != nil && m.MailSettings.SandboxMode != nil && m.MailSettings.SandboxMode.Enable
}

// Personalization is one entry of a request's personalizations array.
type Personalization struct {
	To                  []Address         `json:"to"`
	CC                  []Address         `json:"cc,omitempty"`
	BCC                 []Address         `json:"bcc,omitempty"`
	From                *Address          `json:"from,omitempty"`
	Subject             string            `json:"subject,omitempty"`
	Headers             map[string]string `json:"headers,omitempty"`
	Substitutions       map[string]string `json:"substitutions,omitempty"`
	CustomArgs          map[string]string `json:"custom_args,omitempty"`
	DynamicTemplateData map[string]any    `json:"dynamic_template_data,omitempty"`
	SendAt              int64             `json:"send_at,omitempty"`
}

// Address is an email object: {"email": ..., "name": ...}.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Content is one content block: {"type": "text/plain", "value": ...}.
type Content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Attachment is one entry of the attachments array (Content is base64).
type Attachment struct {
	Content     string `json:"content"`
	Type        string `json:"type,omitempty"`
	Filename    string `json:"filename"`
	Disposition string `json:"disposition,omitempty"`
	ContentID   string `json:"content_id,omitempty"`
}

// ASM is the advanced suppression management (unsubscribe group) block.
type ASM struct {
	GroupID         int64   `json:"group_id"`
	GroupsToDisplay []int64 `json:"groups_to_display,omitempty"`
}

// MailSettings is the mail_settings block.
type MailSettings struct {
	BCC                         *Setting `json:"bcc,omitempty"`
	BypassListManagement        *Setting `json:"bypass_list_management,omitempty"`
	BypassSpamManagement        *Setting `json:"bypass_spam_management,omitempty"`
	BypassBounceManagement      *Setting `json:"bypass_bounce_management,omitempty"`
	BypassUnsubscribeManagement *Setting `json:"bypass_unsubscribe_management,omitempty"`
	Footer                      *Setting `json:"footer,omitempty"`
	SandboxMode                 *Setting `json:"sandbox_mode,omitempty"`
	SpamCheck                   *Setting `json:"spam_check,omitempty"`
}

// TrackingSettings is the tracking_settings block.
type TrackingSettings struct {
	ClickTracking        *Setting `json:"click_tracking,omitempty"`
	OpenTracking         *Setting `json:"open_tracking,omitempty"`
	SubscriptionTracking *Setting `json:"subscription_tracking,omitempty"`
	GoogleAnalytics      *Setting `json:"ganalytics,omitempty"`
}

// Setting is one entry of mail_settings or tracking_settings. It has the
// union of the fields those entries use; unused ones stay zero.
type Setting struct {
	Enable          bool   `json:"enable"`
	EnableText      *bool  `json:"enable_text,omitempty"`
	Text            string `json:"text,omitempty"`
	HTML            string `json:"html,omitempty"`
	SubstitutionTag string `json:"substitution_tag,omitempty"`
	Email           string `json:"email,omitempty"`
	PostToURL       string `json:"post_to_url,omitempty"`
	Threshold       int64  `json:"threshold,omitempty"`
	UTMSource       string `json:"utm_source,omitempty"`
	UTMMedium       string `json:"utm_medium,omitempty"`
	UTMTerm         string `json:"utm_term,omitempty"`
	UTMContent      string `json:"utm_content,omitempty"`
	UTMCampaign     string `json:"utm_campaign,omitempty"`
}

// ErrorResponse is SendGrid's error envelope:
// {"errors":[{"message":...,"field":...,"help":...}]}.
type ErrorResponse struct {
	Errors []APIError `json:"errors"`
}

// APIError is one entry of an ErrorResponse. An empty Field or Help is
// encoded as JSON null, as SendGrid does.
type APIError struct {
	Message string `json:"message"`
	Field   string `json:"field"`
	Help    string `json:"help"`
}

// MarshalJSON encodes e with null for an empty field or help.
func (e APIError) MarshalJSON() ([]byte, error) {
	w := struct {
		Message string  `json:"message"`
		Field   *string `json:"field"`
		Help    *string `json:"help"`
	}{Message: e.Message}
	if e.Field != "" {
		w.Field = &e.Field
	}
	if e.Help != "" {
		w.Help = &e.Help
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode sendgrid error: %w", err)
	}
	return b, nil
}

type sgCanned struct {
	status int
	body   string
	header http.Header
}

// NewSendGrid starts a fake SendGrid on 127.0.0.1 that expects apiKey as
// the bearer token. Call Close when done.
func NewSendGrid(apiKey string) *SendGrid {
	s := &SendGrid{APIKey: apiKey, NowFunc: time.Now, KeepBodies: true}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, waiting for requests in flight. It is safe
// to call more than once.
func (s *SendGrid) Close() {
	s.closeOnce.Do(s.srv.Close)
}

// Requests returns every accepted request (202, and sandbox 200 with
// Sandbox set) in the order they were accepted.
func (s *SendGrid) Requests() []MailRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MailRequest(nil), s.requests...)
}

// SandboxRequests returns the accepted sandbox-mode requests (answered 200,
// not delivered) in the order they were accepted.
func (s *SendGrid) SandboxRequests() []MailRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []MailRequest
	for _, r := range s.requests {
		if r.Sandbox {
			out = append(out, r)
		}
	}
	return out
}

// Attempts returns the number of POST /v3/mail/send requests received,
// whatever they were answered.
func (s *SendGrid) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// RecipientCount returns the number of deliveries recorded, i.e.
// len(Recipients()) without building them. It is kept when KeepBodies is
// false.
func (s *SendGrid) RecipientCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recipients
}

// Recipients returns one Delivery per personalization "to" address of every
// accepted non-sandbox request, in order. Deliveries are built on each call
// (substitutions applied then), so prefer RecipientCount for counting. It
// returns nil when KeepBodies is false.
func (s *SendGrid) Recipients() []Delivery {
	s.mu.Lock()
	reqs := s.requests // entries are never modified once appended
	n := s.recipients
	s.mu.Unlock()
	if !s.KeepBodies {
		return nil
	}
	out := make([]Delivery, 0, n)
	for i := range reqs {
		if !reqs[i].Sandbox {
			out = sgAppendDeliveries(out, &reqs[i])
		}
	}
	return out
}

// FailNext queues a canned answer for the next POST /v3/mail/send; queued
// answers are used first-in first-out, before authentication and
// validation, and their requests are counted by Attempts but never
// recorded. With an empty body, 429 and 5xx (and any other error status) get
// SendGrid's usual envelope, e.g. {"errors":[{"field":null,"message":"too
// many requests"}]} for 429. A 429 always carries X-RateLimit-Limit,
// X-RateLimit-Remaining and X-RateLimit-Reset (now + 1 s), unless header
// sets them. Header values are added to the answer as given.
func (s *SendGrid) FailNext(status int, body string, header http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.canned = append(s.canned, sgCanned{status: status, body: body, header: header.Clone()})
}

// RejectAddress makes the fake refuse, with 400 "Does not contain a valid
// address." at its field path (e.g. personalizations.3.to.0.email), every
// request where email (compared case-insensitively) appears as a to, cc or
// bcc address, as SendGrid does for an address it cannot parse.
func (s *SendGrid) RejectAddress(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]struct{}, len(s.rejected)+1)
	for k := range s.rejected {
		next[k] = struct{}{}
	}
	next[strings.ToLower(email)] = struct{}{}
	s.rejected = next
}

// SetVerifiedSenders restricts the accepted from addresses (message and
// personalization level, compared case-insensitively) to emails; any other
// gets 403 as an unverified Sender Identity does. Without arguments it lifts
// the restriction.
func (s *SendGrid) SetVerifiedSenders(emails ...string) {
	var next map[string]struct{}
	if len(emails) > 0 {
		next = make(map[string]struct{}, len(emails))
		for _, e := range emails {
			next[strings.ToLower(e)] = struct{}{}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verified = next
}

// Reset forgets recorded requests, counters, queued FailNext answers,
// rejected addresses and verified senders. The exported fields are kept.
func (s *SendGrid) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.canned, s.rejected, s.verified = nil, nil, nil, nil
	s.attempts, s.recipients = 0, 0
}

func (s *SendGrid) now() time.Time {
	if s.NowFunc != nil {
		return s.NowFunc()
	}
	return time.Now()
}

// ServeHTTP answers a request the way SendGrid's v3 Mail Send API does.
// NewSendGrid serves it already; it is exported so the fake can also be
// mounted in another mux.
func (s *SendGrid) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer sgDrain(r.Body)
	if r.URL.Path != MailSendPath {
		sgWriteErrors(w, http.StatusNotFound, APIError{Message: "resource not found"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		sgWriteErrors(w, http.StatusMethodNotAllowed, APIError{Message: "method not allowed"})
		return
	}
	now := s.now()

	s.mu.Lock()
	s.attempts++
	var canned *sgCanned
	if len(s.canned) > 0 {
		c := s.canned[0]
		s.canned = s.canned[1:]
		canned = &c
	}
	rejected, verified := s.rejected, s.verified
	s.mu.Unlock()

	if canned != nil {
		sgWriteCanned(w, canned, now)
		return
	}
	if s.APIKey == "" || r.Header.Get("Authorization") != "Bearer "+s.APIKey {
		sgWriteErrors(w, http.StatusUnauthorized, APIError{Message: MessageUnauthorized})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		sgWriteErrors(w, http.StatusUnsupportedMediaType, APIError{Message: "Content-Type should be application/json."})
		return
	}
	body, status := sgReadBody(r)
	switch status {
	case 0:
	case http.StatusRequestEntityTooLarge:
		sgWriteErrors(w, status, APIError{Message: "The JSON payload you have included in your request is too large."})
		return
	default:
		sgWriteErrors(w, status, APIError{Message: "Bad Request"})
		return
	}
	if !utf8.Valid(body) {
		sgWriteErrors(w, http.StatusUnsupportedMediaType, APIError{Message: "Invalid UTF8 in request"})
		return
	}

	v := sgValidator{now: now, rejected: rejected}
	m := v.mail(body)
	if len(v.errs) > 0 {
		sgWriteErrors(w, http.StatusBadRequest, v.errs...)
		return
	}
	if verified != nil {
		if errs := sgUnverified(&m, verified); len(errs) > 0 {
			sgWriteErrors(w, http.StatusForbidden, errs...)
			return
		}
	}

	rec := MailRequest{Sandbox: m.Sandbox()}
	for i := range m.Personalizations {
		rec.ToCount += len(m.Personalizations[i].To)
	}
	if !rec.Sandbox {
		rec.MessageID = sgMessageID()
	}
	if s.KeepBodies {
		rec.Body, rec.Raw, rec.Header = m, body, r.Header.Clone()
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	if !rec.Sandbox {
		s.recipients += rec.ToCount
	}
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", "0")
	if rec.Sandbox {
		w.WriteHeader(http.StatusOK)
		return
	}
	h.Set("X-Message-Id", rec.MessageID)
	w.WriteHeader(http.StatusAccepted)
}

// sgReadBody reads the (possibly gzip-encoded) body; status is 0 on success,
// 413 when it is too large and 400 when it cannot be read or decoded.
func sgReadBody(r *http.Request) (body []byte, status int) {
	if r.ContentLength > MaxMessageBytes {
		return nil, http.StatusRequestEntityTooLarge
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageBytes+1))
	if err != nil {
		return nil, http.StatusBadRequest
	}
	if len(raw) > MaxMessageBytes {
		return nil, http.StatusRequestEntityTooLarge
	}
	if !strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		return raw, 0
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, http.StatusBadRequest
	}
	body, err = io.ReadAll(io.LimitReader(zr, MaxMessageBytes+1))
	if err != nil {
		return nil, http.StatusBadRequest
	}
	if len(body) > MaxMessageBytes {
		return nil, http.StatusRequestEntityTooLarge
	}
	return body, 0
}

// sgDrain discards what is left of a request body (bounded) so that the
// connection can be reused and the client never sees a reset mid-upload.
func sgDrain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 2*MaxMessageBytes))
}

func sgWriteErrors(w http.ResponseWriter, status int, errs ...APIError) {
	b, err := json.Marshal(ErrorResponse{Errors: errs})
	if err != nil { // cannot happen: APIError holds strings only
		b = []byte(`{"errors":[{"message":"internal error","field":null,"help":null}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func sgWriteCanned(w http.ResponseWriter, c *sgCanned, now time.Time) {
	h := w.Header()
	for k, vs := range c.header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	status := c.status
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	body := c.body
	if body == "" && status >= 400 {
		switch status {
		case http.StatusTooManyRequests:
			body = `{"errors":[{"field":null,"message":"` + MessageTooManyRequests + `"}]}`
		case http.StatusUnauthorized:
			body = `{"errors":[{"field":null,"message":"` + MessageUnauthorized + `"}]}`
		default:
			text := strings.ToLower(http.StatusText(status))
			if text == "" {
				text = "error"
			}
			body = `{"errors":[{"field":null,"message":"` + text + `"}]}`
		}
	}
	if status == http.StatusTooManyRequests {
		if h.Get("X-RateLimit-Limit") == "" {
			h.Set("X-RateLimit-Limit", "600")
		}
		if h.Get("X-RateLimit-Remaining") == "" {
			h.Set("X-RateLimit-Remaining", "0")
		}
		if h.Get("X-RateLimit-Reset") == "" {
			h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Second).Unix(), 10))
		}
	}
	if status == http.StatusAccepted && h.Get("X-Message-Id") == "" {
		h.Set("X-Message-Id", sgMessageID())
	}
	if h.Get("Content-Type") == "" {
		if strings.HasPrefix(strings.TrimSpace(body), "{") {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// sgMessageID returns a 22-character URL-safe random id like SendGrid's
// X-Message-Id (16 random bytes, unpadded base64url).
func sgMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func sgUnverified(m *Mail, verified map[string]struct{}) []APIError {
	var errs []APIError
	check := func(field string, a *Address) {
		if a == nil {
			return
		}
		if _, ok := verified[strings.ToLower(a.Email)]; !ok {
			errs = append(errs, APIError{Message: MessageUnverifiedSender, Field: field})
		}
	}
	check("from", m.From)
	for i := range m.Personalizations {
		check("personalizations."+strconv.Itoa(i)+".from", m.Personalizations[i].From)
	}
	return errs
}

// ---- deliveries ----

func sgAppendDeliveries(out []Delivery, req *MailRequest) []Delivery {
	m := &req.Body
	var text, html string
	for _, c := range m.Content {
		switch strings.ToLower(c.Type) {
		case "text/plain":
			text = c.Value
		case "text/html":
			html = c.Value
		}
	}
	for i := range m.Personalizations {
		p := &m.Personalizations[i]
		d := Delivery{
			MessageID:           req.MessageID,
			Personalization:     i,
			Subject:             m.Subject,
			Text:                text,
			HTML:                html,
			Headers:             sgMergeHeaders(m.Headers, p.Headers),
			CustomArgs:          sgMerge(m.CustomArgs, p.CustomArgs),
			Categories:          m.Categories,
			TemplateID:          m.TemplateID,
			DynamicTemplateData: p.DynamicTemplateData,
			SendAt:              m.SendAt,
		}
		if p.Subject != "" {
			d.Subject = p.Subject
		}
		if p.SendAt != 0 {
			d.SendAt = p.SendAt
		}
		switch {
		case p.From != nil:
			d.From = p.From.Email
		case m.From != nil:
			d.From = m.From.Email
		}
		if len(p.Substitutions) > 0 {
			r := sgReplacer(p.Substitutions)
			d.Subject, d.Text, d.HTML = r.Replace(d.Subject), r.Replace(d.Text), r.Replace(d.HTML)
		}
		for _, to := range p.To {
			d.To, d.Name = to.Email, to.Name
			out = append(out, d)
		}
	}
	return out
}

// sgReplacer replaces substitution tags, longest tag first so that a tag
// that is a prefix of another one does not win.
func sgReplacer(subs map[string]string) *strings.Replacer {
	keys := make([]string, 0, len(subs))
	for k := range subs {
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, subs[k])
	}
	return strings.NewReplacer(pairs...)
}

func sgMerge(base, over map[string]string) map[string]string {
	if len(over) == 0 {
		return base
	}
	if len(base) == 0 {
		return over
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func sgMergeHeaders(base, over map[string]string) map[string]string {
	if len(over) == 0 {
		return base
	}
	if len(base) == 0 {
		return over
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		for bk := range base {
			if bk != k && strings.EqualFold(bk, k) {
				delete(out, bk)
			}
		}
		out[k] = v
	}
	return out
}

// ---- validation ----

// sgValidator decodes a Mail Send body and collects SendGrid-style errors,
// in document order, with SendGrid's dotted field paths.
type sgValidator struct {
	now      time.Time
	rejected map[string]struct{}
	errs     []APIError
}

// fail records an error whose help link is derived from the field path.
func (v *sgValidator) fail(field, msg string) {
	v.errs = append(v.errs, APIError{Message: msg, Field: field, Help: sgHelp(field)})
}

// sgHelp maps personalizations.1.to.0.email to
// http://...errors.html#message.personalizations.to.
func sgHelp(field string) string {
	if field == "" {
		return ""
	}
	parts := strings.Split(field, ".")
	keep := parts[:0]
	for _, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			continue
		}
		keep = append(keep, p)
	}
	if n := len(keep); n > 1 && keep[0] != "mail_settings" && (keep[n-1] == "email" || keep[n-1] == "name") {
		keep = keep[:n-1]
	}
	return sgHelpURL + "#message." + strings.Join(keep, ".")
}

func sgKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func sgAbsent(raw json.RawMessage) bool { return sgKind(raw) == "null" }

func sgTypeMsg(want string, raw json.RawMessage) string {
	return "Invalid type. Expected: " + want + ", given: " + sgKind(raw) + "."
}

// sgString returns the value of a JSON string literal (exactly one, with
// nothing around it).
func sgString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	end, escaped, ok := sgStringEnd(raw, 0)
	if !ok || end != len(raw) {
		return "", false
	}
	if !escaped {
		return string(raw[1 : end-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// sgInt returns the value of a JSON integer literal (no fraction/exponent).
func sgInt(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	digits := raw
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}

func sgBool(raw json.RawMessage) (value, ok bool) {
	switch string(raw) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// sgField is one member of a JSON object.
type sgField struct {
	key string
	raw json.RawMessage
}

// sgObj is a JSON object split into its members, in document order.
type sgObj []sgField

// get returns the raw value of key (the last one if repeated, as
// encoding/json does), or nil when key is absent.
func (o sgObj) get(key string) json.RawMessage {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].key == key {
			return o[i].raw
		}
	}
	return nil
}

// The scanners below walk raw JSON without decoding it. They rely on the
// input being valid JSON: the whole body is checked once with json.Valid,
// which is much cheaper than letting encoding/json re-validate every nested
// value it is asked to decode.

// sgObject splits a JSON object into its members.
func sgObject(raw json.RawMessage) (sgObj, bool) {
	i := sgSkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	obj := make(sgObj, 0, 8)
	i = sgSkipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return obj, true
	}
	for {
		key, next, ok := sgScanString(raw, i)
		if !ok {
			return nil, false
		}
		i = sgSkipSpace(raw, next)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		start := sgSkipSpace(raw, i+1)
		end, ok := sgSkipValue(raw, start)
		if !ok {
			return nil, false
		}
		obj = append(obj, sgField{key: key, raw: raw[start:end:end]})
		i = sgSkipSpace(raw, end)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = sgSkipSpace(raw, i+1)
		case '}':
			return obj, true
		default:
			return nil, false
		}
	}
}

// sgArray splits a JSON array into its elements.
func sgArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	i := sgSkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	var out []json.RawMessage
	i = sgSkipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return out, true
	}
	for {
		end, ok := sgSkipValue(raw, i)
		if !ok {
			return nil, false
		}
		out = append(out, raw[i:end:end])
		i = sgSkipSpace(raw, end)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = sgSkipSpace(raw, i+1)
		case ']':
			return out, true
		default:
			return nil, false
		}
	}
}

// sgSkipValue returns the index just after the JSON value at raw[i].
func sgSkipValue(raw []byte, i int) (int, bool) {
	if i >= len(raw) {
		return i, false
	}
	switch raw[i] {
	case '"':
		end, _, ok := sgStringEnd(raw, i)
		return end, ok
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				end, _, ok := sgStringEnd(raw, j)
				if !ok {
					return j, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return len(raw), false
	default: // number, true, false, null
		j := i
		for j < len(raw) {
			switch raw[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j, j > i
			}
			j++
		}
		return j, j > i
	}
}

// sgStringEnd returns the index just after the string literal at raw[i]
// and whether it contains escapes.
func sgStringEnd(raw []byte, i int) (end int, escaped, ok bool) {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			escaped = true
			j++ // the escaped character cannot end the string
		case '"':
			return j + 1, escaped, true
		}
	}
	return len(raw), escaped, false
}

// optString decodes an optional string field, failing with msg when it is
// present with another type.
func (v *sgValidator) optString(field string, raw json.RawMessage, msg string) string {
	if sgAbsent(raw) {
		return ""
	}
	s, ok := sgString(raw)
	if !ok {
		v.fail(field, msg)
	}
	return s
}

// stringMap decodes an object whose values must all be strings.
func (v *sgValidator) stringMap(field string, raw json.RawMessage, msg string) (map[string]string, bool) {
	pairs, ok := sgStringPairs(raw)
	if !ok {
		v.fail(field, msg)
		return nil, false
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		out[p.key] = p.value // last one wins, as in encoding/json
	}
	return out, true
}

type sgPair struct{ key, value string }

// sgStringPairs reads a JSON object whose values are all strings, in
// document order and keeping repeated keys. raw comes from a document that
// already decoded, so it is valid JSON; ok is false when it is not an object
// of strings. It replaces encoding/json on the hot path (headers,
// substitutions, custom_args and email objects of every personalization).
func sgStringPairs(raw []byte) (pairs []sgPair, ok bool) {
	i := sgSkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	i = sgSkipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil, true
	}
	for {
		key, next, ok := sgScanString(raw, i)
		if !ok {
			return nil, false
		}
		i = sgSkipSpace(raw, next)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		value, next, ok := sgScanString(raw, sgSkipSpace(raw, i+1))
		if !ok {
			return nil, false
		}
		pairs = append(pairs, sgPair{key, value})
		i = sgSkipSpace(raw, next)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = sgSkipSpace(raw, i+1)
		case '}':
			return pairs, true
		default:
			return nil, false
		}
	}
}

// sgSkipSpace returns the index of the first non-whitespace byte from i.
func sgSkipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// sgScanString reads the JSON string literal at raw[i] and returns its
// value and the index after it.
func sgScanString(raw []byte, i int) (s string, next int, ok bool) {
	if i >= len(raw) || raw[i] != '"' {
		return "", i, false
	}
	end, escaped, ok := sgStringEnd(raw, i)
	if !ok {
		return "", i, false
	}
	if !escaped {
		return string(raw[i+1 : end-1]), end, true
	}
	s, ok = sgString(raw[i:end])
	return s, end, ok
}

// sgPairSize is the size SendGrid limits for custom_args/substitutions:
// the sum of key and value lengths.
func sgPairSize(m map[string]string) int {
	n := 0
	for k, val := range m {
		n += len(k) + len(val)
	}
	return n
}

// sgMailCtx carries the message-level values personalizations depend on.
type sgMailCtx struct {
	templateID     string
	customArgs     map[string]string
	customArgsSize int
	customArgsBad  bool // message-level custom_args already reported
}

func (v *sgValidator) mail(body []byte) Mail {
	var m Mail
	if !json.Valid(body) { // the scanners below rely on it
		v.errs = append(v.errs, APIError{Message: "Bad Request"})
		return m
	}
	top, ok := sgObject(body)
	if !ok {
		v.errs = append(v.errs, APIError{Message: "Bad Request"})
		return m
	}
	ctx := sgMailCtx{}

	// Values personalizations depend on come first.
	m.TemplateID = v.optString("template_id", top.get("template_id"),
		"The template ID must be a string, you provided "+string(top.get("template_id"))+".")
	ctx.templateID = m.TemplateID
	if raw := top.get("custom_args"); !sgAbsent(raw) {
		if args, ok := v.stringMap("custom_args", raw, "All values of custom arguments object must be strings"); ok {
			switch size := sgPairSize(args); {
			case len(args) == 0:
				v.fail("custom_args", "custom_args cannot be empty.")
				ctx.customArgsBad = true
			case size >= MaxCustomArgsBytes:
				v.fail("custom_args", "The combined size of both global and personalization custom arguments may not exceed 10,000 bytes per personalization.")
				ctx.customArgsBad = true
			default:
				m.CustomArgs, ctx.customArgs, ctx.customArgsSize = args, args, size
			}
		} else {
			ctx.customArgsBad = true
		}
	}

	m.Personalizations = v.personalizations(top.get("personalizations"), &ctx)

	m.From = v.address("from", top.get("from"), sgFromRules, true)
	v.replyTo(&m, top)

	subjectRaw := top.get("subject")
	hasSubject := !sgAbsent(subjectRaw)
	if hasSubject {
		s, ok := sgString(subjectRaw)
		if !ok || s == "" {
			v.fail("subject", "The subject of your email must be a string at least one character in length.")
		}
		m.Subject = s
	}
	if !hasSubject && m.TemplateID == "" && len(m.Personalizations) > 0 {
		for i := range m.Personalizations {
			if m.Personalizations[i].Subject == "" {
				v.fail("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.")
				break
			}
		}
	}

	m.Content = v.content(top.get("content"), m.TemplateID != "")
	m.Attachments = v.attachments(top.get("attachments"))
	if raw := top.get("sections"); !sgAbsent(raw) {
		m.Sections, _ = v.stringMap("sections", raw, "The section values must be strings.")
	}
	m.Headers = v.headers("headers", top.get("headers"), false)
	m.Categories = v.categories(top.get("categories"))
	if raw := top.get("send_at"); !sgAbsent(raw) {
		m.SendAt = v.sendAt("send_at", raw)
	}
	m.BatchID = v.optString("batch_id", top.get("batch_id"), "The batch_id must be a string.")
	m.ASM = v.asm(top.get("asm"))
	if raw := top.get("ip_pool_name"); !sgAbsent(raw) {
		name, ok := sgString(raw)
		switch {
		case !ok:
			v.fail("ip_pool_name", "The name of your IP pool must be a string.")
		case len(name) < 2 || len(name) > 64:
			v.fail("ip_pool_name", "The IP pool name must be between 2 and 64 characters. You provided "+name+".")
		}
		m.IPPoolName = name
	}
	m.MailSettings = v.mailSettings(top.get("mail_settings"))
	m.TrackingSettings = v.trackingSettings(top.get("tracking_settings"))
	return m
}

func (v *sgValidator) personalizations(raw json.RawMessage, ctx *sgMailCtx) []Personalization {
	if sgAbsent(raw) {
		v.fail("personalizations", "The personalizations field is required and must have at least one personalization.")
		return nil
	}
	elems, ok := sgArray(raw)
	if !ok {
		v.fail("personalizations", sgTypeMsg("array", raw))
		return nil
	}
	items := make([]sgObj, len(elems))
	for i, elem := range elems {
		if sgAbsent(elem) {
			continue // reported as a personalization without "to"
		}
		if items[i], ok = sgObject(elem); !ok {
			v.fail("personalizations."+strconv.Itoa(i), sgTypeMsg("object", elem))
		}
	}
	if len(items) == 0 {
		v.fail("personalizations", "You must have at least one personalization.")
		return nil
	}
	if len(items) > MaxPersonalizations {
		v.fail("personalizations", fmt.Sprintf("The personalization block is limited to %d personalizations per API request. You have provided %d personalizations. Please consider splitting this into multiple requests and resending your request.", MaxPersonalizations, len(items)))
	}
	out := make([]Personalization, len(items))
	total := 0
	for i, item := range items {
		total += v.personalization(i, item, ctx, &out[i])
	}
	if total > MaxRecipients {
		v.fail("personalizations", fmt.Sprintf("There is a limit of %d total recipients (to + cc + bcc) per request. You have provided %d recipients.", MaxRecipients, total))
	}
	return out
}

// personalization decodes item into p and returns its number of to+cc+bcc
// entries.
func (v *sgValidator) personalization(i int, item sgObj, ctx *sgMailCtx, p *Personalization) int {
	base := "personalizations." + strconv.Itoa(i)
	var n int
	p.To, n = v.recipients(base, "to", item.get("to"))
	total := n
	p.CC, n = v.recipients(base, "cc", item.get("cc"))
	total += n
	p.BCC, n = v.recipients(base, "bcc", item.get("bcc"))
	total += n
	v.duplicates(base, p)

	if raw := item.get("from"); !sgAbsent(raw) {
		p.From = v.address(base+".from", raw, sgFromRules, false)
	}
	if raw := item.get("subject"); !sgAbsent(raw) {
		s, ok := sgString(raw)
		if !ok || s == "" {
			v.fail(base+".subject", "The subject of your email must be a string at least one character in length.")
		}
		p.Subject = s
	}
	p.Headers = v.headers(base+".headers", item.get("headers"), true)

	if raw := item.get("substitutions"); raw != nil {
		if strings.HasPrefix(ctx.templateID, "d-") {
			v.fail(base+".substitutions", "Substitutions may not be used with dynamic templating")
		} else if !sgAbsent(raw) {
			subs, ok := v.stringMap(base+".substitutions", raw, "The substitution values must be an object of key/value pairs, where the values are all strings.")
			if ok && sgPairSize(subs) > MaxSubstitutionBytes {
				v.fail(base+".substitutions", "You are limited to 10,000 substitutions.")
			}
			p.Substitutions = subs
		}
	}

	if raw := item.get("custom_args"); !sgAbsent(raw) {
		args, ok := v.stringMap(base+".custom_args", raw, "All values of custom arguments object must be strings")
		switch {
		case !ok:
		case len(args) == 0:
			v.fail(base+".custom_args", "custom_args cannot be empty.")
		case !ctx.customArgsBad && v.mergedArgsSize(ctx, args) >= MaxCustomArgsBytes:
			v.fail(base+".custom_args", "The combined size of both global and personalization custom arguments may not exceed 10,000 bytes per personalization.")
		}
		p.CustomArgs = args
	}

	if raw := item.get("dynamic_template_data"); !sgAbsent(raw) {
		if sgKind(raw) != "object" || json.Unmarshal(raw, &p.DynamicTemplateData) != nil {
			v.fail(base+".dynamic_template_data", sgTypeMsg("object", raw))
		}
	}
	if raw := item.get("send_at"); !sgAbsent(raw) {
		p.SendAt = v.sendAt(base+".send_at", raw)
	}
	return total
}

// mergedArgsSize is the size of the message custom_args merged with args,
// computed without building the merged map.
func (v *sgValidator) mergedArgsSize(ctx *sgMailCtx, args map[string]string) int {
	size := ctx.customArgsSize
	for k, val := range args {
		size += len(k) + len(val)
		if old, ok := ctx.customArgs[k]; ok {
			size -= len(k) + len(old)
		}
	}
	return size
}

// recipients decodes personalizations.N.<kind> and returns the addresses
// and the number of entries.
func (v *sgValidator) recipients(base, kind string, raw json.RawMessage) ([]Address, int) {
	field := base + "." + kind
	rules := sgRecipientRules[kind]
	if sgAbsent(raw) {
		if kind == "to" {
			v.fail(field, "The to array is required for all personalization objects, and must have at least one email object with a valid email address.")
		}
		return nil, 0
	}
	items, ok := sgArray(raw)
	if !ok {
		v.fail(field, sgTypeMsg("array", raw))
		return nil, 0
	}
	if len(items) == 0 && kind == "to" {
		v.fail(field, "The to array is required for all personalization objects, and must have at least one email object with a valid email address.")
	}
	out := make([]Address, 0, len(items))
	for j, item := range items {
		if a := v.address(field+"."+strconv.Itoa(j), item, rules, true); a != nil {
			out = append(out, *a)
		}
	}
	return out, len(items)
}

// sgAddrRules says how one kind of email object is checked.
type sgAddrRules struct {
	label      string // in "The <label> email exceeds ..."
	missing    string // email parameter absent or not a string
	invalid    string // bad syntax
	rejectable bool   // subject to RejectAddress
	nameRule   string // non-empty: name must not contain ; or ,
	asciiOnly  bool
}

const sgEmailExample = ` e.g. {"email" : "example@example.com"}  or {"email" : "example@example.com", "name" : "Example Recipient"}.`

var (
	sgRecipientRules = map[string]sgAddrRules{
		"to": {label: "To", invalid: MessageInvalidAddress, rejectable: true, nameRule: "to",
			missing: "The to array must at least have an email parameter with a valid email address and it may also contain a name parameter." + sgEmailExample},
		"cc": {label: "CC", invalid: MessageInvalidAddress, rejectable: true, nameRule: "cc",
			missing: "The cc array, when used, must at least have an email parameter with a valid email address and it may also contain a name parameter." + sgEmailExample},
		"bcc": {label: "BCC", invalid: MessageInvalidAddress, rejectable: true, nameRule: "bcc",
			missing: "The bcc array, when used, must at least have an email parameter with a valid email address and it may also contain a name parameter." + sgEmailExample},
	}
	sgFromRules = sgAddrRules{label: "From", invalid: "The from email does not contain a valid address.", asciiOnly: true,
		missing: "The from object must at least have an email parameter with a valid email address and may also contain a name parameter." + sgEmailExample}
	sgReplyToRules = sgAddrRules{label: "Reply-To", invalid: "The reply_to email does not contain a valid address.",
		missing: "The reply_to object, when used, must at least have an email parameter with a valid email address and it may also contain a name parameter." + sgEmailExample}
	sgReplyToListRules = sgAddrRules{label: "Reply-To", invalid: "The reply_to_list email does not contain a valid address.",
		missing: "The reply_to_list object, when used, must at least have an email parameter and may also contain a name parameter." + sgEmailExample}
)

// address decodes and checks one email object at field. A missing object is
// reported only when required.
func (v *sgValidator) address(field string, raw json.RawMessage, rules sgAddrRules, required bool) *Address {
	if sgAbsent(raw) {
		if required {
			if field == "from" {
				v.fail("from", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."+sgEmailExample)
			} else {
				v.fail(field+".email", rules.missing)
			}
		}
		return nil
	}
	var email, name string
	emailOK, nameOK, hasName := false, true, false
	if pairs, ok := sgStringPairs(raw); ok { // fast path: all values are strings
		for _, p := range pairs {
			switch p.key {
			case "email":
				email, emailOK = p.value, true
			case "name":
				name, hasName = p.value, true
			}
		}
	} else {
		obj, ok := sgObject(raw)
		if !ok {
			v.fail(field, sgTypeMsg("object", raw))
			return nil
		}
		email, emailOK = sgString(obj.get("email"))
		if nraw := obj.get("name"); !sgAbsent(nraw) {
			name, nameOK = sgString(nraw)
			hasName = true
		}
	}
	if !emailOK || email == "" {
		v.fail(field+".email", rules.missing)
		return nil
	}
	a := &Address{Email: email, Name: name}
	switch {
	case !hasName:
	case !nameOK:
		v.fail(field+".name", "The name of the "+strings.ToLower(rules.label)+" address must be a string.")
	case rules.nameRule != "" && strings.ContainsAny(name, ";,"):
		v.fail(field+".name", "The "+rules.nameRule+".name field cannot include either the ; or , characters.")
	}
	switch {
	case len(email) > MaxAddressLength:
		v.fail(field+".email", "The "+rules.label+" email exceeds the maximum total length of 320 characters")
	case !sgValidEmail(email) || rules.asciiOnly && !sgASCII(email):
		v.fail(field+".email", rules.invalid)
	case rules.rejectable && v.rejected != nil && sgRejected(v.rejected, email):
		v.fail(field+".email", rules.invalid)
	}
	return a
}

// sgRejected reports whether email is in set, compared case-insensitively.
func sgRejected(set map[string]struct{}, email string) bool {
	_, ok := set[strings.ToLower(email)]
	return ok
}

// sgValidEmail accepts a bare addr-spec (no display name, comments or
// surrounding spaces) that net/mail parses, whose domain has at least two
// dot-separated labels of letters, digits, hyphens or non-ASCII (IDN).
func sgValidEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	labels := strings.Split(s[at+1:], ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if c >= 0x80 || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				continue
			}
			return false
		}
	}
	return true
}

func sgASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// duplicates reports the first address repeated (case-insensitively)
// within the to, cc and bcc of one personalization.
func (v *sgValidator) duplicates(base string, p *Personalization) {
	n := len(p.To) + len(p.CC) + len(p.BCC)
	if n < 2 {
		return
	}
	seen := make(map[string]struct{}, n)
	for _, group := range []struct {
		kind  string
		addrs []Address
	}{{"to", p.To}, {"cc", p.CC}, {"bcc", p.BCC}} {
		for _, a := range group.addrs {
			key := strings.ToLower(a.Email)
			if _, dup := seen[key]; dup {
				v.fail(base, "Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of ["+a.Email+"] in the "+base+"."+group.kind+" field.")
				return
			}
			seen[key] = struct{}{}
		}
	}
}

var sgReservedHeaders = map[string]struct{}{
	"x-sg-id": {}, "x-sg-eid": {}, "received": {}, "dkim-signature": {}, "content-type": {},
	"content-transfer-encoding": {}, "to": {}, "from": {}, "subject": {}, "reply-to": {}, "cc": {}, "bcc": {},
}

// headers decodes a headers object, scanning its keys in order so that
// duplicate keys (also differing only in case) are caught.
func (v *sgValidator) headers(field string, raw json.RawMessage, personalization bool) map[string]string {
	if sgAbsent(raw) {
		return nil
	}
	msgValue, msgKey, msgReserved := "The header values must be strings.",
		"Header keys cannot contain non-ASCII characters and empty spaces.",
		"Header can not be one of the reserved keys."
	if personalization {
		msgValue, msgKey, msgReserved = "All values of the headers object must be strings.",
			"Header keys cannot contain non-ASCII characters or empty spaces.",
			"Header cannot be one of the reserved keys."
	}
	pairs, ok := sgStringPairs(raw)
	if !ok {
		if sgKind(raw) != "object" {
			v.fail(field, sgTypeMsg("object", raw))
		} else {
			v.fail(field, msgValue)
		}
		return nil
	}
	out := make(map[string]string, len(pairs))
	bad := false
	for _, p := range pairs {
		key := p.key
		switch {
		case key == "" || !sgASCII(key) || strings.ContainsAny(key, " \t\r\n"):
			v.fail(field, msgKey)
		case sgIsReserved(strings.ToLower(key)):
			v.fail(field, msgReserved)
		case sgHasKeyFold(out, key):
			v.fail(field, "The headers cannot contain duplicate keys.")
		default:
			out[key] = p.value
			continue
		}
		bad = true
	}
	if bad {
		return nil
	}
	return out
}

// sgHasKeyFold reports whether m has key, compared case-insensitively
// (header maps are small).
func sgHasKeyFold(m map[string]string, key string) bool {
	if _, ok := m[key]; ok {
		return true
	}
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func sgIsReserved(lowerKey string) bool {
	_, ok := sgReservedHeaders[lowerKey]
	return ok
}

func (v *sgValidator) sendAt(field string, raw json.RawMessage) int64 {
	n, ok := sgInt(raw)
	if !ok {
		v.fail(field, "The send_at parameter is expecting a Unix timestamp as an integer. We will send immediately if you include a send_at timestamp that is in the past.")
		return 0
	}
	if n > v.now.Add(MaxScheduleAhead).Unix() {
		v.fail(field, "Scheduling more than 72 hours in advance is forbidden.")
	}
	return n
}

func (v *sgValidator) categories(raw json.RawMessage) []string {
	if sgAbsent(raw) {
		return nil
	}
	items, ok := sgArray(raw)
	if !ok {
		v.fail("categories", "Categories must be an array of strings.")
		return nil
	}
	if len(items) > MaxCategories {
		v.fail("categories", fmt.Sprintf("There is a limit of %d categories for each email that is sent. You provided %d categories.", MaxCategories, len(items)))
	}
	out := make([]string, 0, len(items))
	seen := make(map[string]struct{}, len(items))
	for _, item := range items {
		c, ok := sgString(item)
		switch {
		case !ok:
			v.fail("categories", "Categories must be an array of strings.")
			continue
		case !sgASCII(c):
			v.fail("categories", "Categories can not contain non-ASCII characters.")
		case len(c) > MaxCategoryLength:
			v.fail("categories", "Each category must not be longer than 255 characters. "+c+" exceeds this limit")
		}
		if _, dup := seen[c]; dup {
			v.fail("categories", "The categories must be a unique list, and you have included "+c+" more than once.")
		}
		seen[c] = struct{}{}
		out = append(out, c)
	}
	return out
}

func (v *sgValidator) content(raw json.RawMessage, haveTemplate bool) []Content {
	if sgAbsent(raw) {
		if !haveTemplate {
			v.fail("content", "The content param is required unless you are using a transactional template and have defined a template_id.")
		}
		return nil
	}
	items, ok := sgArray(raw)
	if !ok {
		v.fail("content", sgTypeMsg("array", raw))
		return nil
	}
	if len(items) == 0 && !haveTemplate {
		v.fail("content", "There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.")
	}
	out := make([]Content, 0, len(items))
	seen := make(map[string]struct{}, len(items))
	ordered := true
	for i, item := range items {
		field := "content." + strconv.Itoa(i)
		obj, ok := sgObject(item)
		if !ok {
			v.fail(field, sgTypeMsg("object", item))
			continue
		}
		var c Content
		c.Type, ok = sgString(obj.get("type"))
		switch {
		case !ok || c.Type == "":
			v.fail(field+".type", "The content type must be a string at least one character in length.")
		case strings.ContainsAny(c.Type, ";\r\n"):
			v.fail(field+".type", "Content types cannot contain ';', or CRLF characters.")
		}
		c.Value, ok = sgString(obj.get("value"))
		if !ok || c.Value == "" {
			v.fail(field+".value", "The content value must be a string at least one character in length.")
		}
		t := strings.ToLower(c.Type)
		if _, dup := seen[t]; dup {
			ordered = false
		}
		seen[t] = struct{}{}
		switch t {
		case "text/plain":
			ordered = ordered && i == 0
		case "text/html":
			_, plain := seen["text/plain"]
			ordered = ordered && (i == 0 || i == 1 && plain)
		}
		out = append(out, c)
	}
	if !ordered {
		v.errs = append(v.errs, APIError{Message: MessageContentOrder, Field: "content"})
	}
	return out
}

func (v *sgValidator) replyTo(m *Mail, top sgObj) {
	single, list := top.get("reply_to"), top.get("reply_to_list")
	m.ReplyTo = v.address("reply_to", single, sgReplyToRules, false)
	if sgAbsent(list) {
		return
	}
	if !sgAbsent(single) {
		v.fail("reply_to_list", "The reply_to and reply_to_list fields cannot be used together. Please use only one of them.")
	}
	items, ok := sgArray(list)
	if !ok {
		v.fail("reply_to_list", sgTypeMsg("array", list))
		return
	}
	if len(items) > MaxReplyToList {
		v.fail("reply_to_list", fmt.Sprintf("The reply_to_list is limited to %d addresses. You provided %d.", MaxReplyToList, len(items)))
	}
	seen := make(map[string]struct{}, len(items))
	for i, item := range items {
		field := "reply_to_list." + strconv.Itoa(i)
		a := v.address(field, item, sgReplyToListRules, true)
		if a == nil {
			continue
		}
		key := strings.ToLower(a.Email)
		if _, dup := seen[key]; dup {
			v.fail(field+".email", "The reply_to_list emails must be unique. You have included "+a.Email+" more than once.")
		}
		seen[key] = struct{}{}
		m.ReplyToList = append(m.ReplyToList, *a)
	}
}

func (v *sgValidator) attachments(raw json.RawMessage) []Attachment {
	if sgAbsent(raw) {
		return nil
	}
	items, ok := sgArray(raw)
	if !ok {
		v.fail("attachments", sgTypeMsg("array", raw))
		return nil
	}
	out := make([]Attachment, 0, len(items))
	for i, item := range items {
		field := "attachments." + strconv.Itoa(i)
		obj, ok := sgObject(item)
		if !ok {
			v.fail(field, sgTypeMsg("object", item))
			continue
		}
		var a Attachment
		a.Content, ok = sgString(obj.get("content"))
		switch {
		case !ok || a.Content == "":
			v.fail(field+".content", "The attachment content must be a string at least one character in length.")
		case !sgBase64(a.Content):
			v.fail(field+".content", "The attachment content must be base64 encoded.")
		}
		a.Filename, ok = sgString(obj.get("filename"))
		switch {
		case sgAbsent(obj.get("filename")):
			v.fail(field+".filename", "filename is required.")
		case !ok:
			v.fail(field+".filename", "The filename of your attachment must be a string.")
		case strings.ContainsAny(a.Filename, ";,\r\n"):
			v.fail(field+".filename", "The filename of your attachment cannot contain CRLF characters.")
		}
		if traw := obj.get("type"); !sgAbsent(traw) {
			a.Type, ok = sgString(traw)
			switch {
			case !ok || a.Type == "":
				v.fail(field+".type", "The attachment type must be a string and at least one character in length.")
			case strings.ContainsAny(a.Type, ";\r\n"):
				v.fail(field+".type", "The type cannot contain ';', or CRLF characters.")
			}
		}
		if draw := obj.get("disposition"); !sgAbsent(draw) {
			a.Disposition, ok = sgString(draw)
			if !ok || a.Disposition != "inline" && a.Disposition != "attachment" {
				v.fail(field+".disposition", `The disposition of your attachment can be either "inline" or "attachment". You provided `+string(draw)+".")
			}
		}
		if craw := obj.get("content_id"); !sgAbsent(craw) {
			a.ContentID, ok = sgString(craw)
			switch {
			case !ok:
				v.fail(field+".content_id", "The content ID of your attachment must be a string. You provided "+string(craw)+".")
			case strings.ContainsAny(a.ContentID, ";,\r\n"):
				v.fail(field+".content_id", "The content ID of your attachment cannot contain CRLF characters.")
			}
		}
		out = append(out, a)
	}
	return out
}

// sgBase64 reports whether s is standard base64 (line breaks allowed).
func sgBase64(s string) bool {
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

func (v *sgValidator) asm(raw json.RawMessage) *ASM {
	if sgAbsent(raw) {
		return nil
	}
	obj, ok := sgObject(raw)
	if !ok {
		v.fail("asm", sgTypeMsg("object", raw))
		return nil
	}
	a := &ASM{}
	if a.GroupID, ok = sgInt(obj.get("group_id")); !ok {
		v.fail("asm.group_id", "The ASM group ID must be an integer.")
	}
	if graw := obj.get("groups_to_display"); !sgAbsent(graw) {
		items, ok := sgArray(graw)
		if !ok {
			v.fail("asm.groups_to_display", "The ASM Group IDs to display must be an array of integers.")
			return a
		}
		if len(items) > MaxGroupsToDisplay {
			v.fail("asm.groups_to_display", "There is a limit of 25 unsubscribe groups that can be displayed to a user at a time.")
		}
		for _, item := range items {
			id, ok := sgInt(item)
			if !ok {
				v.fail("asm.groups_to_display", "The ASM Group IDs to display must be an array of integers.")
				break
			}
			a.GroupsToDisplay = append(a.GroupsToDisplay, id)
		}
	}
	return a
}

// sgSettingNames names each known setting in error messages.
var sgSettingNames = map[string]string{
	"bcc":                           "bcc",
	"bypass_list_management":        "bypass list management",
	"bypass_spam_management":        "bypass spam management",
	"bypass_bounce_management":      "bypass bounce management",
	"bypass_unsubscribe_management": "bypass unsubscribe management",
	"footer":                        "footer",
	"sandbox_mode":                  "sandbox mode",
	"spam_check":                    "spam check",
	"click_tracking":                "click tracking",
	"open_tracking":                 "open tracking",
	"subscription_tracking":         "subscription tracking",
	"ganalytics":                    "Google Analytics",
}

// setting decodes one mail_settings/tracking_settings entry, checking the
// JSON type of every known field (enable flags must be booleans).
func (v *sgValidator) setting(field, name string, raw json.RawMessage) *Setting {
	obj, ok := sgObject(raw)
	if !ok {
		v.fail(field, sgTypeMsg("object", raw))
		return nil
	}
	human := sgSettingNames[name]
	s := &Setting{}
	boolField := func(key string, dst *bool) bool {
		r := obj.get(key)
		if r == nil {
			return false
		}
		b, ok := sgBool(r)
		if !ok {
			v.fail(field+"."+key, "The "+human+" "+strings.ReplaceAll(key, "_", " ")+" param should be a boolean value.")
		}
		*dst = b
		return true
	}
	boolField("enable", &s.Enable)
	var enableText bool
	if boolField("enable_text", &enableText) {
		s.EnableText = &enableText
	}
	for key, dst := range map[string]*string{
		"text": &s.Text, "html": &s.HTML, "substitution_tag": &s.SubstitutionTag, "email": &s.Email,
		"post_to_url": &s.PostToURL, "utm_source": &s.UTMSource, "utm_medium": &s.UTMMedium,
		"utm_term": &s.UTMTerm, "utm_content": &s.UTMContent, "utm_campaign": &s.UTMCampaign,
	} {
		*dst = v.optString(field+"."+key, obj.get(key), "The "+human+" "+strings.ReplaceAll(key, "_", " ")+" must be a string.")
	}
	if r := obj.get("threshold"); !sgAbsent(r) {
		n, ok := sgInt(r)
		if !ok || n < 1 || n > 10 {
			v.fail(field+".threshold", "The spam check threshold is between 1 and 10, with the lower numbers being the most strict filtering.")
		}
		s.Threshold = n
	}
	return s
}

func (v *sgValidator) settings(field string, raw json.RawMessage) map[string]*Setting {
	if sgAbsent(raw) {
		return nil
	}
	obj, ok := sgObject(raw)
	if !ok {
		v.fail(field, sgTypeMsg("object", raw))
		return nil
	}
	out := make(map[string]*Setting, len(obj))
	for _, f := range obj { // document order
		if _, known := sgSettingNames[f.key]; !known || sgAbsent(f.raw) {
			continue // unknown settings are ignored, as SendGrid does
		}
		if s := v.setting(field+"."+f.key, f.key, f.raw); s != nil {
			out[f.key] = s
		}
	}
	return out
}

func (v *sgValidator) mailSettings(raw json.RawMessage) *MailSettings {
	set := v.settings("mail_settings", raw)
	if set == nil {
		return nil
	}
	ms := &MailSettings{
		BCC:                         set["bcc"],
		BypassListManagement:        set["bypass_list_management"],
		BypassSpamManagement:        set["bypass_spam_management"],
		BypassBounceManagement:      set["bypass_bounce_management"],
		BypassUnsubscribeManagement: set["bypass_unsubscribe_management"],
		Footer:                      set["footer"],
		SandboxMode:                 set["sandbox_mode"],
		SpamCheck:                   set["spam_check"],
	}
	if ms.BypassListManagement != nil && (ms.BypassSpamManagement != nil || ms.BypassBounceManagement != nil || ms.BypassUnsubscribeManagement != nil) {
		v.fail("mail_settings.bypass_list_management", "The bypass_list_management setting cannot be combined with bypass_spam_management, bypass_bounce_management or bypass_unsubscribe_management.")
	}
	return ms
}

func (v *sgValidator) trackingSettings(raw json.RawMessage) *TrackingSettings {
	set := v.settings("tracking_settings", raw)
	if set == nil {
		return nil
	}
	return &TrackingSettings{
		ClickTracking:        set["click_tracking"],
		OpenTracking:         set["open_tracking"],
		SubscriptionTracking: set["subscription_tracking"],
		GoogleAnalytics:      set["ganalytics"],
	}
}

// ---- Event Webhook helpers ----

// Header names of a signed Event Webhook post (the same values as
// sendgrid-go's eventwebhook.VerificationHTTPHeader/TimestampHTTPHeader).
const (
	EventWebhookSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	EventWebhookTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// SignEvents returns the Event Webhook signature of body sent at timestamp:
// base64 of the ASN.1 DER ECDSA signature by priv (P-256) over
// SHA-256(timestamp || body), as SendGrid puts in the
// X-Twilio-Email-Event-Webhook-Signature header. body must be the exact
// bytes posted (see EventBatch). It panics if priv cannot sign (nil or
// invalid key), which is a programming error in a test.
func SignEvents(priv *ecdsa.PrivateKey, timestamp string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, h.Sum(nil))
	if err != nil {
		panic(fmt.Errorf("fake: sign event webhook payload: %w", err))
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// EventBatch frames events the way SendGrid posts them to the Event
// Webhook: a JSON array with "\r\n" after each event separator and at the
// end ("[{...},\r\n{...}]\r\n"), keys sorted, HTML characters not escaped.
// It panics if an event cannot be encoded as JSON (a programming error).
func EventBatch(events ...map[string]any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('[')
	for i, e := range events {
		if i > 0 {
			buf.WriteString(",\r\n")
		}
		if err := enc.Encode(e); err != nil {
			panic(fmt.Errorf("fake: encode event %d: %w", i, err))
		}
		buf.Truncate(buf.Len() - 1) // Encode's trailing newline
	}
	buf.WriteString("]\r\n")
	return buf.Bytes()
}

// NewEventWebhookKey generates a P-256 key pair for signed Event Webhook
// tests and returns the private key and the public key in the form SendGrid
// shows it (base64 of DER SubjectPublicKeyInfo), which sendgrid-go's
// eventwebhook.ConvertPublicKeyBase64ToECDSA accepts.
func NewEventWebhookKey() (*ecdsa.PrivateKey, string, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("generate event webhook key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, "", fmt.Errorf("encode event webhook public key: %w", err)
	}
	return priv, base64.StdEncoding.EncodeToString(der), nil
}

// NewEventRequest builds the POST SendGrid would make to an Event Webhook
// at url with body (see EventBatch). With a non-nil priv it is signed for
// timestamp (unix seconds as a string); with nil priv it carries no
// signature headers.
func NewEventRequest(ctx context.Context, url string, priv *ecdsa.PrivateKey, timestamp string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build event webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "SendGrid Event API")
	if priv != nil {
		req.Header.Set(EventWebhookTimestampHeader, timestamp)
		req.Header.Set(EventWebhookSignatureHeader, SignEvents(priv, timestamp, body))
	}
	return req, nil
}
