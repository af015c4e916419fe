package email_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/fake"
)

const (
	sgKey  = "SG.email-test-key"
	sgFrom = "alerts@shop.example"
)

// sgNow is the clock the sender sees; whole seconds, like X-RateLimit-Reset.
var sgNow = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func newFakeSendGrid(t *testing.T) *fake.SendGrid {
	t.Helper()
	f := fake.NewSendGrid(sgKey)
	t.Cleanup(f.Close)
	return f
}

// sleeps records the waits the sender asks for, without waiting.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

type senderOpts struct {
	key         string
	baseURL     string
	maxAttempts int
	timeout     time.Duration
}

func newSender(t *testing.T, f *fake.SendGrid, o senderOpts) (*email.SendGrid, *sleeps) {
	t.Helper()
	if o.key == "" {
		o.key = sgKey
	}
	if o.baseURL == "" {
		o.baseURL = f.URL
	}
	sl := &sleeps{}
	s := email.NewSendGrid(email.SendGridConfig{
		APIKey:      o.key,
		BaseURL:     o.baseURL,
		MaxAttempts: o.maxAttempts,
		Timeout:     o.timeout,
		SleepFunc:   sl.sleep,
		NowFunc:     func() time.Time { return sgNow },
	})
	return s, sl
}

func addr(i int) string { return fmt.Sprintf("shopper%04d@example.com", i) }
func clickURL(i int) string {
	return fmt.Sprintf("https://rr.example/c/%d?s=%x", i, i*7919)
}
func unsubURL(i int) string { return fmt.Sprintf("https://rr.example/u/%d", i) }

// newMessage builds a message to n recipients, each with their own links,
// headers and custom args, shaped like the ones app/restock sends.
func newMessage(n int) *email.Message {
	m := &email.Message{
		From:       email.Address{Email: sgFrom, Name: "Northwind Ceramics"},
		ReplyTo:    &email.Address{Email: "help@shop.example"},
		Subject:    "Speckled Mug is back in stock",
		Text:       "Shop now: " + keyClick + "\nUnsubscribe: " + keyUnsub + "\n",
		HTML:       `<p>Back & <b>ready</b></p><a href="` + keyClick + `">Shop now</a> <a href="` + keyUnsub + `">Unsubscribe</a>`,
		Categories: []string{"restock", "step-1"},
	}
	for i := range n {
		m.Recipients = append(m.Recipients, email.Recipient{
			Email:         addr(i),
			Substitutions: map[string]string{keyClick: clickURL(i), keyUnsub: unsubURL(i)},
			Headers: map[string]string{
				"List-Unsubscribe":      "<" + unsubURL(i) + ">",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			},
			CustomArgs: map[string]string{"message_id": strconv.Itoa(i), "step": "1"},
		})
	}
	return m
}

