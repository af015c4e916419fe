package fake_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
	"github.com/stretchr/testify/require"

	"github.com/restockrelay/restockrelay/app/fake"
)

const (
	testKey      = "SG.fake-test-key"
	testdataDir  = "../apptest/testdata/sendgrid/"
	validBaseDoc = `{
	  "personalizations": [{"to": [{"email": "ana@example.com", "name": "Ana"}]}],
	  "from": {"email": "alerts@shop.example", "name": "Shop"},
	  "subject": "Back in stock",
	  "content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}]
	}`
)

var messageIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func newSendGrid(t testing.TB) *fake.SendGrid {
	t.Helper()
	f := fake.NewSendGrid(testKey)
	t.Cleanup(f.Close)
	return f
}

// mailRequest is the request the real client builds for the fake.
func mailRequest(f *fake.SendGrid, body []byte) rest.Request {
	req := sendgrid.GetRequest(f.APIKey, "/v3/mail/send", f.URL)
	req.Method = rest.Post
	req.Body = body
	return req
}

func send(ctx context.Context, f *fake.SendGrid, body []byte, mod func(*rest.Request)) (*rest.Response, error) {
	req := mailRequest(f, body)
	if mod != nil {
		mod(&req)
	}
	resp, err := sendgrid.MakeRequestWithContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("send to fake: %w", err)
	}
	return resp, nil
}

func mustSend(t *testing.T, f *fake.SendGrid, body []byte, mod func(*rest.Request)) *rest.Response {
	t.Helper()
	resp, err := send(t.Context(), f, body, mod)
	require.NoError(t, err)
	return resp
}

func decodeErrors(t *testing.T, resp *rest.Response) fake.ErrorResponse {
	t.Helper()
	require.Equal(t, "application/json", http.Header(resp.Headers).Get("Content-Type"))
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &raw), resp.Body)
	require.Contains(t, raw, "errors")
	var er fake.ErrorResponse
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &er))
	require.NotEmpty(t, er.Errors)
	return er
}

func requireError(t *testing.T, resp *rest.Response, field, message string) {
	t.Helper()
	for _, e := range decodeErrors(t, resp).Errors {
		if e.Field == field && strings.Contains(e.Message, message) {
			return
		}
	}
	require.Failf(t, "error not found", "want field %q with message containing %q in %s", field, message, resp.Body)
}

func baseDoc(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(validBaseDoc), &m))
	return m
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func pers(m map[string]any, i int) map[string]any {
	return m["personalizations"].([]any)[i].(map[string]any)
}

func addrs(prefix string, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"email": fmt.Sprintf("%s%d@example.com", prefix, i)}
	}
	return out
}

func personalizations(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"to": []any{map[string]any{"email": fmt.Sprintf("r%d@example.com", i)}}}
	}
	return out
}

// rawDoc replaces old with new in the valid base document, for bodies the
// map builder cannot express (duplicate keys, exact literals).
func rawDoc(old, new string) []byte {
	if !strings.Contains(validBaseDoc, old) {
		panic("rawDoc: " + old + " not in base document")
	}
	return []byte(strings.Replace(validBaseDoc, old, new, 1))
}

func TestSendGridHappyPathWithRealClient(t *testing.T) {
	f := newSendGrid(t)

	type recipient struct{ name, email, unsub, id string }
	recipients := []recipient{
		{"Ana", "ana.fake@example.com", "https://bis.example.app/u/tok_ana?s=1&v=2", "sub_1"},
		{"Ben", "ben.fake@example.net", "https://bis.example.app/u/tok_ben?s=1&v=3", "sub_2"},
	}
	m := mail.NewV3Mail()
	m.SetFrom(mail.NewEmail("Acme Outdoors", "alerts@mail.acme-outdoors.example"))
	m.Subject = "Back in stock for -first_name-"
	m.AddContent(
		mail.NewContent("text/plain", "Hi -first_name-, stop: -unsubscribe_url-"),
		mail.NewContent("text/html", `<p>Hi -first_name-</p><a href="-unsubscribe_url-">Stop</a>`),
	)
	m.AddCategories("back-in-stock", "restock")
	m.SetCustomArg("shop", "acme-outdoors.myshopify.com")
	m.SetCustomArg("step", "message-level")
	m.SetHeader("X-Campaign", "restock")
	m.SetTrackingSettings(mail.NewTrackingSettings().
		SetSubscriptionTracking(mail.NewSubscriptionTrackingSetting().SetEnable(false)).
		SetClickTracking(mail.NewClickTrackingSetting().SetEnable(true).SetEnableText(false)))
	for _, r := range recipients {
		p := mail.NewPersonalization()
		p.AddTos(mail.NewEmail(r.name, r.email))
		p.SetSubstitution("-first_name-", r.name)
		p.SetSubstitution("-unsubscribe_url-", r.unsub)
		p.SetHeader("List-Unsubscribe", "<"+r.unsub+">")
		p.SetHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
		p.SetCustomArg("subscription_id", r.id)
		p.SetCustomArg("step", "restock")
		m.AddPersonalizations(p)
	}

	req := mailRequest(f, nil)
	client := &sendgrid.Client{Request: req}
	resp, err := client.SendWithContext(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)
	require.Empty(t, resp.Body)
	msgID := http.Header(resp.Headers).Get("X-Message-Id")
	require.Regexp(t, messageIDPattern, msgID)

	require.Equal(t, 1, f.Attempts())
	reqs := f.Requests()
	require.Len(t, reqs, 1)
	got := reqs[0]
	require.Equal(t, msgID, got.MessageID)
	require.False(t, got.Sandbox)
	require.Equal(t, 2, got.ToCount)
	require.Equal(t, "Bearer "+testKey, got.Header.Get("Authorization"))
	require.Equal(t, "sendgrid/"+sendgrid.Version+";go", got.Header.Get("User-Agent"))
	require.Contains(t, string(got.Raw), `\u0026`, "json.Marshal escapes & in the raw body")
	require.Equal(t, "alerts@mail.acme-outdoors.example", got.Body.From.Email)
	require.Equal(t, []string{"back-in-stock", "restock"}, got.Body.Categories)
	require.NotNil(t, got.Body.TrackingSettings)
	require.False(t, got.Body.TrackingSettings.SubscriptionTracking.Enable)
	require.True(t, got.Body.TrackingSettings.ClickTracking.Enable)

	deliveries := f.Recipients()
	require.Len(t, deliveries, 2)
	require.Equal(t, 2, f.RecipientCount())
	for i, r := range recipients {
		d := deliveries[i]
		require.Equal(t, msgID, d.MessageID)
		require.Equal(t, i, d.Personalization)
		require.Equal(t, r.email, d.To)
		require.Equal(t, r.name, d.Name)
		require.Equal(t, "alerts@mail.acme-outdoors.example", d.From)
		require.Equal(t, "Back in stock for "+r.name, d.Subject)
		require.Equal(t, "Hi "+r.name+", stop: "+r.unsub, d.Text)
		require.Equal(t, `<p>Hi `+r.name+`</p><a href="`+r.unsub+`">Stop</a>`, d.HTML)
		require.Equal(t, map[string]string{
			"X-Campaign":            "restock",
			"List-Unsubscribe":      "<" + r.unsub + ">",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		}, d.Headers)
		require.Equal(t, map[string]string{
			"shop":            "acme-outdoors.myshopify.com",
			"subscription_id": r.id,
			"step":            "restock",
		}, d.CustomArgs)
		require.Equal(t, []string{"back-in-stock", "restock"}, d.Categories)
	}
}

