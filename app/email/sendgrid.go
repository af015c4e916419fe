package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// MaxRecipientsPerRequest is SendGrid's cap on personalizations (and on
// recipients) in one mail/send request.
const MaxRecipientsPerRequest = 1000

// SendGridConfig configures the SendGrid sender.
type SendGridConfig struct {
	APIKey  string
	BaseURL string // default https://api.sendgrid.com
	// Timeout bounds one HTTP request (default 30 s).
	Timeout time.Duration
	// MaxAttempts bounds tries of one request on 429/5xx (default 6).
	MaxAttempts int
	// SleepFunc waits between attempts; tests replace it. Default honours ctx.
	SleepFunc func(ctx context.Context, d time.Duration) error
	NowFunc   func() time.Time
	Logger    *slog.Logger
}

// SendGrid sends through SendGrid's v3 Mail Send API with the official
// client, checking every status code itself: sendgrid-go reports 4xx and
// 5xx as successful calls.
type SendGrid struct {
	cfg    SendGridConfig
	client *rest.Client
}

// NewSendGrid builds the sender.
func NewSendGrid(cfg SendGridConfig) *SendGrid {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.sendgrid.com"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.SleepFunc == nil {
		cfg.SleepFunc = sleepCtx
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &SendGrid{cfg: cfg, client: &rest.Client{HTTPClient: &http.Client{Timeout: cfg.Timeout}}}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Send delivers m in requests of up to 1000 recipients. A recipient that
// SendGrid refuses by name is dropped and the rest are sent again; 429 and
// 5xx are retried with backoff. An error means some recipients were
// neither accepted nor rejected; Result still reports those that were.
func (s *SendGrid) Send(ctx context.Context, m *Message) (Result, error) {
	res := Result{Rejected: map[int]string{}, ProviderIDs: map[int]string{}}
	for start := 0; start < len(m.Recipients); start += MaxRecipientsPerRequest {
		end := min(start+MaxRecipientsPerRequest, len(m.Recipients))
		idx := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			idx = append(idx, i)
		}
		if err := s.sendChunk(ctx, m, idx, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

var recipientField = regexp.MustCompile(`^personalizations\.(\d+)\.(?:to|cc|bcc)\.\d+\.email$|^personalizations\.(\d+)\.(?:to|cc|bcc)(?:\.\d+)?$`)

type sgErrors struct {
	Errors []struct {
		Message string  `json:"message"`
		Field   *string `json:"field"`
	} `json:"errors"`
}

// sendChunk sends the recipients idx (indexes into m.Recipients) in one
// request, retrying and dropping refused recipients as SendGrid asks.
func (s *SendGrid) sendChunk(ctx context.Context, m *Message, idx []int, res *Result) error {
	attempt := 0
	for len(idx) > 0 {
		attempt++
		body, err := s.body(m, idx)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // nothing left: safe to try again later
		}
		req := sendgrid.GetRequest(s.cfg.APIKey, "/v3/mail/send", s.cfg.BaseURL)
		req.Method = rest.Post
		req.Body = body
		res.Requests++
		resp, err := s.client.SendWithContext(ctx, req)
		if err != nil {
			// SendGrid has no idempotency key: once a request may have
			// reached it (a timeout, a connection cut after writing), sending
			// again could deliver twice, so only failures to connect retry.
			if !neverSent(err) {
				return fmt.Errorf("%w: send to sendgrid cut off: %v", ErrUncertain, err)
			}
			if attempt >= s.cfg.MaxAttempts {
				return fmt.Errorf("send to sendgrid: %w", err)
			}
			if err := s.cfg.SleepFunc(ctx, backoff(attempt)); err != nil {
				return err
			}
			continue
		}
		switch code := resp.StatusCode; {
		case code == http.StatusAccepted || code == http.StatusOK:
			id := http.Header(resp.Headers).Get("X-Message-Id")
			for _, i := range idx {
				res.Accepted = append(res.Accepted, i)
				res.ProviderIDs[i] = id
			}
			return nil
		case code == http.StatusTooManyRequests || code >= 500:
			if attempt >= s.cfg.MaxAttempts {
				return fmt.Errorf("sendgrid answered %d after %d attempts: %s", code, attempt, trim(resp.Body))
			}
			wait := backoff(attempt)
			if code == http.StatusTooManyRequests {
				wait = s.resetWait(http.Header(resp.Headers), attempt)
			}
			s.cfg.Logger.Warn("sendgrid retry", "status", code, "attempt", attempt, "wait_ms", wait.Milliseconds())
			if err := s.cfg.SleepFunc(ctx, wait); err != nil {
				return err
			}
		case code == http.StatusBadRequest:
			var e sgErrors
			_ = json.Unmarshal([]byte(resp.Body), &e)
			drop := map[int]string{}
			other := ""
			for _, item := range e.Errors {
				if item.Field != nil {
					if mm := recipientField.FindStringSubmatch(*item.Field); mm != nil {
						p := mm[1]
						if p == "" {
							p = mm[2]
						}
						n, _ := strconv.Atoi(p)
						if n < len(idx) {
							drop[n] = item.Message
							continue
						}
					}
				}
				other = item.Message
				if item.Field != nil {
					other = *item.Field + ": " + other
				}
			}
			if len(drop) == 0 || other != "" {
				if other == "" {
					other = trim(resp.Body)
				}
				return fmt.Errorf("%w: sendgrid refused the request (400): %s", ErrPermanent, other)
			}
			kept := idx[:0:0]
			for n, i := range idx {
				if reason, bad := drop[n]; bad {
					res.Rejected[i] = reason
					continue
				}
				kept = append(kept, i)
			}
			idx = kept
		default:
			return fmt.Errorf("%w: sendgrid answered %d: %s", ErrPermanent, code, trim(resp.Body))
		}
	}
	return nil
}

// neverSent reports whether a transport error happened before the request
// could reach SendGrid: the connection was never made.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

// resetWait honours X-RateLimit-Reset (unix seconds), bounded to a minute.
func (s *SendGrid) resetWait(h http.Header, attempt int) time.Duration {
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			d := time.Until(time.Unix(sec, 0))
			if s.cfg.NowFunc != nil {
				d = time.Unix(sec, 0).Sub(s.cfg.NowFunc())
			}
			if d > 0 && d <= time.Minute {
				return d
			}
			if d > time.Minute {
				return time.Minute
			}
		}
	}
	return backoff(attempt)
}