// recipientIndex maps a shopperNNNN address back to its index.
func recipientIndex(t *testing.T, email string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(email, "shopper%04d@example.com", &i); err != nil {
		t.Fatalf("unexpected recipient %q", email)
	}
	return i
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func sorted(s []int) []int {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// checkDeliveries checks that the fake delivered exactly the recipients
// want, once each, each with their own substitutions, headers and args.
func checkDeliveries(t *testing.T, f *fake.SendGrid, m *email.Message, want []int) {
	t.Helper()
	seen := map[int]int{}
	for _, d := range f.Recipients() {
		i := recipientIndex(t, d.To)
		seen[i]++
		if seen[i] > 1 {
			continue
		}
		r := m.Recipients[i]
		if want := r.Apply(m.Text); d.Text != want {
			t.Errorf("recipient %d text = %q, want %q", i, d.Text, want)
		}
		if want := r.Apply(m.HTML); d.HTML != want {
			t.Errorf("recipient %d html = %q, want %q", i, d.HTML, want)
		}
		if d.Subject != m.Subject {
			t.Errorf("recipient %d subject = %q, want %q", i, d.Subject, m.Subject)
		}
		if d.From != sgFrom {
			t.Errorf("recipient %d from = %q, want %q", i, d.From, sgFrom)
		}
		for k, v := range r.Headers {
			if d.Headers[k] != v {
				t.Errorf("recipient %d header %s = %q, want %q", i, k, d.Headers[k], v)
			}
		}
		for k, v := range r.CustomArgs {
			if d.CustomArgs[k] != v {
				t.Errorf("recipient %d custom arg %s = %q, want %q", i, k, d.CustomArgs[k], v)
			}
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("recipient %d delivered %d times, want once", i, n)
		}
		if !slices.Contains(want, i) {
			t.Errorf("recipient %d delivered, want not", i)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d recipients delivered, want %d", len(seen), len(want))
	}
}

func TestSendGridChunks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		recipients int
		wantChunks []int
	}{
		{recipients: 1, wantChunks: []int{1}},
		{recipients: 3, wantChunks: []int{3}},
		{recipients: 1000, wantChunks: []int{1000}},
		{recipients: 1001, wantChunks: []int{1000, 1}},
		{recipients: 2500, wantChunks: []int{1000, 1000, 500}},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.recipients), func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			s, sl := newSender(t, f, senderOpts{})
			m := newMessage(tt.recipients)
			res, err := s.Send(t.Context(), m)
			if err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			reqs := f.Requests()
			var chunks []int
			for _, r := range reqs {
				chunks = append(chunks, r.ToCount)
			}
			if !slices.Equal(chunks, tt.wantChunks) {
				t.Errorf("request sizes = %v, want %v", chunks, tt.wantChunks)
			}
			if got := f.Attempts(); got != len(tt.wantChunks) {
				t.Errorf("fake saw %d requests, want %d", got, len(tt.wantChunks))
			}
			if res.Requests != len(tt.wantChunks) {
				t.Errorf("Result.Requests = %d, want %d", res.Requests, len(tt.wantChunks))
			}
			if got, want := sorted(res.Accepted), seq(0, tt.recipients); !slices.Equal(got, want) {
				t.Errorf("Result.Accepted has %d entries (sorted, first %v), want each of 0..%d once", len(got), got[:min(5, len(got))], tt.recipients-1)
			}
			if len(res.Rejected) != 0 {
				t.Errorf("Result.Rejected = %v, want none", res.Rejected)
			}
			if got := sl.got(); len(got) != 0 {
				t.Errorf("slept %v, want no sleeps", got)
			}
			// Each request's personalizations are its recipients in order, each
			// carrying only its own values; provider ids follow the request.
			next := 0
			for k, r := range reqs {
				for j, p := range r.Body.Personalizations {
					i := next + j
					rc := m.Recipients[i]
					if len(p.To) != 1 || p.To[0].Email != rc.Email {
						t.Fatalf("request %d personalization %d to = %+v, want only %s", k, j, p.To, rc.Email)
					}
					if !mapsEqual(p.Substitutions, rc.Substitutions) {
						t.Errorf("request %d personalization %d substitutions = %v, want %v", k, j, p.Substitutions, rc.Substitutions)
					}
					if !mapsEqual(p.Headers, rc.Headers) {
						t.Errorf("request %d personalization %d headers = %v, want %v", k, j, p.Headers, rc.Headers)
					}
					if !mapsEqual(p.CustomArgs, rc.CustomArgs) {
						t.Errorf("request %d personalization %d custom_args = %v, want %v", k, j, p.CustomArgs, rc.CustomArgs)
					}
					if got := res.ProviderIDs[i]; got != r.MessageID {
						t.Errorf("ProviderIDs[%d] = %q, want %q (X-Message-Id of request %d)", i, got, r.MessageID, k)
					}
				}
				if len(r.Body.Headers) != 0 || len(r.Body.CustomArgs) != 0 {
					t.Errorf("request %d has message-level headers %v / custom_args %v, want them per personalization", k, r.Body.Headers, r.Body.CustomArgs)
				}
				next += len(r.Body.Personalizations)
			}
			checkDeliveries(t, f, m, seq(0, tt.recipients))
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// backoffRange is the window of the sender's jittered exponential backoff
// before attempt+1: [base/2, base] with base = 500 ms * 2^(attempt-1).
func backoffRange(attempt int) (lo, hi time.Duration) {
	base := time.Duration(1<<min(attempt-1, 6)) * 500 * time.Millisecond
	return base / 2, base
}

func TestSendGridRateLimited(t *testing.T) {
	t.Parallel()
	unix := func(d time.Duration) string { return strconv.FormatInt(sgNow.Add(d).Unix(), 10) }
	tests := []struct {
		name         string
		reset        string // X-RateLimit-Reset; "" lets the fake set now+1s by its own clock
		wantLo       time.Duration
		wantHi       time.Duration
		useFakeClock bool
	}{
		{name: "reset in 5s", reset: unix(5 * time.Second), wantLo: 5 * time.Second, wantHi: 5 * time.Second},
		{name: "reset in 1s", reset: unix(time.Second), wantLo: time.Second, wantHi: time.Second},
		{name: "reset in 60s", reset: unix(time.Minute), wantLo: time.Minute, wantHi: time.Minute},
		{name: "reset far ahead is capped", reset: unix(time.Hour), wantLo: time.Minute, wantHi: time.Minute},
		{name: "reset in the past backs off", reset: unix(-30 * time.Second), wantLo: 250 * time.Millisecond, wantHi: 500 * time.Millisecond},
		{name: "reset now backs off", reset: unix(0), wantLo: 250 * time.Millisecond, wantHi: 500 * time.Millisecond},
		{name: "unparsable reset backs off", reset: "soon", wantLo: 250 * time.Millisecond, wantHi: 500 * time.Millisecond},
		{name: "fake default header", useFakeClock: true, wantLo: time.Second, wantHi: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			var h http.Header
			if tt.useFakeClock {
				f.NowFunc = func() time.Time { return sgNow }
			} else {
				h = http.Header{"X-RateLimit-Reset": {tt.reset}}
			}
			f.FailNext(http.StatusTooManyRequests, "", h)
			s, sl := newSender(t, f, senderOpts{})
			m := newMessage(3)
			res, err := s.Send(t.Context(), m)
			if err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			if got := len(f.Requests()); got != 1 {
				t.Errorf("fake accepted %d requests, want 1", got)
			}
			if got := f.Attempts(); got != 2 {
				t.Errorf("fake saw %d requests, want 2 (429 then 202)", got)
			}
			if res.Requests != 2 {
				t.Errorf("Result.Requests = %d, want 2", res.Requests)
			}
			if got, want := sorted(res.Accepted), seq(0, 3); !slices.Equal(got, want) {
				t.Errorf("Result.Accepted = %v, want %v", got, want)
			}
			waits := sl.got()
			if len(waits) != 1 {
				t.Fatalf("slept %v, want exactly one wait", waits)
			}
			if w := waits[0]; w < tt.wantLo || w > tt.wantHi {
				t.Errorf("waited %v, want within [%v, %v]", w, tt.wantLo, tt.wantHi)
			}
			checkDeliveries(t, f, m, seq(0, 3))
		})
	}
}

func TestSendGridServerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		maxAttempts  int // 0 means the default (6)
		fails        []int
		wantErr      bool
		wantAttempts int
	}{
		{name: "500 until max attempts", maxAttempts: 3, fails: []int{500, 500, 500}, wantErr: true, wantAttempts: 3},
		{name: "503 until default max attempts", fails: []int{503, 503, 503, 503, 503, 503}, wantErr: true, wantAttempts: 6},
		{name: "mixed 5xx and 429 until max attempts", maxAttempts: 4, fails: []int{502, 429, 500, 504}, wantErr: true, wantAttempts: 4},
		{name: "one attempt only", maxAttempts: 1, fails: []int{500}, wantErr: true, wantAttempts: 1},
		{name: "500 then success", maxAttempts: 3, fails: []int{500}, wantAttempts: 2},
		{name: "500 twice then success on last attempt", maxAttempts: 3, fails: []int{500, 503}, wantAttempts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			for _, code := range tt.fails {
				f.FailNext(code, "", nil)
			}
			s, sl := newSender(t, f, senderOpts{maxAttempts: tt.maxAttempts})
			m := newMessage(3)
			res, err := s.Send(t.Context(), m)
			if got := f.Attempts(); got != tt.wantAttempts {
				t.Errorf("fake saw %d requests, want %d", got, tt.wantAttempts)
			}
			if res.Requests != tt.wantAttempts {
				t.Errorf("Result.Requests = %d, want %d", res.Requests, tt.wantAttempts)
			}
			waits := sl.got()
			if len(waits) != tt.wantAttempts-1 {
				t.Errorf("slept %d times (%v), want %d", len(waits), waits, tt.wantAttempts-1)
			}
			for i, w := range waits {
				if tt.fails[i] == http.StatusTooManyRequests {
					continue // waits for the fake's reset header
				}
				if lo, hi := backoffRange(i + 1); w < lo || w > hi {
					t.Errorf("wait %d = %v, want within [%v, %v]", i+1, w, lo, hi)
				}
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Send() error = %v", err)
				}
				checkDeliveries(t, f, m, seq(0, 3))
				return
			}
			if err == nil {
				t.Fatalf("Send() error = nil, want one")
			}
			if errors.Is(err, email.ErrPermanent) || email.ErrIsPermanent(err) {
				t.Errorf("Send() error = %v, want a retryable error, not ErrPermanent", err)
			}
			if errors.Is(err, email.ErrUncertain) {
				t.Errorf("Send() error = %v, want not ErrUncertain (every answer was an error)", err)
			}
			if len(res.Accepted) != 0 || len(f.Requests()) != 0 {
				t.Errorf("accepted %v (fake %d requests), want nothing", res.Accepted, len(f.Requests()))
			}
		})
	}
}

func TestSendGridPermanentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     string
		setup   func(*fake.SendGrid)
		wantMsg string // part of the error message
	}{
		{name: "401 wrong key", key: "SG.wrong", wantMsg: "401"},
		{name: "403 unverified sender", setup: func(f *fake.SendGrid) { f.SetVerifiedSenders("someone-else@shop.example") }, wantMsg: "403"},
		{name: "400 naming no recipient", setup: func(f *fake.SendGrid) {
			f.FailNext(http.StatusBadRequest, `{"errors":[{"message":"bad","field":"from"}]}`, nil)
		}, wantMsg: "bad"},
		{name: "400 with null field", setup: func(f *fake.SendGrid) {
			f.FailNext(http.StatusBadRequest, `{"errors":[{"message":"bad request","field":null}]}`, nil)
		}, wantMsg: "bad request"},
		{name: "400 naming a recipient and the message", setup: func(f *fake.SendGrid) {
			f.FailNext(http.StatusBadRequest, `{"errors":[{"message":"`+fake.MessageInvalidAddress+`","field":"personalizations.1.to.0.email"},{"message":"bad subject","field":"subject"}]}`, nil)
		}, wantMsg: "bad subject"},
		{name: "400 naming a personalization out of range", setup: func(f *fake.SendGrid) {
			f.FailNext(http.StatusBadRequest, `{"errors":[{"message":"`+fake.MessageInvalidAddress+`","field":"personalizations.7.to.0.email"}]}`, nil)
		}, wantMsg: "400"},
		{name: "400 not json", setup: func(f *fake.SendGrid) { f.FailNext(http.StatusBadRequest, "Bad Request", nil) }, wantMsg: "Bad Request"},
		{name: "403 missing scope", setup: func(f *fake.SendGrid) { f.FailNext(http.StatusForbidden, "", nil) }, wantMsg: "403"},
		{name: "413 too large", setup: func(f *fake.SendGrid) { f.FailNext(http.StatusRequestEntityTooLarge, "", nil) }, wantMsg: "413"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			s, sl := newSender(t, f, senderOpts{key: tt.key})
			res, err := s.Send(t.Context(), newMessage(3))
			if err == nil {
				t.Fatalf("Send() error = nil, want ErrPermanent")
			}
			if !errors.Is(err, email.ErrPermanent) || !email.ErrIsPermanent(err) {
				t.Errorf("Send() error = %v, want ErrPermanent", err)
			}
			if errors.Is(err, email.ErrUncertain) {
				t.Errorf("Send() error = %v, want not ErrUncertain", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Send() error = %q, want it to mention %q", err, tt.wantMsg)
			}
			if got := f.Attempts(); got != 1 {
				t.Errorf("fake saw %d requests, want 1 (no retry)", got)
			}
			if got := sl.got(); len(got) != 0 {
				t.Errorf("slept %v, want no sleeps", got)
			}
			if len(res.Accepted) != 0 || len(res.Rejected) != 0 || len(f.Requests()) != 0 {
				t.Errorf("accepted %v, rejected %v, fake accepted %d requests; want nothing", res.Accepted, res.Rejected, len(f.Requests()))
			}
		})
	}
}