func TestSendGridGzipBody(t *testing.T) {
	f := newSendGrid(t)
	req := mailRequest(f, nil)
	req.Headers["Content-Encoding"] = "gzip"
	client := &sendgrid.Client{Request: req}
	m := mail.NewSingleEmail(mail.NewEmail("Shop", "alerts@shop.example"), "Hello",
		mail.NewEmail("Ana", "ana@example.com"), "plain", "<p>html</p>")
	resp, err := client.SendWithContext(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)
	require.Equal(t, "plain", f.Recipients()[0].Text)
}

func TestSendGridFixtureExampleAccepted(t *testing.T) {
	f := newSendGrid(t)
	body, err := os.ReadFile(testdataDir + "mail_send_example.json")
	require.NoError(t, err)
	resp := mustSend(t, f, body, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)

	ds := f.Recipients()
	require.Len(t, ds, 3)
	require.Equal(t, "ana.fake@example.com", ds[0].To)
	require.Contains(t, ds[0].Text, "Hi Ana,")
	require.Contains(t, ds[0].Text, "Trail Runner Jacket (Blue / M)")
	require.Contains(t, ds[1].HTML, `<a href="https://bis.example.app/u/tok_ben_19b2e0">Stop these alerts</a>`)
	require.Equal(t, "<https://bis.example.app/u/tok_chidi_c40d11>", ds[2].Headers["List-Unsubscribe"])
	require.Equal(t, "sub_000103", ds[2].CustomArgs["subscription_id"])
	require.Equal(t, "Back in stock: Trail Runner Jacket", ds[2].Subject)
	require.Equal(t, "support@acme-outdoors.example", f.Requests()[0].Body.ReplyTo.Email)
}

