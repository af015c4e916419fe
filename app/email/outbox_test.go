package email_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/email"
)

var outboxNow = time.Date(2025, 3, 14, 12, 30, 45, 123456789, time.UTC)

func newOutbox(t *testing.T, now time.Time) *email.Outbox {
	t.Helper()
	o := email.NewOutbox(filepath.Join(t.TempDir(), "outbox"))
	o.NowFunc = func() time.Time { return now }
	return o
}

func jsonFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read outbox dir: %v", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestOutboxSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		recipients int
		subject    string
	}{
		{name: "one recipient", recipients: 1, subject: "Back in stock"},
		{name: "three recipients", recipients: 3, subject: "Back in stock"},
		{name: "key in subject", recipients: 2, subject: "Your link: " + keyClick},
		{name: "no recipients", recipients: 0, subject: "Back in stock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOutbox(t, outboxNow.In(time.FixedZone("CET", 3600)))
			m := newMessage(tt.recipients)
			m.Subject = tt.subject
			res, err := o.Send(t.Context(), m)
			if err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			if got, want := res.Accepted, seq(0, tt.recipients); !slices.Equal(got, want) {
				t.Errorf("Result.Accepted = %v, want %v", got, want)
			}
			if len(res.Rejected) != 0 {
				t.Errorf("Result.Rejected = %v, want none", res.Rejected)
			}
			files := jsonFiles(t, o.Dir)
			if len(files) != tt.recipients {
				t.Fatalf("outbox has %d files %v, want %d (one per recipient)", len(files), files, tt.recipients)
			}
			byTo := map[string]string{}
			for _, name := range files {
				b, err := os.ReadFile(filepath.Join(o.Dir, name))
				if err != nil {
					t.Fatal(err)
				}
				var raw map[string]any
				if err := json.Unmarshal(b, &raw); err != nil {
					t.Fatalf("%s is not JSON: %v", name, err)
				}
				to, _ := raw["to"].(string)
				if _, dup := byTo[to]; dup {
					t.Errorf("two files for %s", to)
				}
				byTo[to] = name
			}
			for i, r := range m.Recipients {
				name, ok := byTo[r.Email]
				if !ok {
					t.Errorf("no file for recipient %d (%s)", i, r.Email)
					continue
				}
				if want := "outbox-" + strings.TrimSuffix(name, ".json"); res.ProviderIDs[i] != want {
					t.Errorf("ProviderIDs[%d] = %q, want %q", i, res.ProviderIDs[i], want)
				}
				got, err := o.Read(name)
				if err != nil {
					t.Fatalf("Read(%q) error = %v", name, err)
				}
				want := email.OutboxEmail{
					File:       name,
					To:         r.Email,
					From:       m.From.Email,
					Subject:    strings.ReplaceAll(tt.subject, keyClick, clickURL(i)),
					Text:       "Shop now: " + clickURL(i) + "\nUnsubscribe: " + unsubURL(i) + "\n",
					HTML:       `<p>Back & <b>ready</b></p><a href="` + clickURL(i) + `">Shop now</a> <a href="` + unsubURL(i) + `">Unsubscribe</a>`,
					Headers:    r.Headers,
					CustomArgs: r.CustomArgs,
					SentAt:     outboxNow,
				}
				if got.File != want.File || got.To != want.To || got.From != want.From || got.Subject != want.Subject ||
					got.Text != want.Text || got.HTML != want.HTML || !got.SentAt.Equal(want.SentAt) ||
					!mapsEqual(got.Headers, want.Headers) || !mapsEqual(got.CustomArgs, want.CustomArgs) {
					t.Errorf("Read(%q) =\n%+v\nwant\n%+v", name, got, want)
				}
				if got.SentAt.Location() != time.UTC {
					t.Errorf("SentAt = %v, want UTC", got.SentAt)
				}
				for _, key := range []string{keyClick, keyUnsub} {
					if strings.Contains(got.Subject+got.Text+got.HTML, key) {
						t.Errorf("recipient %d still has substitution key %s", i, key)
					}
				}
			}
		})
	}
}

