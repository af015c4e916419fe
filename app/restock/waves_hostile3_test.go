package restock_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
)

func TestHostileMixedCyclesLoops(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(6)...)
		useWaves(t, e, 1, time.Hour)
		restock(e, 2, 0)
		e.Advance(time.Minute)
		soldOutNow(e)
		e.Advance(time.Minute)
		e.SendGrid.Reset()
		before := stepJobs(e)
		restock(e, 6, 0)
		for range 10 {
			e.Advance(time.Hour + time.Second)
		}
		// One full wave of six, then one wave that finds nobody: the
		// restock notice and reminder of wave 0, and the empty wave 1.
		got := recipientsTo(e, "1")
		if n := stepJobs(e) - before; n != 3 || len(got) != 6 {
			t.Errorf("campaign 2: %d step jobs in 10 h, recipients %v", n, sortedKeys(got))
		}
	})
}

// Shopper of wave 0 unsubscribes before the reminder; a waiting shopper
// unsubscribes before their wave.
func TestHostileUnsubscribeBetweenWaves(t *testing.T) {
	t.Parallel()
	apptest.ForEachDialect(t, func(t *testing.T, dsn string) {
		e := setup(t, dsn, shoppers(4)...)
		useWaves(t, e, 1, time.Hour)
		restock(e, 1, 0)
		resp, err := http.Post(unsubscribeLink(e, "s00@example.com"), "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"List-Unsubscribe": {"One-Click"}}.Encode()))
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(err, resp)
		}
		resp.Body.Close()
		e.Store.DB.Exec("UPDATE subscriptions SET status = 'unsubscribed' WHERE email = 's01@example.com'")
		for range 4 {
			e.Advance(time.Hour + time.Second)
		}
		got := recipientsTo(e, "1")
		if len(got) != 3 || got["s01@example.com"] != 0 {
			t.Errorf("step 1: %v", sortedKeys(got))
		}
		e.Advance(24 * time.Hour)
		e.Advance(24 * time.Hour)
		r2 := recipientsTo(e, "2")
		if len(r2) != 2 || r2["s00@example.com"] != 0 {
			t.Errorf("step 2: %v", sortedKeys(r2))
		}
	})
}