// TestSendGridFixtureError400 checks the fake answers exactly the recorded
// SendGrid error body for a bad address plus misordered content.
func TestSendGridFixtureError400(t *testing.T) {
	f := newSendGrid(t)
	body, err := os.ReadFile(testdataDir + "mail_send_example.json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(body, &doc))
	pers(doc, 1)["to"] = []any{map[string]any{"email": "ben.fake(at)example.net"}}
	content := doc["content"].([]any)
	content[0], content[1] = content[1], content[0]

	resp := mustSend(t, f, marshal(t, doc), nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	want, err := os.ReadFile(testdataDir + "mail_send_error_400.json")
	require.NoError(t, err)
	var wantErrs fake.ErrorResponse
	require.NoError(t, json.Unmarshal(want, &wantErrs))
	require.Equal(t, wantErrs, decodeErrors(t, resp))
	require.Contains(t, resp.Body, `"help":null`, "empty help is encoded as null")
	require.Empty(t, f.Requests())
	require.Empty(t, f.Recipients())
}

func TestSendGridRules(t *testing.T) {
	now := time.Date(2025, 12, 3, 12, 0, 0, 0, time.UTC)
	long := func(n int) string { return strings.Repeat("x", n) }
	fixedClock := func(f *fake.SendGrid) { f.NowFunc = func() time.Time { return now } }

	tests := []struct {
		name    string
		mutate  func(m map[string]any) // applied to the valid base document
		raw     []byte                 // used as the body instead, when set
		setup   func(f *fake.SendGrid)
		req     func(r *rest.Request)
		status  int
		field   string
		message string
	}{
		{name: "valid base document", status: http.StatusAccepted},

		// HTTP level.
		{name: "wrong api key", req: func(r *rest.Request) { r.Headers["Authorization"] = "Bearer SG.other" },
			status: http.StatusUnauthorized, message: fake.MessageUnauthorized},
		{name: "missing api key", req: func(r *rest.Request) { delete(r.Headers, "Authorization") },
			status: http.StatusUnauthorized, message: "authorization grant is invalid"},
		{name: "wrong path", req: func(r *rest.Request) { r.BaseURL += "/extra" },
			status: http.StatusNotFound, message: "resource not found"},
		{name: "wrong method", req: func(r *rest.Request) { r.Method = rest.Put },
			status: http.StatusMethodNotAllowed, message: "method not allowed"},
		{name: "not json content type", req: func(r *rest.Request) { r.Headers["Content-Type"] = "text/plain" },
			status: http.StatusUnsupportedMediaType, message: "Content-Type should be application/json."},
		{name: "invalid utf-8", raw: rawDoc(`"Back in stock"`, "\"Back in \xff stock\""),
			status: http.StatusUnsupportedMediaType, message: "Invalid UTF8 in request"},
		{name: "body over 30 MB", mutate: func(m map[string]any) {
			m["content"] = []any{map[string]any{"type": "text/plain", "value": long(fake.MaxMessageBytes)}}
		}, status: http.StatusRequestEntityTooLarge, message: "too large"},
		{name: "malformed json", raw: []byte(`{"personalizations": [`), status: http.StatusBadRequest, message: "Bad Request"},
		{name: "json array body", raw: []byte(`[]`), status: http.StatusBadRequest, message: "Bad Request"},

		// Personalizations and recipients.
		{name: "personalizations missing", mutate: func(m map[string]any) { delete(m, "personalizations") },
			status: http.StatusBadRequest, field: "personalizations", message: "is required"},
		{name: "personalizations empty", mutate: func(m map[string]any) { m["personalizations"] = []any{} },
			status: http.StatusBadRequest, field: "personalizations", message: "at least one personalization"},
		{name: "personalizations not an array", mutate: func(m map[string]any) { m["personalizations"] = "x" },
			status: http.StatusBadRequest, field: "personalizations", message: "Invalid type"},
		{name: "to missing", mutate: func(m map[string]any) { delete(pers(m, 0), "to") },
			status: http.StatusBadRequest, field: "personalizations.0.to", message: "to array is required"},
		{name: "to empty", mutate: func(m map[string]any) { pers(m, 0)["to"] = []any{} },
			status: http.StatusBadRequest, field: "personalizations.0.to", message: "to array is required"},
		{name: "more than 1000 recipients", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = addrs("to", 600)
			pers(m, 0)["bcc"] = addrs("bcc", 401)
		}, status: http.StatusBadRequest, field: "personalizations", message: "limit of 1000 total recipients"},
		{name: "exactly 1000 recipients", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = addrs("to", 500)
			pers(m, 0)["cc"] = addrs("cc", 500)
		}, status: http.StatusAccepted},
		{name: "duplicate address across to and cc, any case", mutate: func(m map[string]any) {
			pers(m, 0)["cc"] = []any{map[string]any{"email": "ANA@Example.com"}}
		}, status: http.StatusBadRequest, field: "personalizations.0", message: "should be unique between to, cc, and bcc"},
		{name: "duplicate address within to", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = []any{map[string]any{"email": "ben@example.com"}, map[string]any{"email": "ben@example.com"}}
		}, status: http.StatusBadRequest, field: "personalizations.0", message: "first duplicate instance of [ben@example.com]"},
		{name: "same address in two personalizations is fine", mutate: func(m map[string]any) {
			m["personalizations"] = append(m["personalizations"].([]any), map[string]any{"to": []any{map[string]any{"email": "ana@example.com"}}})
		}, status: http.StatusAccepted},
		{name: "address longer than 320", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = []any{map[string]any{"email": long(64) + "@" + strings.Repeat(long(60)+".", 5) + "example.com"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.to.0.email", message: "maximum total length of 320"},
		{name: "address bad syntax", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = []any{map[string]any{"email": "not-an-address"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.to.0.email", message: fake.MessageInvalidAddress},
		{name: "address domain without dot", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = []any{map[string]any{"email": "ana@localhost"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.to.0.email", message: fake.MessageInvalidAddress},
		{name: "address with display name", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = []any{map[string]any{"email": "Ana <ana@example.com>"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.to.0.email", message: fake.MessageInvalidAddress},
		{name: "bad bcc address", mutate: func(m map[string]any) {
			pers(m, 0)["bcc"] = []any{map[string]any{"email": "ana@@example.com"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.bcc.0.email", message: fake.MessageInvalidAddress},
		{name: "to entry without email", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = []any{map[string]any{"name": "Ana"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.to.0.email", message: "must at least have an email parameter"},
		{name: "to email not a string", raw: rawDoc(`"email": "ana@example.com"`, `"email": false`),
			status: http.StatusBadRequest, field: "personalizations.0.to.0.email", message: "must at least have an email parameter"},
		{name: "to name with semicolon", mutate: func(m map[string]any) {
			pers(m, 0)["to"] = []any{map[string]any{"email": "ana@example.com", "name": "Ana; Admin"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.to.0.name", message: "; or ,"},
		{name: "cc name with comma", mutate: func(m map[string]any) {
			pers(m, 0)["cc"] = []any{map[string]any{"email": "ben@example.com", "name": "Doe, Ben"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.cc.0.name", message: "; or ,"},
		{name: "rejected address", setup: func(f *fake.SendGrid) { f.RejectAddress("ANA@example.com") },
			status: http.StatusBadRequest, field: "personalizations.0.to.0.email", message: fake.MessageInvalidAddress},

		// custom_args.
		{name: "custom_args value not a string", mutate: func(m map[string]any) { pers(m, 0)["custom_args"] = map[string]any{"n": 1} },
			status: http.StatusBadRequest, field: "personalizations.0.custom_args", message: "must be strings"},
		{name: "message custom_args value not a string", mutate: func(m map[string]any) { m["custom_args"] = map[string]any{"ok": true} },
			status: http.StatusBadRequest, field: "custom_args", message: "must be strings"},
		{name: "custom_args empty", mutate: func(m map[string]any) { pers(m, 0)["custom_args"] = map[string]any{} },
			status: http.StatusBadRequest, field: "personalizations.0.custom_args", message: "cannot be empty"},
		{name: "merged custom_args of 10000 bytes", mutate: func(m map[string]any) {
			m["custom_args"] = map[string]any{"a": long(5000)}
			pers(m, 0)["custom_args"] = map[string]any{"b": long(4998)}
		}, status: http.StatusBadRequest, field: "personalizations.0.custom_args", message: "10,000 bytes per personalization"},
		{name: "merged custom_args of 9999 bytes", mutate: func(m map[string]any) {
			m["custom_args"] = map[string]any{"a": long(5000)}
			pers(m, 0)["custom_args"] = map[string]any{"b": long(4997)}
		}, status: http.StatusAccepted},
		{name: "custom_args override counts once", mutate: func(m map[string]any) {
			m["custom_args"] = map[string]any{"a": long(5000)}
			pers(m, 0)["custom_args"] = map[string]any{"a": long(9000)}
		}, status: http.StatusAccepted},

		// substitutions.
		{name: "substitution value not a string", mutate: func(m map[string]any) { pers(m, 0)["substitutions"] = map[string]any{"-n-": 1} },
			status: http.StatusBadRequest, field: "personalizations.0.substitutions", message: "values are all strings"},
		{name: "substitutions over 10000 bytes", mutate: func(m map[string]any) {
			pers(m, 0)["substitutions"] = map[string]any{"-a-": long(9998)}
		}, status: http.StatusBadRequest, field: "personalizations.0.substitutions", message: "limited to 10,000"},
		{name: "substitutions of exactly 10000 bytes", mutate: func(m map[string]any) {
			pers(m, 0)["substitutions"] = map[string]any{"-a-": long(9997)}
		}, status: http.StatusAccepted},
		{name: "substitutions with dynamic template", mutate: func(m map[string]any) {
			m["template_id"] = "d-0123456789abcdef"
			delete(m, "content")
			pers(m, 0)["substitutions"] = map[string]any{"-n-": "Ana"}
		}, status: http.StatusBadRequest, field: "personalizations.0.substitutions", message: "Substitutions may not be used with dynamic templating"},
		{name: "substitutions with legacy template", mutate: func(m map[string]any) {
			m["template_id"] = "13b8f94f-bcae-4ec6-b752-70d6cb59f932"
			delete(m, "content")
			pers(m, 0)["substitutions"] = map[string]any{"-n-": "Ana"}
		}, status: http.StatusAccepted},
		{name: "dynamic_template_data not an object", mutate: func(m map[string]any) { pers(m, 0)["dynamic_template_data"] = "x" },
			status: http.StatusBadRequest, field: "personalizations.0.dynamic_template_data", message: "Expected: object"},

		// categories.
		{name: "11 categories", mutate: func(m map[string]any) {
			cats := make([]any, 11)
			for i := range cats {
				cats[i] = "c" + strconv.Itoa(i)
			}
			m["categories"] = cats
		}, status: http.StatusBadRequest, field: "categories", message: "limit of 10 categories"},
		{name: "category of 256 characters", mutate: func(m map[string]any) { m["categories"] = []any{long(256)} },
			status: http.StatusBadRequest, field: "categories", message: "longer than 255"},
		{name: "duplicate category", mutate: func(m map[string]any) { m["categories"] = []any{"restock", "restock"} },
			status: http.StatusBadRequest, field: "categories", message: "unique list"},
		{name: "non-ascii category", mutate: func(m map[string]any) { m["categories"] = []any{"café"} },
			status: http.StatusBadRequest, field: "categories", message: "non-ASCII"},
		{name: "category not a string", mutate: func(m map[string]any) { m["categories"] = []any{1} },
			status: http.StatusBadRequest, field: "categories", message: "array of strings"},

		// headers.
		{name: "reserved message header", mutate: func(m map[string]any) { m["headers"] = map[string]any{"Subject": "x"} },
			status: http.StatusBadRequest, field: "headers", message: "reserved keys"},
		{name: "reserved personalization header, any case", mutate: func(m map[string]any) { pers(m, 0)["headers"] = map[string]any{"X-SG-ID": "1"} },
			status: http.StatusBadRequest, field: "personalizations.0.headers", message: "reserved keys"},
		{name: "reserved dkim-signature header", mutate: func(m map[string]any) { m["headers"] = map[string]any{"dkim-signature": "x"} },
			status: http.StatusBadRequest, field: "headers", message: "reserved keys"},
		{name: "duplicate header key", raw: rawDoc(`"subject"`, `"headers": {"X-A": "1", "X-A": "2"}, "subject"`),
			status: http.StatusBadRequest, field: "headers", message: "duplicate keys"},
		{name: "duplicate header key differing in case", raw: rawDoc(`"subject"`, `"headers": {"X-A": "1", "x-a": "2"}, "subject"`),
			status: http.StatusBadRequest, field: "headers", message: "duplicate keys"},
		{name: "header key with space", mutate: func(m map[string]any) { pers(m, 0)["headers"] = map[string]any{"X Bad": "1"} },
			status: http.StatusBadRequest, field: "personalizations.0.headers", message: "non-ASCII characters or empty spaces"},
		{name: "non-ascii header key", mutate: func(m map[string]any) { m["headers"] = map[string]any{"X-Tëst": "1"} },
			status: http.StatusBadRequest, field: "headers", message: "non-ASCII"},
		{name: "header value not a string", mutate: func(m map[string]any) { m["headers"] = map[string]any{"X-N": 1} },
			status: http.StatusBadRequest, field: "headers", message: "must be strings"},

		// send_at.
		{name: "send_at over 72h ahead", setup: fixedClock, mutate: func(m map[string]any) {
			m["send_at"] = now.Add(72*time.Hour + time.Second).Unix()
		}, status: http.StatusBadRequest, field: "send_at", message: "more than 72 hours"},
		{name: "personalization send_at over 72h ahead", setup: fixedClock, mutate: func(m map[string]any) {
			pers(m, 0)["send_at"] = now.Add(73 * time.Hour).Unix()
		}, status: http.StatusBadRequest, field: "personalizations.0.send_at", message: "more than 72 hours"},
		{name: "send_at exactly 72h ahead", setup: fixedClock, mutate: func(m map[string]any) { m["send_at"] = now.Add(72 * time.Hour).Unix() },
			status: http.StatusAccepted},
		{name: "send_at in the past", setup: fixedClock, mutate: func(m map[string]any) { m["send_at"] = now.Add(-time.Hour).Unix() },
			status: http.StatusAccepted},
		{name: "send_at as string", mutate: func(m map[string]any) { m["send_at"] = "1764763200" },
			status: http.StatusBadRequest, field: "send_at", message: "Unix timestamp as an integer"},
		{name: "send_at with fraction", raw: rawDoc(`"subject"`, `"send_at": 1764763200.5, "subject"`),
			status: http.StatusBadRequest, field: "send_at", message: "Unix timestamp as an integer"},

		// content.
		{name: "html before plain", mutate: func(m map[string]any) {
			c := m["content"].([]any)
			c[0], c[1] = c[1], c[0]
		}, status: http.StatusBadRequest, field: "content", message: "Following RFC 1341, section 7.2"},
		{name: "text/plain twice", mutate: func(m map[string]any) {
			m["content"] = []any{map[string]any{"type": "text/plain", "value": "a"}, map[string]any{"type": "text/plain", "value": "b"}}
		}, status: http.StatusBadRequest, field: "content", message: "Following RFC 1341"},
		{name: "other type before html", mutate: func(m map[string]any) {
			m["content"] = []any{map[string]any{"type": "text/calendar", "value": "a"}, map[string]any{"type": "text/html", "value": "b"}}
		}, status: http.StatusBadRequest, field: "content", message: "Following RFC 1341"},
		{name: "plain, html, other", mutate: func(m map[string]any) {
			m["content"] = append(m["content"].([]any), map[string]any{"type": "text/calendar", "value": "c"})
		}, status: http.StatusAccepted},
		{name: "html only", mutate: func(m map[string]any) { m["content"] = []any{map[string]any{"type": "text/html", "value": "<b>x</b>"}} },
			status: http.StatusAccepted},
		{name: "empty content value", mutate: func(m map[string]any) { m["content"].([]any)[0].(map[string]any)["value"] = "" },
			status: http.StatusBadRequest, field: "content.0.value", message: "at least one character"},
		{name: "empty content type", mutate: func(m map[string]any) { m["content"].([]any)[1].(map[string]any)["type"] = "" },
			status: http.StatusBadRequest, field: "content.1.type", message: "at least one character"},
		{name: "content missing", mutate: func(m map[string]any) { delete(m, "content") },
			status: http.StatusBadRequest, field: "content", message: "content param is required"},
		{name: "content empty", mutate: func(m map[string]any) { m["content"] = []any{} },
			status: http.StatusBadRequest, field: "content", message: "at least one defined content block"},

		// subject.
		{name: "subject missing", mutate: func(m map[string]any) { delete(m, "subject") },
			status: http.StatusBadRequest, field: "subject", message: "The subject is required"},
		{name: "subject empty", mutate: func(m map[string]any) { m["subject"] = "" },
			status: http.StatusBadRequest, field: "subject", message: "at least one character"},
		{name: "subject in every personalization", mutate: func(m map[string]any) {
			delete(m, "subject")
			pers(m, 0)["subject"] = "Hi Ana"
		}, status: http.StatusAccepted},
		{name: "subject from template", mutate: func(m map[string]any) {
			delete(m, "subject")
			delete(m, "content")
			m["template_id"] = "d-0123456789abcdef"
			pers(m, 0)["dynamic_template_data"] = map[string]any{"name": "Ana", "items": []any{1, 2}}
		}, status: http.StatusAccepted},

		// from, reply_to.
		{name: "from missing", mutate: func(m map[string]any) { delete(m, "from") },
			status: http.StatusBadRequest, field: "from", message: "must be provided for every email send"},
		{name: "from invalid", mutate: func(m map[string]any) { m["from"] = map[string]any{"email": "alerts"} },
			status: http.StatusBadRequest, field: "from.email", message: "does not contain a valid address"},
		{name: "from with unicode", mutate: func(m map[string]any) { m["from"] = map[string]any{"email": "alérts@shop.example"} },
			status: http.StatusBadRequest, field: "from.email", message: "does not contain a valid address"},
		{name: "from as string", mutate: func(m map[string]any) { m["from"] = "alerts@shop.example" },
			status: http.StatusBadRequest, field: "from", message: "Expected: object, given: string"},
		{name: "unverified sender", setup: func(f *fake.SendGrid) { f.SetVerifiedSenders("other@shop.example") },
			status: http.StatusForbidden, field: "from", message: "verified Sender Identity"},
		{name: "verified sender, any case", setup: func(f *fake.SendGrid) { f.SetVerifiedSenders("ALERTS@shop.example") },
			status: http.StatusAccepted},
		{name: "reply_to with reply_to_list", mutate: func(m map[string]any) {
			m["reply_to"] = map[string]any{"email": "help@shop.example"}
			m["reply_to_list"] = []any{map[string]any{"email": "help2@shop.example"}}
		}, status: http.StatusBadRequest, field: "reply_to_list", message: "cannot be used together"},
		{name: "reply_to_list duplicate", mutate: func(m map[string]any) {
			m["reply_to_list"] = []any{map[string]any{"email": "a@shop.example"}, map[string]any{"email": "A@shop.example"}}
		}, status: http.StatusBadRequest, field: "reply_to_list.1.email", message: "unique"},
		{name: "reply_to invalid", mutate: func(m map[string]any) { m["reply_to"] = map[string]any{"email": "help"} },
			status: http.StatusBadRequest, field: "reply_to.email", message: "does not contain a valid address"},

		// settings.
		{name: "sandbox enable quoted", mutate: func(m map[string]any) {
			m["mail_settings"] = map[string]any{"sandbox_mode": map[string]any{"enable": "true"}}
		}, status: http.StatusBadRequest, field: "mail_settings.sandbox_mode.enable", message: "should be a boolean value"},
		{name: "click tracking enable as number", mutate: func(m map[string]any) {
			m["tracking_settings"] = map[string]any{"click_tracking": map[string]any{"enable": 1}}
		}, status: http.StatusBadRequest, field: "tracking_settings.click_tracking.enable", message: "boolean"},
		{name: "click tracking enable_text quoted", mutate: func(m map[string]any) {
			m["tracking_settings"] = map[string]any{"click_tracking": map[string]any{"enable": true, "enable_text": "false"}}
		}, status: http.StatusBadRequest, field: "tracking_settings.click_tracking.enable_text", message: "boolean"},
		{name: "subscription tracking enable quoted", mutate: func(m map[string]any) {
			m["tracking_settings"] = map[string]any{"subscription_tracking": map[string]any{"enable": "false"}}
		}, status: http.StatusBadRequest, field: "tracking_settings.subscription_tracking.enable", message: "boolean"},
		{name: "footer text not a string", mutate: func(m map[string]any) {
			m["mail_settings"] = map[string]any{"footer": map[string]any{"enable": true, "text": 5}}
		}, status: http.StatusBadRequest, field: "mail_settings.footer.text", message: "must be a string"},
		{name: "bypass_list_management with another bypass", mutate: func(m map[string]any) {
			m["mail_settings"] = map[string]any{
				"bypass_list_management": map[string]any{"enable": true},
				"bypass_spam_management": map[string]any{"enable": true},
			}
		}, status: http.StatusBadRequest, field: "mail_settings.bypass_list_management", message: "cannot be combined"},
		{name: "sandbox mode", mutate: func(m map[string]any) {
			m["mail_settings"] = map[string]any{"sandbox_mode": map[string]any{"enable": true}}
		}, status: http.StatusOK},
		{name: "sandbox mode still validates", mutate: func(m map[string]any) {
			m["mail_settings"] = map[string]any{"sandbox_mode": map[string]any{"enable": true}}
			pers(m, 0)["to"] = []any{map[string]any{"email": "nope"}}
		}, status: http.StatusBadRequest, field: "personalizations.0.to.0.email", message: fake.MessageInvalidAddress},

		// asm, attachments, misc.
		{name: "asm group_id as string", mutate: func(m map[string]any) { m["asm"] = map[string]any{"group_id": "21001"} },
			status: http.StatusBadRequest, field: "asm.group_id", message: "must be an integer"},
		{name: "asm 26 groups to display", mutate: func(m map[string]any) {
			groups := make([]any, 26)
			for i := range groups {
				groups[i] = i + 1
			}
			m["asm"] = map[string]any{"group_id": 1, "groups_to_display": groups}
		}, status: http.StatusBadRequest, field: "asm.groups_to_display", message: "limit of 25"},
		{name: "attachment not base64", mutate: func(m map[string]any) {
			m["attachments"] = []any{map[string]any{"content": "not base64!", "filename": "a.txt"}}
		}, status: http.StatusBadRequest, field: "attachments.0.content", message: "base64"},
		{name: "attachment without filename", mutate: func(m map[string]any) {
			m["attachments"] = []any{map[string]any{"content": "aGk="}}
		}, status: http.StatusBadRequest, field: "attachments.0.filename", message: "filename is required"},
		{name: "attachment bad disposition", mutate: func(m map[string]any) {
			m["attachments"] = []any{map[string]any{"content": "aGk=", "filename": "a.txt", "disposition": "download"}}
		}, status: http.StatusBadRequest, field: "attachments.0.disposition", message: `"inline" or "attachment"`},
		{name: "valid attachment", mutate: func(m map[string]any) {
			m["attachments"] = []any{map[string]any{"content": "aGk=", "filename": "a.txt", "type": "text/plain", "disposition": "attachment"}}
		}, status: http.StatusAccepted},
		{name: "ip pool name too short", mutate: func(m map[string]any) { m["ip_pool_name"] = "x" },
			status: http.StatusBadRequest, field: "ip_pool_name", message: "between 2 and 64"},
		{name: "batch_id not a string", mutate: func(m map[string]any) { m["batch_id"] = 5 },
			status: http.StatusBadRequest, field: "batch_id", message: "must be a string"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newSendGrid(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			body := tc.raw
			if body == nil {
				doc := baseDoc(t)
				if tc.mutate != nil {
					tc.mutate(doc)
				}
				body = marshal(t, doc)
			}
			resp := mustSend(t, f, body, tc.req)
			require.Equal(t, tc.status, resp.StatusCode, resp.Body)
			msgID := http.Header(resp.Headers).Get("X-Message-Id")

			switch tc.status {
			case http.StatusAccepted:
				require.Empty(t, resp.Body)
				require.Regexp(t, messageIDPattern, msgID)
				reqs := f.Requests()
				require.Len(t, reqs, 1)
				require.Equal(t, msgID, reqs[0].MessageID)
				require.Equal(t, reqs[0].ToCount, f.RecipientCount())
				require.Len(t, f.Recipients(), reqs[0].ToCount)
			case http.StatusOK:
				require.Empty(t, resp.Body)
				require.Empty(t, msgID)
				require.Len(t, f.Requests(), 1)
				require.True(t, f.Requests()[0].Sandbox)
				require.Len(t, f.SandboxRequests(), 1)
				require.Empty(t, f.Recipients())
				require.Zero(t, f.RecipientCount())
			default:
				requireError(t, resp, tc.field, tc.message)
				require.Empty(t, msgID)
				require.Empty(t, f.Requests(), "a refused request records nothing")
				require.Empty(t, f.Recipients())
				require.Zero(t, f.RecipientCount())
			}
			wantAttempts := 1
			if tc.status == http.StatusNotFound || tc.status == http.StatusMethodNotAllowed {
				wantAttempts = 0
			}
			require.Equal(t, wantAttempts, f.Attempts())
		})
	}
}

func TestSendGridPersonalizationLimit(t *testing.T) {
	f := newSendGrid(t)

	doc := baseDoc(t)
	doc["personalizations"] = personalizations(1001)
	resp := mustSend(t, f, marshal(t, doc), nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	requireError(t, resp, "personalizations", "limited to 1000 personalizations per API request. You have provided 1001")
	require.Empty(t, f.Requests())

	doc["personalizations"] = personalizations(1000)
	resp = mustSend(t, f, marshal(t, doc), nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)
	require.Equal(t, 1000, f.RecipientCount())
	ds := f.Recipients()
	require.Len(t, ds, 1000)
	require.Equal(t, "r999@example.com", ds[999].To)
	require.Equal(t, 2, f.Attempts())
}

func TestSendGridFailNext(t *testing.T) {
	f := newSendGrid(t)
	now := time.Unix(1764763200, 0)
	f.NowFunc = func() time.Time { return now }
	body := []byte(validBaseDoc)

	f.FailNext(http.StatusTooManyRequests, "", nil)
	resp := mustSend(t, f, body, nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.JSONEq(t, `{"errors":[{"field":null,"message":"too many requests"}]}`, resp.Body)
	h := http.Header(resp.Headers)
	require.Equal(t, "600", h.Get("X-RateLimit-Limit"))
	require.Equal(t, "0", h.Get("X-RateLimit-Remaining"))
	require.Equal(t, strconv.FormatInt(now.Unix()+1, 10), h.Get("X-RateLimit-Reset"))
	require.Empty(t, f.Requests())
	require.Equal(t, 1, f.Attempts())

	resp = mustSend(t, f, body, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)
	require.Len(t, f.Requests(), 1)
	require.Equal(t, 2, f.Attempts())

	// FIFO, defaults for 500, caller body and headers passed through.
	f.FailNext(http.StatusInternalServerError, "", nil)
	f.FailNext(http.StatusBadRequest, `{"errors":[{"message":"boom","field":"x","help":null}]}`, http.Header{"X-Test": {"1"}})
	f.FailNext(http.StatusTooManyRequests, "", http.Header{"X-RateLimit-Reset": {"42"}})
	resp = mustSend(t, f, body, nil)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	requireError(t, resp, "", "internal server error")
	resp = mustSend(t, f, body, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	requireError(t, resp, "x", "boom")
	require.Equal(t, "1", http.Header(resp.Headers).Get("X-Test"))
	resp = mustSend(t, f, body, nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "42", http.Header(resp.Headers).Get("X-RateLimit-Reset"))
	require.Equal(t, "600", http.Header(resp.Headers).Get("X-RateLimit-Limit"))
	require.Len(t, f.Requests(), 1)
	require.Equal(t, 5, f.Attempts())
}

// TestSendGridClientRetriesOn429 shows sendgrid-go's MakeRequestRetry
// retrying a 429 (after its fixed 1.1 s sleep) and then being accepted.
func TestSendGridClientRetriesOn429(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps 1.1 s in sendgrid-go")
	}
	f := newSendGrid(t)
	f.FailNext(http.StatusTooManyRequests, "", nil)
	resp, err := sendgrid.MakeRequestRetryWithContext(t.Context(), mailRequest(f, []byte(validBaseDoc)))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)
	require.Equal(t, 2, f.Attempts())
	require.Len(t, f.Requests(), 1)
}

func TestSendGridRejectAddress(t *testing.T) {
	f := newSendGrid(t)
	f.RejectAddress("Bounce@Example.com")
	doc := baseDoc(t)
	doc["personalizations"] = []any{
		map[string]any{"to": []any{map[string]any{"email": "ok1@example.com"}}},
		map[string]any{"to": []any{map[string]any{"email": "bounce@example.COM"}}},
		map[string]any{"to": []any{map[string]any{"email": "ok2@example.com"}}, "cc": []any{map[string]any{"email": "BOUNCE@example.com"}}},
	}
	resp := mustSend(t, f, marshal(t, doc), nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	errs := decodeErrors(t, resp).Errors
	require.Len(t, errs, 2)
	require.Equal(t, fake.APIError{
		Message: fake.MessageInvalidAddress,
		Field:   "personalizations.1.to.0.email",
		Help:    "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to",
	}, errs[0])
	require.Equal(t, "personalizations.2.cc.0.email", errs[1].Field)
	require.Empty(t, f.Requests(), "one bad address refuses the whole request")
	require.Empty(t, f.Recipients())

	// Without the rejected address the same batch goes through.
	doc["personalizations"] = []any{doc["personalizations"].([]any)[0]}
	resp = mustSend(t, f, marshal(t, doc), nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)

	f.Reset()
	require.Empty(t, f.Requests())
	require.Zero(t, f.Attempts())
	require.Zero(t, f.RecipientCount())
	doc["personalizations"] = []any{map[string]any{"to": []any{map[string]any{"email": "bounce@example.com"}}}}
	resp = mustSend(t, f, marshal(t, doc), nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "Reset forgets rejected addresses")
}

func TestSendGridKeepBodiesOff(t *testing.T) {
	f := newSendGrid(t)
	f.KeepBodies = false
	doc := baseDoc(t)
	doc["personalizations"] = personalizations(1000)
	resp := mustSend(t, f, marshal(t, doc), nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, resp.Body)

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	require.Regexp(t, messageIDPattern, reqs[0].MessageID)
	require.Equal(t, 1000, reqs[0].ToCount)
	require.Nil(t, reqs[0].Raw)
	require.Nil(t, reqs[0].Header)
	require.Nil(t, reqs[0].Body.Personalizations)
	require.Nil(t, f.Recipients())
	require.Equal(t, 1000, f.RecipientCount())
}

func TestSendGridConcurrent(t *testing.T) {
	f := newSendGrid(t)
	const (
		workers     = 16
		perWorker   = 10
		perRequest  = 5
		transient   = 7
		wantRecords = workers * perWorker
	)
	for range transient {
		f.FailNext(http.StatusServiceUnavailable, "", nil)
	}

	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				_ = f.Requests()
				_ = f.Recipients()
				_ = f.Attempts()
				_ = f.RecipientCount()
			}
		}
	})

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		retries  int
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				doc := map[string]any{
					"from":    map[string]any{"email": "alerts@shop.example"},
					"subject": "Hi -name-",
					"content": []any{map[string]any{"type": "text/plain", "value": "Hi -name-"}},
				}
				ps := make([]any, perRequest)
				for p := range ps {
					name := fmt.Sprintf("w%d-r%d-p%d", w, i, p)
					ps[p] = map[string]any{
						"to":            []any{map[string]any{"email": name + "@example.com"}},
						"substitutions": map[string]any{"-name-": name},
					}
				}
				doc["personalizations"] = ps
				body, err := json.Marshal(doc)
				if err != nil {
					panic(err)
				}
				for {
					resp, err := send(context.Background(), f, body, nil)
					mu.Lock()
					switch {
					case err != nil:
						failures = append(failures, err.Error())
					case resp.StatusCode == http.StatusServiceUnavailable:
						retries++
						mu.Unlock()
						continue
					case resp.StatusCode != http.StatusAccepted:
						failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, resp.Body))
					}
					mu.Unlock()
					break
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()

	require.Empty(t, failures)
	require.Equal(t, transient, retries)
	require.Equal(t, wantRecords+transient, f.Attempts())
	reqs := f.Requests()
	require.Len(t, reqs, wantRecords)
	ids := map[string]bool{}
	for _, r := range reqs {
		require.False(t, ids[r.MessageID], "duplicate message id")
		ids[r.MessageID] = true
	}
	ds := f.Recipients()
	require.Len(t, ds, wantRecords*perRequest)
	require.Equal(t, wantRecords*perRequest, f.RecipientCount())
	seen := map[string]bool{}
	for _, d := range ds {
		name := strings.TrimSuffix(d.To, "@example.com")
		require.Equal(t, "Hi "+name, d.Text)
		require.False(t, seen[d.To])
		seen[d.To] = true
	}
}

func TestSendGridCloseTwice(t *testing.T) {
	f := fake.NewSendGrid(testKey)
	f.Close()
	f.Close()
}

// ---- Event Webhook helpers ----

type webhookVectors struct {
	Vectors []struct {
		Name      string `json:"name"`
		PublicKey string `json:"public_key"`
		Timestamp string `json:"timestamp"`
		Signature string `json:"signature"`
		Payload   string `json:"payload"`
	} `json:"vectors"`
	NegativeCases struct {
		WrongPublicKey string `json:"wrong_public_key"`
		WrongSignature string `json:"wrong_signature"`
		WrongTimestamp string `json:"wrong_timestamp"`
		WrongPayload   string `json:"wrong_payload"`
	} `json:"negative_cases"`
}

func loadVectors(t *testing.T) webhookVectors {
	t.Helper()
	b, err := os.ReadFile(testdataDir + "vectors.json")
	require.NoError(t, err)
	var v webhookVectors
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Vectors)
	return v
}

// TestEventBatchMatchesSendGridVectors re-frames the events of SendGrid's
// published vectors with EventBatch and checks the bytes are identical, so
// SendGrid's own signatures verify over them.
func TestEventBatchMatchesSendGridVectors(t *testing.T) {
	vs := loadVectors(t)
	for _, v := range vs.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			var events []map[string]any
			require.NoError(t, json.Unmarshal([]byte(v.Payload), &events))
			body := fake.EventBatch(events...)
			require.Equal(t, v.Payload, string(body))

			pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(v.PublicKey)
			require.NoError(t, err)
			ok, err := eventwebhook.VerifySignature(pub, body, v.Signature, v.Timestamp)
			require.NoError(t, err)
			require.True(t, ok)
		})
	}

	v := vs.Vectors[0]
	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(v.PublicKey)
	require.NoError(t, err)
	wrongPub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(vs.NegativeCases.WrongPublicKey)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		pub            *ecdsa.PublicKey
		payload        string
		sig, timestamp string
	}{
		"wrong public key": {wrongPub, v.Payload, v.Signature, v.Timestamp},
		"wrong signature":  {pub, v.Payload, vs.NegativeCases.WrongSignature, v.Timestamp},
		"wrong timestamp":  {pub, v.Payload, v.Signature, vs.NegativeCases.WrongTimestamp},
		"wrong payload":    {pub, vs.NegativeCases.WrongPayload, v.Signature, v.Timestamp},
		"no trailing crlf": {pub, strings.TrimSuffix(v.Payload, "\r\n"), v.Signature, v.Timestamp},
	} {
		ok, err := eventwebhook.VerifySignature(tc.pub, []byte(tc.payload), tc.sig, tc.timestamp)
		require.NoError(t, err, name)
		require.False(t, ok, name)
	}
}

func TestSignEventsVerifiesWithSendGridHelper(t *testing.T) {
	priv, pubB64, err := fake.NewEventWebhookKey()
	require.NoError(t, err)
	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(pubB64)
	require.NoError(t, err)

	body := fake.EventBatch(
		map[string]any{"email": "ana@example.com", "event": "delivered", "timestamp": 1764763204, "smtp-id": "<a@b>", "shop": "acme"},
		map[string]any{"email": "ben@example.net", "event": "unsubscribe", "timestamp": 1764764100},
	)
	require.Contains(t, string(body), "},\r\n{")
	require.True(t, strings.HasSuffix(string(body), "}]\r\n"))
	require.Contains(t, string(body), `"smtp-id":"<a@b>"`, "HTML characters are not escaped")

	const ts = "1764764200"
	sig := fake.SignEvents(priv, ts, body)
	ok, err := eventwebhook.VerifySignature(pub, body, sig, ts)
	require.NoError(t, err)
	require.True(t, ok)

	ok, err = eventwebhook.VerifySignature(pub, body, sig, "1764764201")
	require.NoError(t, err)
	require.False(t, ok, "other timestamp")
	ok, err = eventwebhook.VerifySignature(pub, body[:len(body)-2], sig, ts)
	require.NoError(t, err)
	require.False(t, ok, "re-framed body")

	req, err := fake.NewEventRequest(t.Context(), "http://127.0.0.1:1/webhooks/sendgrid", priv, ts, body)
	require.NoError(t, err)
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, ts, req.Header.Get(eventwebhook.TimestampHTTPHeader))
	ok, err = eventwebhook.VerifySignature(pub, body, req.Header.Get(eventwebhook.VerificationHTTPHeader), ts)
	require.NoError(t, err)
	require.True(t, ok)

	unsigned, err := fake.NewEventRequest(t.Context(), "http://127.0.0.1:1/webhooks/sendgrid", nil, ts, body)
	require.NoError(t, err)
	require.Empty(t, unsigned.Header.Get(fake.EventWebhookSignatureHeader))

	require.Equal(t, "[]\r\n", string(fake.EventBatch()))
}

// BenchmarkSendGrid1000Personalizations measures one full 1000-recipient
// request through the real client with KeepBodies off.
func BenchmarkSendGrid1000Personalizations(b *testing.B) {
	f := newSendGrid(b)
	f.KeepBodies = false
	doc := baseDoc(b)
	ps := make([]any, 1000)
	for i := range ps {
		ps[i] = map[string]any{
			"to":            []any{map[string]any{"email": fmt.Sprintf("r%d@example.com", i)}},
			"substitutions": map[string]any{"-unsubscribe_url-": fmt.Sprintf("https://bis.example.app/u/tok_%d", i), "-first_name-": "Ana"},
			"custom_args":   map[string]any{"subscription_id": strconv.Itoa(i), "step": "restock"},
			"headers": map[string]any{
				"List-Unsubscribe":      fmt.Sprintf("<https://bis.example.app/u/tok_%d>", i),
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			},
		}
	}
	doc["personalizations"] = ps
	body := marshal(b, doc)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp, err := send(context.Background(), f, body, nil)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			b.Fatalf("send: %v %v", err, resp)
		}
	}
	b.ReportMetric(float64(f.RecipientCount())/b.Elapsed().Seconds(), "recipients/s")
}
