package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/restockrelay/restockrelay/app/apptest"
	"github.com/restockrelay/restockrelay/shopify"
)

// BenchmarkWebhookIntake drives signed inventory_levels/update deliveries
// over loopback at the real app on PostgreSQL (HMAC, record, enqueue,
// commit, answer) and, in the same run, at a bare Echo handler that only
// checks the HMAC. It reports requests per second and p99 latency of both.
//
//	make bench   # or: go test -run '^$' -bench WebhookIntake -benchtime 1x ./app/web/
//
// BENCH_REQUESTS (default 20000) and BENCH_CONCURRENCY (default 50) tune it;
// BENCH_WORKERS=1 also runs River's workers during the load.
func BenchmarkWebhookIntake(b *testing.B) {
	total := envInt("BENCH_REQUESTS", 20000)
	conc := envInt("BENCH_CONCURRENCY", 50)
	dialect := "postgres"
	if v := os.Getenv("BENCH_DIALECT"); v != "" {
		dialect = v
	}
	for range b.N {
		b.StopTimer()
		e := apptest.New(b, apptest.DatabaseURL(b, dialect), apptest.Options{NoStart: os.Getenv("BENCH_WORKERS") == ""})
		bodies := make([][]byte, total)
		sigs := make([]string, total)
		for i := range bodies {
			bodies[i] = apptest.InventoryLevel(int64(1_000_000+i%500), int64(1+i%3), apptest.Int(i%40), e.Clock.Now())
			// Pad to about 1 KiB, like a real payload with its fields.
			bodies[i] = append(bodies[i][:len(bodies[i])-1], []byte(fmt.Sprintf(`,"padding":"%0900d"}`, i))...)
			sigs[i] = shopify.SignWebhook(apptest.Secret, bodies[i])
		}
		bare := echo.New()
		bare.POST("/webhooks", func(c echo.Context) error {
			body, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20+1))
			if err != nil {
				return c.NoContent(http.StatusBadRequest)
			}
			if shopify.VerifyWebhook(body, c.Request().Header.Get(shopify.HeaderHMAC), apptest.Secret) != nil {
				return c.NoContent(http.StatusUnauthorized)
			}
			return c.JSON(http.StatusOK, map[string]string{"status": "queued"})
		})
		bareSrv := httptest.NewServer(bare)
		b.Cleanup(bareSrv.Close)

		b.StartTimer()
		bareRPS, bareP99 := load(b, bareSrv.URL, "bare", bodies, sigs, conc)
		appRPS, appP99 := load(b, e.Server.URL, "app", bodies, sigs, conc)
		b.StopTimer()
		var rows int64
		e.Store.DB.Table("webhooks").Count(&rows)
		if rows != int64(total) {
			b.Fatalf("webhooks recorded = %d, want %d", rows, total)
		}
		b.ReportMetric(bareRPS, "bare-req/s")
		b.ReportMetric(bareP99, "bare-p99-ms")
		b.ReportMetric(appRPS, "app-req/s")
		b.ReportMetric(appP99, "app-p99-ms")
		b.ReportMetric(appRPS/bareRPS, "app/bare")
		commits, n := e.Flow.IntakeStats()
		b.ReportMetric(float64(n)/float64(max(commits, 1)), "deliveries/commit")
		b.ReportMetric(0, "ns/op")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// load sends every body once with conc concurrent keep-alive clients and
// returns requests per second and the 99th percentile latency in ms.
func load(b *testing.B, base, run string, bodies [][]byte, sigs []string, conc int) (float64, float64) {
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	lat := make([]time.Duration, len(bodies))
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, base+"/webhooks", bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(shopify.HeaderTopic, shopify.TopicInventoryLevelsUpdate)
				req.Header.Set(shopify.HeaderShopDomain, apptest.ShopDomain)
				req.Header.Set(shopify.HeaderWebhookID, run+"-"+strconv.Itoa(i))
				req.Header.Set(shopify.HeaderHMAC, sigs[i])
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%s: %d requests failed", run, f)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p99 := lat[len(lat)*99/100]
	return float64(len(bodies)) / elapsed.Seconds(), float64(p99.Microseconds()) / 1000
}