func TestSendGridRejectedRecipients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		recipients   int
		reject       []int // passed to RejectAddress
		invalid      []int // given an unparsable address instead
		wantAttempts int
		wantChunks   []int // recipients per accepted request
	}{
		{name: "one of three", recipients: 3, reject: []int{1}, wantAttempts: 2, wantChunks: []int{2}},
		{name: "first of three", recipients: 3, reject: []int{0}, wantAttempts: 2, wantChunks: []int{2}},
		{name: "two of three in one chunk", recipients: 3, reject: []int{0, 2}, wantAttempts: 2, wantChunks: []int{1}},
		{name: "all three", recipients: 3, reject: []int{0, 1, 2}, wantAttempts: 1, wantChunks: nil},
		{name: "bad syntax", recipients: 3, invalid: []int{2}, wantAttempts: 2, wantChunks: []int{2}},
		{name: "bad syntax and rejected", recipients: 4, reject: []int{0}, invalid: []int{3}, wantAttempts: 2, wantChunks: []int{2}},
		{name: "in the second chunk", recipients: 1500, reject: []int{1200}, wantAttempts: 3, wantChunks: []int{1000, 499}},
		{name: "in both chunks", recipients: 1500, reject: []int{999, 1000}, wantAttempts: 4, wantChunks: []int{999, 499}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			m := newMessage(tt.recipients)
			wantRejected := map[int]string{}
			for _, i := range tt.reject {
				f.RejectAddress(m.Recipients[i].Email)
				wantRejected[i] = fake.MessageInvalidAddress
			}
			for _, i := range tt.invalid {
				m.Recipients[i].Email = fmt.Sprintf("shopper%04d-at-example.com", i)
				wantRejected[i] = fake.MessageInvalidAddress
			}
			var wantAccepted []int
			for i := range tt.recipients {
				if _, bad := wantRejected[i]; !bad {
					wantAccepted = append(wantAccepted, i)
				}
			}
			s, sl := newSender(t, f, senderOpts{})
			res, err := s.Send(t.Context(), m)
			if err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			if len(res.Rejected) != len(wantRejected) {
				t.Errorf("Result.Rejected = %v, want %v", res.Rejected, wantRejected)
			}
			for i, want := range wantRejected {
				if got, ok := res.Rejected[i]; !ok || got != want {
					t.Errorf("Result.Rejected[%d] = %q, %v; want %q", i, got, ok, want)
				}
			}
			if got := sorted(res.Accepted); !slices.Equal(got, wantAccepted) {
				t.Errorf("Result.Accepted = %v, want %v", abbrev(got), abbrev(wantAccepted))
			}
			for i := range wantRejected {
				if _, ok := res.ProviderIDs[i]; ok {
					t.Errorf("rejected recipient %d has a provider id", i)
				}
			}
			var chunks []int
			for _, r := range f.Requests() {
				chunks = append(chunks, r.ToCount)
			}
			if !slices.Equal(chunks, tt.wantChunks) {
				t.Errorf("accepted request sizes = %v, want %v", chunks, tt.wantChunks)
			}
			if got := f.Attempts(); got != tt.wantAttempts {
				t.Errorf("fake saw %d requests, want %d", got, tt.wantAttempts)
			}
			if res.Requests != tt.wantAttempts {
				t.Errorf("Result.Requests = %d, want %d", res.Requests, tt.wantAttempts)
			}
			if got := sl.got(); len(got) != 0 {
				t.Errorf("slept %v, want no sleeps", got)
			}
			good := wantAccepted
			var deliveries []int
			for _, d := range f.Recipients() {
				if i, err := strconv.Atoi(d.CustomArgs["message_id"]); err == nil {
					deliveries = append(deliveries, i)
				}
			}
			if got := sorted(deliveries); !slices.Equal(got, good) {
				t.Errorf("fake delivered %v, want %v", abbrev(got), abbrev(good))
			}
		})
	}
}

