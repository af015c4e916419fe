package email

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Outbox is the development sender: every email is written, with each
// recipient's substitutions applied, as a JSON file in Dir.
type Outbox struct {
	Dir     string
	NowFunc func() time.Time
	seq     atomic.Int64
}

// OutboxEmail is one email as the outbox stores it.
type OutboxEmail struct {
	File       string            `json:"-"`
	To         string            `json:"to"`
	From       string            `json:"from"`
	FromName   string            `json:"from_name,omitempty"`
	ReplyTo    string            `json:"reply_to,omitempty"`
	Subject    string            `json:"subject"`
	Text       string            `json:"text"`
	HTML       string            `json:"html"`
	Headers    map[string]string `json:"headers"`
	CustomArgs map[string]string `json:"custom_args"`
	SentAt     time.Time         `json:"sent_at"`
}

// NewOutbox makes an outbox sender writing to dir.
func NewOutbox(dir string) *Outbox { return &Outbox{Dir: dir, NowFunc: time.Now} }

// Send writes one file per recipient.
func (o *Outbox) Send(ctx context.Context, m *Message) (Result, error) {
	res := Result{Rejected: map[int]string{}, ProviderIDs: map[int]string{}, Requests: 1}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return res, fmt.Errorf("create outbox: %w", err)
	}
	now := o.NowFunc().UTC()
	for i, r := range m.Recipients {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		e := OutboxEmail{To: r.Email, From: m.From.Email, FromName: m.From.Name, Subject: r.Apply(m.Subject), Text: r.Apply(m.Text), HTML: r.Apply(m.HTML),
			Headers: r.Headers, CustomArgs: r.CustomArgs, SentAt: now}
		if m.ReplyTo != nil {
			e.ReplyTo = m.ReplyTo.Email
		}
		b, err := json.MarshalIndent(e, "", "  ")
		if err != nil {
			return res, err
		}
		name := fmt.Sprintf("%s-%06d.json", now.Format("20060102T150405.000000000Z"), o.seq.Add(1))
		if err := os.WriteFile(filepath.Join(o.Dir, name), b, 0o644); err != nil {
			return res, fmt.Errorf("write outbox email: %w", err)
		}
		res.Accepted = append(res.Accepted, i)
		res.ProviderIDs[i] = "outbox-" + strings.TrimSuffix(name, ".json")
	}
	return res, nil
}

// List reads the outbox, newest first.
func (o *Outbox) List() ([]OutboxEmail, error) {
	entries, err := os.ReadDir(o.Dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []OutboxEmail
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		em, err := o.Read(e.Name())
		if err != nil {
			continue
		}
		out = append(out, em)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File > out[j].File })
	return out, nil
}

// Read loads one outbox email by file name (no paths).
func (o *Outbox) Read(name string) (OutboxEmail, error) {
	if name != filepath.Base(name) || !strings.HasSuffix(name, ".json") {
		return OutboxEmail{}, fmt.Errorf("bad outbox name %q", name)
	}
	b, err := os.ReadFile(filepath.Join(o.Dir, name))
	if err != nil {
		return OutboxEmail{}, err
	}
	var em OutboxEmail
	if err := json.Unmarshal(b, &em); err != nil {
		return OutboxEmail{}, err
	}
	em.File = name
	return em, nil
}