func backoff(attempt int) time.Duration {
	base := time.Duration(1<<min(attempt-1, 6)) * 500 * time.Millisecond
	return base/2 + time.Duration(rand.Int64N(int64(base/2)+1))
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func (s *SendGrid) body(m *Message, idx []int) ([]byte, error) {
	v := mail.NewV3Mail()
	v.SetFrom(mail.NewEmail(m.From.Name, m.From.Email))
	if m.ReplyTo != nil && m.ReplyTo.Email != "" {
		v.SetReplyTo(mail.NewEmail(m.ReplyTo.Name, m.ReplyTo.Email))
	}
	v.Subject = m.Subject
	if m.Text != "" {
		v.AddContent(mail.NewContent("text/plain", m.Text))
	}
	if m.HTML != "" {
		v.AddContent(mail.NewContent("text/html", m.HTML))
	}
	if len(m.Categories) > 0 {
		v.AddCategories(m.Categories...)
	}
	// Our own unsubscribe links and headers; SendGrid's would compete.
	ts := mail.NewTrackingSettings()
	ts.SetSubscriptionTracking(mail.NewSubscriptionTrackingSetting().SetEnable(false))
	v.SetTrackingSettings(ts)
	for _, i := range idx {
		r := m.Recipients[i]
		p := mail.NewPersonalization()
		p.AddTos(mail.NewEmail("", r.Email))
		for k, val := range r.Substitutions {
			p.SetSubstitution(k, val)
		}
		for k, val := range r.Headers {
			p.SetHeader(k, val)
		}
		for k, val := range r.CustomArgs {
			p.SetCustomArg(k, val)
		}
		v.AddPersonalizations(p)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode mail: %w", err)
	}
	return b, nil
}

// ErrIsPermanent reports whether err should not be retried.
func ErrIsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
