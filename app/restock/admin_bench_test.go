package restock_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	rr "github.com/restockrelay/restockrelay/app/restock"
)

// BenchmarkAdminSubscribers100k: the admin's subscriber list and export
// over 100,000 shoppers of one shop: the first page, a page deep in the
// list, an email search, a status filter, and the whole CSV. PostgreSQL
// (BENCH_DIALECT=sqlite for SQLite).
//
//	go test -run '^$' -bench AdminSubscribers100k -benchtime 1x ./app/restock/
func BenchmarkAdminSubscribers100k(b *testing.B) {
	n, dialect := benchSize()
	e := apptest.New(b, apptest.DatabaseURL(b, dialect))
	e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
	if code, _ := e.Subscribe("first@example.com", variantID); code != 201 {
		b.Fatal("subscribe")
	}
	seedShoppers(b, e, n, func(i int) string { return []string{"waiting", "notified", "converted", "unsubscribed"}[i%4] })
	if dialect == "postgres" {
		e.Store.DB.Exec("ANALYZE subscriptions")
	}
	ctx := b.Context()
	timeIt := func(name string, fn func() int) {
		start := time.Now()
		got := fn()
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, name+"-ms")
		if got == 0 {
			b.Fatalf("%s found nothing", name)
		}
	}
	for range b.N {
		var mid int64
		timeIt("first-page", func() int {
			p, err := e.Flow.Subscribers(ctx, apptest.ShopDomain, rr.SubscriberQuery{})
			if err != nil {
				b.Fatal(err)
			}
			mid = p.Subscribers[0].ID - int64(n/2)
			return len(p.Subscribers)
		})
		timeIt("deep-page", func() int {
			p, err := e.Flow.Subscribers(ctx, apptest.ShopDomain, rr.SubscriberQuery{Before: mid})
			if err != nil {
				b.Fatal(err)
			}
			return len(p.Subscribers)
		})
		timeIt("search", func() int {
			p, err := e.Flow.Subscribers(ctx, apptest.ShopDomain, rr.SubscriberQuery{Search: fmt.Sprintf("shopper%06d", n/2+1)})
			if err != nil {
				b.Fatal(err)
			}
			return int(p.Total)
		})
		timeIt("status-filter", func() int {
			p, err := e.Flow.Subscribers(ctx, apptest.ShopDomain, rr.SubscriberQuery{Status: "converted"})
			if err != nil {
				b.Fatal(err)
			}
			return int(p.Total)
		})
		timeIt("csv", func() int {
			rows, err := e.Flow.ExportSubscribers(ctx, apptest.ShopDomain, rr.SubscriberQuery{}, io.Discard, func() {})
			if err != nil {
				b.Fatal(err)
			}
			return rows
		})
		timeIt("demand", func() int {
			d, err := e.Flow.Demand(ctx, apptest.ShopDomain)
			if err != nil {
				b.Fatal(err)
			}
			return len(d)
		})
	}
}