func abbrev(s []int) string {
	if len(s) <= 8 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v…%v (%d)", s[:4], s[len(s)-4:], len(s))
}

func TestSendGridRequestBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		text      string
		html      string
		wantTypes []string
	}{
		{name: "text and html", text: "Hi " + keyClick, html: "<p>Hi <a href=\"" + keyClick + "\">x</a></p>", wantTypes: []string{"text/plain", "text/html"}},
		{name: "text only", text: "Hi " + keyClick, wantTypes: []string{"text/plain"}},
		{name: "html only", html: "<p>Hi & bye</p>", wantTypes: []string{"text/html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			s, _ := newSender(t, f, senderOpts{})
			m := newMessage(2)
			m.Text, m.HTML = tt.text, tt.html
			if _, err := s.Send(t.Context(), m); err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("fake accepted %d requests, want 1", len(reqs))
			}
			var body struct {
				From             map[string]string `json:"from"`
				ReplyTo          map[string]string `json:"reply_to"`
				Subject          string            `json:"subject"`
				Categories       []string          `json:"categories"`
				Content          []struct{ Type, Value string }
				TrackingSettings struct {
					SubscriptionTracking *struct {
						Enable *bool `json:"enable"`
					} `json:"subscription_tracking"`
				} `json:"tracking_settings"`
			}
			if err := json.Unmarshal(reqs[0].Raw, &body); err != nil {
				t.Fatalf("decode request body: %v", err)
			}
			var types []string
			for i, c := range body.Content {
				types = append(types, c.Type)
				want := map[string]string{"text/plain": tt.text, "text/html": tt.html}[c.Type]
				if c.Value != want {
					t.Errorf("content[%d] (%s) = %q, want %q", i, c.Type, c.Value, want)
				}
			}
			if !slices.Equal(types, tt.wantTypes) {
				t.Errorf("content types = %q, want %q (text/plain first)", types, tt.wantTypes)
			}
			st := body.TrackingSettings.SubscriptionTracking
			if st == nil || st.Enable == nil || *st.Enable {
				t.Errorf("tracking_settings.subscription_tracking = %+v, want {\"enable\": false}; raw body: %.300s", st, reqs[0].Raw)
			}
			if got := body.From; got["email"] != sgFrom || got["name"] != m.From.Name {
				t.Errorf("from = %v, want %s <%s>", got, m.From.Name, sgFrom)
			}
			if got := body.ReplyTo["email"]; got != m.ReplyTo.Email {
				t.Errorf("reply_to = %q, want %q", got, m.ReplyTo.Email)
			}
			if body.Subject != m.Subject {
				t.Errorf("subject = %q, want %q", body.Subject, m.Subject)
			}
			if !slices.Equal(body.Categories, m.Categories) {
				t.Errorf("categories = %q, want %q", body.Categories, m.Categories)
			}
			if got := reqs[0].Header.Get("Authorization"); got != "Bearer "+sgKey {
				t.Errorf("Authorization = %q, want the bearer key", got)
			}
		})
	}
}

