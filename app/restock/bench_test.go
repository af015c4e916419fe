package restock_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// BenchmarkRestock100k: 100,000 waiting shoppers, one restock webhook, until
// every step-1 email is accepted by the fake SendGrid. Reports wall time,
// provider requests and peak heap. PostgreSQL (BENCH_DIALECT=sqlite for SQLite).
//
//	make bench   # or: go test -run '^$' -bench Restock100k -benchtime 1x ./app/restock/
func BenchmarkRestock100k(b *testing.B) {
	n, dialect := benchSize()
	for range b.N {
		b.StopTimer()
		e := apptest.New(b, apptest.DatabaseURL(b, dialect))
		e.SendGrid.KeepBodies = false
		e.Shopify.PutVariant(apptest.ShopDomain, apptest.Variant(variantID))
		if code, _ := e.Subscribe("first@example.com", variantID); code != 201 {
			b.Fatal("subscribe")
		}
		now := e.Clock.Now()
		seedShoppers(b, e, n, func(int) string { return "waiting" })
		runtime.GC()
		var peak atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		e.Shopify.SetAvailable(apptest.ShopDomain, variantID, 1, 500)
		b.StartTimer()
		start := time.Now()
		e.Webhook(shopify.TopicInventoryLevelsUpdate, apptest.InventoryLevel(itemID(), 1, apptest.Int(500), now))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		for e.SendGrid.RecipientCount() < n && ctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
		}
		cancel()
		wall := time.Since(start)
		b.StopTimer()
		close(stop)
		e.Drain()
		if got := e.SendGrid.RecipientCount(); got != n {
			b.Fatalf("delivered %d of %d", got, n)
		}
		var sent int64
		e.Store.DB.Model(&store.Message{}).Where("status = ?", store.MsgSent).Count(&sent)
		if sent != int64(n) {
			b.Fatalf("sent rows %d of %d", sent, n)
		}
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(float64(e.SendGrid.Attempts()), "requests")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(0, "ns/op")
	}
}

// seedShoppers stores shoppers 1..n-1 of variantID (shopper000001@…) with
// the status status(i), 5,000 rows per INSERT.
func seedShoppers(b *testing.B, e *apptest.Env, n int, status func(i int) string) {
	b.Helper()
	now := e.Clock.Now()
	var rows strings.Builder
	for start := 1; start < n; start += 5000 {
		rows.Reset()
		args := []any{}
		for i := start; i < min(start+5000, n); i++ {
			if rows.Len() > 0 {
				rows.WriteString(",")
			}
			rows.WriteString("(?, ?, 0, ?, 'en', false, ?, 0, ?, ?)")
			args = append(args, e.Shop.ID, variantID, fmt.Sprintf("shopper%06d@example.com", i), status(i), now, now)
		}
		if err := e.Store.DB.Exec("INSERT INTO subscriptions (shop_id, variant_id, product_id, email, locale, accepts_marketing, status, cycles, created_at, updated_at) VALUES "+rows.String(), args...).Error; err != nil {
			b.Fatal(err)
		}
	}
}

// benchSize is the benchmarks' shopper count (BENCH_SHOPPERS, default
// 100,000) and database (BENCH_DIALECT, default postgres).
func benchSize() (int, string) {
	n := 100_000
	if v := os.Getenv("BENCH_SHOPPERS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	dialect := "postgres"
	if v := os.Getenv("BENCH_DIALECT"); v != "" {
		dialect = v
	}
	return n, dialect
}
