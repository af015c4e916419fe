package web_test

// This file holds the health-check tests and the small harness every test of
// the package shares: httpCase (one row of a table: a request, the answer
// expected and the rows it may change), runCases and the counters behind
// "side effects".

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
)

// client never follows redirects: a test must see the 302 itself.
var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// effects are row counts; a case states how much each may change (zero
// unless said), so "nothing stored" is the default.
type effects struct {
	Webhooks      int64 // rows of webhooks
	Jobs          int64 // River jobs, any kind and state
	Subscriptions int64 // rows of subscriptions
	Suppressions  int64 // rows of suppressions
	Emails        int64 // recipients the fake SendGrid accepted
}

func (a effects) minus(b effects) effects {
	return effects{a.Webhooks - b.Webhooks, a.Jobs - b.Jobs, a.Subscriptions - b.Subscriptions,
		a.Suppressions - b.Suppressions, a.Emails - b.Emails}
}

// countEffects counts in one statement: on SQLite the test shares the one
// connection with River's pollers, so every round trip waits its turn.
func countEffects(t *testing.T, e *apptest.Env) effects {
	t.Helper()
	var c effects
	err := e.Store.DB.Raw(`SELECT (SELECT COUNT(*) FROM webhooks), (SELECT COUNT(*) FROM river_job),
		(SELECT COUNT(*) FROM subscriptions), (SELECT COUNT(*) FROM suppressions)`).
		Row().Scan(&c.Webhooks, &c.Jobs, &c.Subscriptions, &c.Suppressions)
	if err != nil {
		t.Fatalf("count rows: %v", err)
	}
	c.Emails = int64(e.SendGrid.RecipientCount())
	return c
}

// countRows is e.Count reporting to t (a subtest) rather than to e.T.
func countRows(t *testing.T, e *apptest.Env, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	q := e.Store.DB.Model(model)
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		t.Fatalf("count %T where %q: %v", model, where, err)
	}
	return n
}

func countTable(t *testing.T, e *apptest.Env, table string) int64 {
	t.Helper()
	var n int64
	if err := e.Store.DB.Table(table).Count(&n).Error; err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// response is what a case got back.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// httpCase is one row of a handler table.
type httpCase struct {
	name   string
	method string      // default POST when body is set, else GET
	url    string      // absolute, or a path on the test server
	header http.Header // request headers
	body   []byte
	// chunked sends the body without Content-Length (Transfer-Encoding: chunked).
	chunked bool
	// raw, when set, is written as is to a TCP connection to the server
	// (for Content-Length values no well-behaved client sends); the fields
	// above are then unused.
	raw []byte
	// before runs ahead of the request (after the counts are taken).
	before func(t *testing.T)
	// drain runs every due job after the request, before counting.
	drain bool

	status  int    // wanted status
	text    string // wanted substring of the body ("" = any)
	notText string // must not appear in the body ("" = no check)
	want    effects
	// check inspects the answer and the database further.
	check func(t *testing.T, r response)
}

// runCases runs the rows in order, each as a subtest, against one Env: rows
// may build on what earlier rows stored, and each checks only the change it
// caused.
func runCases(t *testing.T, e *apptest.Env, cases []httpCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countEffects(t, e)
			if tc.before != nil {
				tc.before(t)
			}
			var r response
			if tc.raw != nil {
				r = doRaw(t, e, tc.raw)
			} else {
				r = do(t, e, tc)
			}
			if tc.drain {
				e.Drain()
			}
			if r.Status != tc.status {
				t.Errorf("status = %d, want %d; body: %.300s", r.Status, tc.status, r.Body)
			}
			if tc.text != "" && !strings.Contains(r.Body, tc.text) {
				t.Errorf("body %.300q does not contain %q", r.Body, tc.text)
			}
			if tc.notText != "" && strings.Contains(r.Body, tc.notText) {
				t.Errorf("body %.300q contains %q", r.Body, tc.notText)
			}
			if got := countEffects(t, e).minus(before); got != tc.want {
				t.Errorf("side effects = %+v, want %+v", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func do(t *testing.T, e *apptest.Env, tc httpCase) response {
	t.Helper()
	u := tc.url
	if !strings.HasPrefix(u, "http") {
		u = e.Server.URL + u
	}
	method := tc.method
	if method == "" {
		method = http.MethodGet
		if tc.body != nil {
			method = http.MethodPost
		}
	}
	var body io.Reader
	if tc.body != nil {
		body = bytes.NewReader(tc.body)
		if tc.chunked {
			body = io.MultiReader(body) // hides the length from the client
		}
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range tc.header {
		req.Header[k] = vs
	}
	if tc.chunked {
		req.ContentLength = -1
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// doRaw writes raw to a new connection and reads one answer.
func doRaw(t *testing.T, e *apptest.Env, raw []byte) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", e.Server.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	// Write in the background: the server may answer (and stop reading)
	// before the whole request is written.
	go func() { _, _ = conn.Write(raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read raw answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// hdr builds request headers from key, value pairs.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestHealth(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := apptest.New(t, dsn)
		runCases(t, e, []httpCase{
			{name: "healthz", url: "/healthz", status: http.StatusOK, text: `"status":"ok"`},
			{name: "readyz with the database up", url: "/readyz", status: http.StatusOK, text: `"status":"ready"`},
			{name: "HEAD healthz", method: http.MethodHead, url: "/healthz", status: http.StatusOK},
			{name: "HEAD readyz", method: http.MethodHead, url: "/readyz", status: http.StatusOK},
			{name: "POST healthz is not allowed", method: http.MethodPost, url: "/healthz", body: []byte{}, status: http.StatusMethodNotAllowed, text: `"error"`},
			{name: "unknown route is a JSON 404", url: "/nope", status: http.StatusNotFound, text: `"error"`},
		})
	})
}

func TestReadyzWithoutDatabase(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		// River stays stopped: it would fight over the closed pool.
		e := apptest.New(t, dsn, apptest.Options{NoStart: true})
		r := do(t, e, httpCase{url: "/readyz"})
		if r.Status != http.StatusOK {
			t.Fatalf("readyz before closing = %d %s", r.Status, r.Body)
		}
		if err := e.Store.SQL.Close(); err != nil {
			t.Fatal(err)
		}
		r = do(t, e, httpCase{url: "/readyz"})
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "database unavailable") {
			t.Fatalf("readyz after closing = %d %s, want 503 database unavailable", r.Status, r.Body)
		}
		if r := do(t, e, httpCase{url: "/healthz"}); r.Status != http.StatusOK {
			t.Fatalf("healthz after closing = %d, want 200 (liveness does not depend on the database)", r.Status)
		}
	})
}