// gatedServer serves the fake behind a handler that lets the first pass
// requests through and holds the next ones until the client gives up.
type gatedServer struct {
	*httptest.Server
	entered chan struct{} // receives once per held request
	count   atomic.Int32
}

func newGatedServer(t *testing.T, f *fake.SendGrid, pass int) *gatedServer {
	t.Helper()
	g := &gatedServer{entered: make(chan struct{}, 16)}
	release := make(chan struct{})
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if int(g.count.Add(1)) <= pass {
			f.ServeHTTP(w, r)
			return
		}
		g.entered <- struct{}{}
		select {
		case <-release:
			f.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(g.Close)
	t.Cleanup(func() { close(release) }) // runs before g.Close
	return g
}

func TestSendGridCancelledInFlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		recipients   int
		pass         int // requests answered before the one held
		wantAccepted []int
	}{
		{name: "first request", recipients: 3, pass: 0, wantAccepted: nil},
		{name: "second chunk", recipients: 1500, pass: 1, wantAccepted: seq(0, 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			g := newGatedServer(t, f, tt.pass)
			s, sl := newSender(t, f, senderOpts{baseURL: g.URL})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				select {
				case <-g.entered:
					cancel()
				case <-ctx.Done():
				}
			}()
			res, err := s.Send(ctx, newMessage(tt.recipients))
			if err == nil {
				t.Fatalf("Send() error = nil, want ErrUncertain")
			}
			if !errors.Is(err, email.ErrUncertain) {
				t.Errorf("Send() error = %v, want it to wrap ErrUncertain", err)
			}
			if email.ErrIsPermanent(err) {
				t.Errorf("Send() error = %v, want not ErrPermanent", err)
			}
			if got := sorted(res.Accepted); !slices.Equal(got, tt.wantAccepted) {
				t.Errorf("Result.Accepted = %v, want %v", abbrev(got), abbrev(tt.wantAccepted))
			}
			if got := int(g.count.Load()); got != tt.pass+1 {
				t.Errorf("server saw %d requests, want %d (no retry after the cut-off)", got, tt.pass+1)
			}
			if got := sl.got(); len(got) != 0 {
				t.Errorf("slept %v, want no sleeps", got)
			}
		})
	}
}