func TestOutboxListNewestFirst(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		sends []time.Duration // send times after t0, in sending order
	}{
		{name: "in order", sends: []time.Duration{0, time.Second, time.Hour}},
		{name: "out of order", sends: []time.Duration{time.Hour, 0, time.Minute}},
		{name: "nanoseconds apart", sends: []time.Duration{0, 1, 2}},
		{name: "same instant", sends: []time.Duration{0, 0, 0}},
		{name: "across years", sends: []time.Duration{-400 * 24 * time.Hour, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOutbox(t, t0)
			type sent struct {
				at   time.Time
				n    int // order of sending
				to   string
				subj string
			}
			var all []sent
			n := 0
			for k, d := range tt.sends {
				at := t0.Add(d)
				o.NowFunc = func() time.Time { return at }
				m := newMessage(2)
				m.Subject = fmt.Sprintf("send %d", k)
				if _, err := o.Send(t.Context(), m); err != nil {
					t.Fatalf("Send() error = %v", err)
				}
				for _, r := range m.Recipients {
					n++
					all = append(all, sent{at: at, n: n, to: r.Email, subj: m.Subject})
				}
			}
			// Newest first; at the same instant, the last written first.
			slices.SortStableFunc(all, func(a, b sent) int {
				if c := b.at.Compare(a.at); c != 0 {
					return c
				}
				return b.n - a.n
			})
			// Noise List must ignore.
			if err := os.WriteFile(filepath.Join(o.Dir, "notes.txt"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(o.Dir, "sub.json"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(o.Dir, "99999999-broken.json"), []byte("{not json"), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := o.List()
			if err != nil {
				t.Fatalf("List() error = %v", err)
			}
			if len(got) != len(all) {
				t.Fatalf("List() returned %d emails, want %d", len(got), len(all))
			}
			for i := range all {
				if got[i].Subject != all[i].subj || got[i].To != all[i].to || !got[i].SentAt.Equal(all[i].at) {
					t.Errorf("List()[%d] = %s to %s at %v, want %s to %s at %v",
						i, got[i].Subject, got[i].To, got[i].SentAt, all[i].subj, all[i].to, all[i].at)
				}
				if got[i].File == "" {
					t.Errorf("List()[%d].File is empty", i)
				}
			}
		})
	}
}

func TestOutboxListMissingDir(t *testing.T) {
	t.Parallel()
	o := email.NewOutbox(filepath.Join(t.TempDir(), "never-created"))
	got, err := o.List()
	if err != nil || len(got) != 0 {
		t.Errorf("List() = %v, %v; want nothing, nil", got, err)
	}
}

func TestOutboxReadRejectsPaths(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	o := email.NewOutbox(filepath.Join(root, "outbox"))
	o.NowFunc = func() time.Time { return outboxNow }
	if _, err := o.Send(t.Context(), newMessage(1)); err != nil {
		t.Fatal(err)
	}
	// Valid emails behind each bad name, so a refusal is not just "not found".
	valid, err := os.ReadFile(filepath.Join(o.Dir, jsonFiles(t, o.Dir)[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"x.json", "outbox/a/b.json", "outbox/x.txt", "outbox/a/.json"} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, valid, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []string{
		"../x.json",
		"a/b.json",
		"x.txt",
		"",
		"..",
		".",
		"a/../../x.json",
		"./a/b.json",
		filepath.Join(root, "x.json"),
		"x.json/",
		"x.JSON.txt",
	}
	for _, name := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := o.Read(name)
			if err == nil {
				t.Fatalf("Read(%q) = %+v, nil; want an error", name, got)
			}
			if !strings.Contains(err.Error(), "bad outbox name") {
				t.Errorf("Read(%q) error = %v, want a bad outbox name error", name, err)
			}
		})
	}
}

func TestRecipientApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		subs map[string]string
		in   string
		want string
	}{
		{name: "no substitutions", subs: nil, in: "a -x- b", want: "a -x- b"},
		{name: "one key", subs: map[string]string{"-x-": "1"}, in: "a -x- b", want: "a 1 b"},
		{name: "key repeated", subs: map[string]string{"-x-": "1"}, in: "-x--x- -x-", want: "11 1"},
		{name: "two keys", subs: map[string]string{keyClick: "C", keyUnsub: "U"}, in: keyClick + "|" + keyUnsub, want: "C|U"},
		{name: "values are not rescanned", subs: map[string]string{"-a-": "-b-", "-b-": "B"}, in: "-a- -b-", want: "-b- B"},
		{name: "absent key", subs: map[string]string{"-x-": "1"}, in: "nothing", want: "nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (email.Recipient{Substitutions: tt.subs}).Apply(tt.in); got != tt.want {
				t.Errorf("Apply(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// When one key is a prefix of another, the outbox must still be
// deterministic; the SendGrid fake replaces the longest key first.
func TestRecipientApplyOverlappingKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		subs map[string]string
		in   string
		want string
	}{
		{name: "prefix key", subs: map[string]string{"-url-": "A", "-url-2-": "B"}, in: "-url-2- -url-", want: "B A"},
		{name: "percent keys", subs: map[string]string{"%name%": "Ana", "%name%_full%": "Ana Lima"}, in: "%name%_full% %name%", want: "Ana Lima Ana"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i := range 50 {
				r := email.Recipient{Substitutions: map[string]string{}}
				for k, v := range tt.subs { // a fresh map each time
					r.Substitutions[k] = v
				}
				if got := r.Apply(tt.in); got != tt.want {
					t.Fatalf("run %d: Apply(%q) = %q, want %q", i, tt.in, got, tt.want)
				}
			}
		})
	}
}