// A request that never left cannot have been accepted: it must not be
// reported as uncertain (app/restock would then never send those messages).
func TestSendGridCancelledBeforeSending(t *testing.T) {
	t.Parallel()
	f := newFakeSendGrid(t)
	s, _ := newSender(t, f, senderOpts{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := s.Send(ctx, newMessage(3))
	if got := f.Attempts(); got != 0 {
		t.Fatalf("fake saw %d requests, want 0", got)
	}
	if !errors.Is(err, context.Canceled) || errors.Is(err, email.ErrUncertain) {
		t.Errorf("Send() error = %v, want context.Canceled and not ErrUncertain", err)
	}
	if len(res.Accepted) != 0 {
		t.Errorf("Result.Accepted = %v, want none", res.Accepted)
	}
}

// A client timeout cuts a request off in flight just as a cancelled context
// does: SendGrid may have queued it. Retrying can deliver it twice.
func TestSendGridTimeoutAfterAcceptIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFakeSendGrid(t)
	var count atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) == 1 {
			// The fake accepts the mail, but the answer never arrives.
			f.ServeHTTP(httptest.NewRecorder(), r)
			<-r.Context().Done()
			return
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s, _ := newSender(t, f, senderOpts{baseURL: srv.URL, timeout: 200 * time.Millisecond})
	m := newMessage(2)
	_, err := s.Send(t.Context(), m)
	if !errors.Is(err, email.ErrUncertain) {
		t.Errorf("Send() error = %v, want ErrUncertain", err)
	}
	if got := f.RecipientCount(); got != 2 {
		t.Errorf("fake delivered %d mails to 2 recipients, want 2 (each once)", got)
	}
}

// A refused connection never reached SendGrid: retrying is safe, and giving
// up is neither permanent nor uncertain.
func TestSendGridConnectionRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		maxAttempts int
	}{
		{name: "one attempt", maxAttempts: 1},
		{name: "three attempts", maxAttempts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			closed := httptest.NewServer(http.NotFoundHandler())
			closed.Close()
			s, sl := newSender(t, f, senderOpts{baseURL: closed.URL, maxAttempts: tt.maxAttempts})
			res, err := s.Send(t.Context(), newMessage(3))
			if err == nil {
				t.Fatalf("Send() error = nil, want one")
			}
			if email.ErrIsPermanent(err) || errors.Is(err, email.ErrUncertain) {
				t.Errorf("Send() error = %v, want neither ErrPermanent nor ErrUncertain", err)
			}
			if res.Requests != tt.maxAttempts {
				t.Errorf("Result.Requests = %d, want %d", res.Requests, tt.maxAttempts)
			}
			waits := sl.got()
			if len(waits) != tt.maxAttempts-1 {
				t.Fatalf("slept %v, want %d waits", waits, tt.maxAttempts-1)
			}
			for i, w := range waits {
				if lo, hi := backoffRange(i + 1); w < lo || w > hi {
					t.Errorf("wait %d = %v, want within [%v, %v]", i+1, w, lo, hi)
				}
			}
			if len(res.Accepted) != 0 {
				t.Errorf("Result.Accepted = %v, want none", res.Accepted)
			}
		})
	}
}

// Shutting down while waiting to retry: the failed request was answered,
// so nothing is uncertain and the caller may send again later.
func TestSendGridCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
	}{
		{name: "429", status: http.StatusTooManyRequests},
		{name: "500", status: http.StatusInternalServerError},
		{name: "503", status: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSendGrid(t)
			f.FailNext(tt.status, "", nil)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var slept atomic.Int32
			s := email.NewSendGrid(email.SendGridConfig{
				APIKey:  sgKey,
				BaseURL: f.URL,
				NowFunc: func() time.Time { return sgNow },
				SleepFunc: func(ctx context.Context, _ time.Duration) error {
					slept.Add(1)
					cancel()
					return ctx.Err()
				},
			})
			res, err := s.Send(ctx, newMessage(3))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Send() error = %v, want context.Canceled", err)
			}
			if errors.Is(err, email.ErrUncertain) || email.ErrIsPermanent(err) {
				t.Errorf("Send() error = %v, want neither ErrUncertain nor ErrPermanent", err)
			}
			if got := slept.Load(); got != 1 {
				t.Errorf("SleepFunc called %d times, want 1", got)
			}
			if got := f.Attempts(); got != 1 {
				t.Errorf("fake saw %d requests, want 1", got)
			}
			if len(res.Accepted) != 0 || len(f.Requests()) != 0 {
				t.Errorf("accepted %v, want nothing", res.Accepted)
			}
		})
	}
}
