package shopify_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/shopify"
)

const (
	adminShop  = "restock-test.myshopify.com"
	adminToken = "shpat_0123456789abcdef_SECRET"
	// Above 2^53: any trip through float64 changes it.
	bigVariantID = 271878346596884015
	bigItemID    = 9007199254740993
)

// adminBundle is what the client tests share.
type adminBundle struct {
	fake   *fake.Shopify
	client *shopify.AdminClient
	clock  *fake.Clock
	sleeps *sleepLog
}

// sleepLog records the waits the client asks for, without waiting.
type sleepLog struct {
	mu     sync.Mutex
	waits  []time.Duration
	onWait func(time.Duration)
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	if s.onWait != nil {
		s.onWait(d)
	}
	return ctx.Err()
}

func (s *sleepLog) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// setupAdmin starts a fake Shopify with one shop and a client for it; edit
// the config before the client is built with configure.
func setupAdmin(t *testing.T, configure ...func(*shopify.AdminConfig)) *adminBundle {
	t.Helper()
	// Build the schema first, so no attempt's timeout includes it.
	_, err := fake.AdminSchema()
	require.NoError(t, err)
	b := &adminBundle{
		fake:   fake.NewShopify(),
		clock:  fake.NewClock(time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)),
		sleeps: &sleepLog{},
	}
	t.Cleanup(b.fake.Close)
	b.fake.NowFunc = b.clock.Now
	b.sleeps.onWait = b.clock.Advance
	b.fake.AddShop(adminShop, adminToken, "CAD")
	b.fake.PutVariant(adminShop, fake.Variant{
		ID: bigVariantID, ProductID: 8800000000000001, InventoryItemID: bigItemID,
		Title: "Blue / M", SKU: "HOOD-BL-M", Price: "59.00", Policy: "DENY", Tracked: true,
		ProductTitle: "Hoodie", Handle: "hoodie", ProductStatus: "ACTIVE",
		OnlineStoreURL: "https://restock-test.myshopify.com/products/hoodie", ImageURL: "https://cdn.example/hoodie.png",
		Levels: []fake.Level{
			{LocationID: 101, LocationName: "Warehouse", Available: 2, FulfillsOnline: true},
			{LocationID: 102, LocationName: "Pop-up", Available: -1, FulfillsOnline: true},
			{LocationID: 103, LocationName: "Back room", Available: 5, FulfillsOnline: false},
		},
	})
	b.fake.PutVariant(adminShop, fake.Variant{
		ID: 42, ProductID: 43, InventoryItemID: 44,
		Title: "Default Title", Price: "3.50", Policy: "DENY", Tracked: false,
		ProductTitle: "Gift wrap", Handle: "gift-wrap", ProductStatus: "DRAFT",
	})
	cfg := shopify.AdminConfig{
		Shop:        adminShop,
		AccessToken: adminToken,
		BaseURL:     b.fake.URL,
		SleepFunc:   b.sleeps.sleep,
	}
	for _, f := range configure {
		f(&cfg)
	}
	c, err := shopify.NewAdminClient(cfg)
	require.NoError(t, err)
	b.client = c
	t.Cleanup(func() {
		if !t.Failed() {
			require.Zero(t, b.fake.InvalidQueries(), "every query the client sends must validate")
		}
	})
	return b
}

// requireNoToken checks that an error never shows the access token.
func requireNoToken(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.NotContains(t, err.Error(), adminToken)
	require.NotContains(t, fmt.Sprintf("%+v %#v", err, err), adminToken)
}

func TestAdminVariantsForInventoryItem(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	ctx := context.Background()

	got, err := b.client.VariantsForInventoryItem(ctx, bigItemID)
	require.NoError(t, err)
	require.Equal(t, []shopify.Variant{{
		ID: bigVariantID, ProductID: 8800000000000001, InventoryItemID: bigItemID,
		Title: "Blue / M", SKU: "HOOD-BL-M", Price: "59.00", Currency: "CAD",
		ProductTitle: "Hoodie", Handle: "hoodie", ProductStatus: "ACTIVE",
		ProductURL: "https://restock-test.myshopify.com/products/hoodie", ImageURL: "https://cdn.example/hoodie.png",
		Policy: "DENY", Tracked: true,
		SellableOnline:    1, // 2 + (-1): online locations only, negatives count
		InventoryQuantity: 6,
		AvailableForSale:  true,
		Published:         true,
	}}, got)

	b.fake.SetAvailable(adminShop, bigVariantID, 101, 0)
	got, err = b.client.VariantsForInventoryItem(ctx, bigItemID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, -1, got[0].SellableOnline)
	require.False(t, got[0].AvailableForSale)

	got, err = b.client.VariantsForInventoryItem(ctx, 44)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, int64(42), got[0].ID)
	require.False(t, got[0].Tracked)
	require.False(t, got[0].Published)
	require.Empty(t, got[0].ProductURL)
	require.Empty(t, got[0].ImageURL)
	require.True(t, got[0].AvailableForSale, "untracked")

	_, err = b.client.VariantsForInventoryItem(ctx, 123456)
	require.ErrorIs(t, err, shopify.ErrNotFound)
	requireNoToken(t, err)

	queries := b.fake.Queries()
	require.Len(t, queries, 4)
	for _, q := range queries {
		require.Equal(t, "VariantForItem", q.OperationName)
		require.True(t, q.Valid)
		require.Contains(t, q.Query, "variants(first: 10)")
		require.NotContains(t, q.Query, "variant {", "InventoryItem.variant is deprecated")
	}
	require.Equal(t, "gid://shopify/InventoryItem/9007199254740993", queries[0].Variables["id"])
	require.Empty(t, b.sleeps.all())
}

func TestAdminVariants(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	ctx := context.Background()

	got, err := b.client.Variants(ctx, []int64{42, 999, bigVariantID, 42})
	require.NoError(t, err)
	require.Len(t, got, 2, "missing ids are absent, duplicates once")
	require.Equal(t, int64(42), got[0].ID)
	require.Equal(t, int64(44), got[0].InventoryItemID)
	require.Equal(t, int64(bigVariantID), got[1].ID)
	require.Equal(t, int64(bigItemID), got[1].InventoryItemID)
	require.Equal(t, int64(8800000000000001), got[1].ProductID)
	require.Equal(t, "CAD", got[1].Currency)
	require.True(t, got[1].Tracked)
	require.Equal(t, 1, got[1].SellableOnline)

	none, err := b.client.Variants(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, none)
	require.Len(t, b.fake.Queries(), 1, "no request for no ids")

	// 250 variants go in batches of 100.
	var ids []int64
	for i := int64(1); i <= 250; i++ {
		id := 1_000_000 + i
		ids = append(ids, id)
		b.fake.PutVariant(adminShop, fake.Variant{
			ID: id, ProductID: 2_000_000 + i%7, InventoryItemID: 3_000_000 + i, Title: "V", Price: "1.00",
			Policy: "DENY", Tracked: true, ProductTitle: "P", Handle: "p", ProductStatus: "ACTIVE",
			Levels: []fake.Level{{LocationID: 101, LocationName: "Warehouse", Available: int(i % 3), FulfillsOnline: true}},
		})
	}
	got, err = b.client.Variants(ctx, ids)
	require.NoError(t, err)
	require.Len(t, got, 250)
	for i, v := range got {
		require.Equal(t, ids[i], v.ID, "order kept")
		require.Equal(t, (i+1)%3, v.SellableOnline)
	}
	queries := b.fake.Queries()
	require.Len(t, queries, 4)
	for i, want := range []int{100, 100, 50} {
		q := queries[1+i]
		require.Equal(t, "Variants", q.OperationName)
		require.Len(t, q.Variables["ids"], want)
	}
	require.Empty(t, b.sleeps.all())
}

func TestAdminThrottleWaitsFromCost(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	ctx := context.Background()

	// A throttled answer as Shopify sends it: wait (54 - 4.5) / 10 = 4.95 s.
	b.fake.FailNext(http.StatusOK, `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"}}],
		"extensions":{"cost":{"requestedQueryCost":54,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":4.5,"restoreRate":10.0}}}}`)
	got, err := b.client.VariantsForInventoryItem(ctx, bigItemID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, []time.Duration{4950 * time.Millisecond}, b.sleeps.all())
	require.Len(t, b.fake.Queries(), 2)
}

func TestAdminThrottleAgainstBucket(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	ctx := context.Background()
	b.fake.SetBucket(60, 10) // the query asks for 54 points; the clock stands still

	throttledAt := -1
	for i := 0; i < 20 && throttledAt < 0; i++ {
		_, err := b.client.VariantsForInventoryItem(ctx, bigItemID)
		require.NoError(t, err)
		if len(b.sleeps.all()) > 0 {
			throttledAt = i
		}
	}
	require.GreaterOrEqual(t, throttledAt, 1, "the bucket should run dry")
	waits := b.sleeps.all()
	require.Len(t, waits, 1, "one wait of the computed length is enough")
	require.Greater(t, waits[0], time.Duration(0))
	require.LessOrEqual(t, waits[0], 5400*time.Millisecond, "at most 54 points at 10 per second")

	var throttled int
	for _, q := range b.fake.Queries() {
		if q.Throttled {
			throttled++
		}
	}
	require.Equal(t, 1, throttled)
}

func TestAdminThrottleGivesUp(t *testing.T) {
	t.Parallel()

	t.Run("after MaxRetries", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t, func(c *shopify.AdminConfig) { c.MaxRetries = 2 })
		b.fake.FailNext(http.StatusOK, `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],
			"extensions":{"cost":{"requestedQueryCost":54,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":100.0,"currentlyAvailable":0.0,"restoreRate":1.0}}}}`)
		b.fake.FailNext(http.StatusOK, `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],
			"extensions":{"cost":{"requestedQueryCost":54,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":100.0,"currentlyAvailable":0.0,"restoreRate":1.0}}}}`)
		b.fake.FailNext(http.StatusOK, `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],
			"extensions":{"cost":{"requestedQueryCost":54,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":100.0,"currentlyAvailable":0.0,"restoreRate":1.0}}}}`)
		_, err := b.client.VariantsForInventoryItem(context.Background(), bigItemID)
		require.ErrorIs(t, err, shopify.ErrThrottled)
		requireNoToken(t, err)
		require.Equal(t, []time.Duration{54 * time.Second, 54 * time.Second}, b.sleeps.all())
		require.Len(t, b.fake.Queries(), 3)
	})

	t.Run("query larger than the bucket", func(t *testing.T) {
		t.Parallel()
		b := setupAdmin(t)
		b.fake.SetBucket(50, 10)
		_, err := b.client.VariantsForInventoryItem(context.Background(), bigItemID)
		require.ErrorIs(t, err, shopify.ErrThrottled)
		require.Empty(t, b.sleeps.all(), "waiting cannot help")
		require.Len(t, b.fake.Queries(), 1)
	})
}

func TestAdminRetriesServerErrors(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	b.fake.FailNext(http.StatusServiceUnavailable, "<html><body>Service Unavailable</body></html>")
	b.fake.FailNext(http.StatusBadGateway, `{"errors":"Bad Gateway"}`)
	b.fake.FailNext(http.StatusTooManyRequests, `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`)
	b.fake.FailNext(http.StatusOK, `{"errors":[{"message":"Internal error. Looks like something went wrong on our end.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`)

	got, err := b.client.Variants(context.Background(), []int64{42})
	require.NoError(t, err)
	require.Len(t, got, 1)

	waits := b.sleeps.all()
	require.Len(t, waits, 4)
	for i, w := range waits {
		// Exponential from 500 ms, jittered over the upper half.
		full := 500 * time.Millisecond << i
		require.GreaterOrEqualf(t, w, full/2, "wait %d", i)
		require.LessOrEqualf(t, w, full, "wait %d", i)
	}
	require.Len(t, b.fake.Queries(), 5)
}

func TestAdminServerErrorsGiveUp(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t, func(c *shopify.AdminConfig) { c.MaxRetries = 3 })
	b.fake.SetDown(true)
	_, err := b.client.Variants(context.Background(), []int64{42})
	require.Error(t, err)
	require.Contains(t, err.Error(), "HTTP 503")
	requireNoToken(t, err)
	require.Len(t, b.sleeps.all(), 3)
	require.Len(t, b.fake.Queries(), 4)
}

func TestAdminPermanentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
		want    string
	}{
		{"unauthorized", http.StatusUnauthorized, `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`, shopify.ErrUnauthorized, "unauthorized"},
		{"shop gone", http.StatusNotFound, `{"errors":"Not Found"}`, shopify.ErrNotFound, "404"},
		{"shop frozen", http.StatusPaymentRequired, `{"errors":"Unavailable Shop"}`, shopify.ErrShopUnavailable, "402"},
		{"shop locked", http.StatusLocked, `{"errors":"This shop is unavailable"}`, shopify.ErrShopUnavailable, "423"},
		{"access denied", http.StatusOK, `{"errors":[{"message":"Access denied for inventoryItem field.","extensions":{"code":"ACCESS_DENIED"}}],"data":{"inventoryItem":null}}`, nil, "ACCESS_DENIED: Access denied"},
		{"forbidden", http.StatusForbidden, `{"errors":"Forbidden"}`, nil, "HTTP 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupAdmin(t)
			b.fake.FailNext(tt.status, tt.body)
			_, err := b.client.VariantsForInventoryItem(context.Background(), bigItemID)
			requireNoToken(t, err)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			require.Contains(t, err.Error(), tt.want)
			require.Empty(t, b.sleeps.all(), "no retry")
			require.Len(t, b.fake.Queries(), 1)
		})
	}
}

func TestAdminWrongToken(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	c, err := shopify.NewAdminClient(shopify.AdminConfig{
		Shop: adminShop, AccessToken: "shpat_revoked_token_value", BaseURL: b.fake.URL, SleepFunc: b.sleeps.sleep,
	})
	require.NoError(t, err)
	_, err = c.Variants(context.Background(), []int64{42})
	require.ErrorIs(t, err, shopify.ErrUnauthorized)
	require.NotContains(t, err.Error(), "shpat_revoked_token_value")
	require.Empty(t, b.sleeps.all())
	q := b.fake.Queries()
	require.Len(t, q, 1)
	require.Equal(t, http.StatusUnauthorized, q[0].Status)
}

func TestAdminTimeout(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t, func(c *shopify.AdminConfig) {
		c.Timeout = 50 * time.Millisecond
		c.MaxRetries = 1
	})
	b.fake.SetLatency(5 * time.Second)

	start := time.Now()
	_, err := b.client.Variants(context.Background(), []int64{42})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	requireNoToken(t, err)
	require.Less(t, time.Since(start), 2*time.Second, "each attempt stops at the timeout")
	require.Len(t, b.sleeps.all(), 1, "a timed-out attempt is retried")

	// A cancelled caller stops the retries at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.client.Variants(ctx, []int64{42})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, b.sleeps.all(), 1)
}

func TestAdminRefusesRedirects(t *testing.T) {
	t.Parallel()
	var leaked sync.Map
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store("token", r.Header.Get("X-Shopify-Access-Token"))
	}))
	t.Cleanup(elsewhere.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)

	c, err := shopify.NewAdminClient(shopify.AdminConfig{
		Shop: adminShop, AccessToken: adminToken, BaseURL: redirecting.URL,
		SleepFunc: func(context.Context, time.Duration) error { return nil },
	})
	require.NoError(t, err)
	_, err = c.Variants(context.Background(), []int64{42})
	requireNoToken(t, err)
	require.Contains(t, err.Error(), "HTTP 307")
	_, followed := leaked.Load("token")
	require.False(t, followed, "the token must not follow a redirect")
}

func TestAdminConcurrentCalls(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := b.client.Variants(context.Background(), []int64{42, bigVariantID})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := b.client.VariantsForInventoryItem(context.Background(), bigItemID)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, b.fake.Queries(), 16)
}

func TestNewAdminClientChecksConfig(t *testing.T) {
	t.Parallel()
	ok := shopify.AdminConfig{Shop: adminShop, AccessToken: adminToken}
	tests := []struct {
		name   string
		change func(*shopify.AdminConfig)
	}{
		{"bad shop", func(c *shopify.AdminConfig) { c.Shop = "evil.example.com" }},
		{"no token", func(c *shopify.AdminConfig) { c.AccessToken = "" }},
		{"stable version", func(c *shopify.AdminConfig) { c.APIVersion = "stable" }},
		{"unstable version", func(c *shopify.AdminConfig) { c.APIVersion = "unstable" }},
		{"base URL without scheme", func(c *shopify.AdminConfig) { c.BaseURL = "127.0.0.1:8080" }},
		{"base URL with query", func(c *shopify.AdminConfig) { c.BaseURL = "http://127.0.0.1:8080/?x=1" }},
	}
	for _, tt := range tests {
		cfg := ok
		tt.change(&cfg)
		_, err := shopify.NewAdminClient(cfg)
		require.Errorf(t, err, tt.name)
		require.NotContainsf(t, err.Error(), adminToken, tt.name)
	}
	_, err := shopify.NewAdminClient(ok)
	require.NoError(t, err)
	_, err = shopify.NewAdminClient(shopify.AdminConfig{Shop: adminShop, AccessToken: adminToken, APIVersion: "2026-07"})
	require.NoError(t, err)
}

func TestParseGID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		gid      string
		wantKind string
		wantID   int64
		wantErr  bool
	}{
		{gid: "gid://shopify/ProductVariant/271878346596884015", wantKind: "ProductVariant", wantID: 271878346596884015},
		{gid: "gid://shopify/InventoryItem/9223372036854775807", wantKind: "InventoryItem", wantID: 9223372036854775807},
		{gid: "gid://shopify/InventoryLevel/101?inventory_item_id=7", wantKind: "InventoryLevel", wantID: 101},
		{gid: "gid://shopify/Product/0", wantErr: true},
		{gid: "gid://shopify/Product/-5", wantErr: true},
		{gid: "gid://shopify/Product/+5", wantErr: true},
		{gid: "gid://shopify/Product/9223372036854775808", wantErr: true},
		{gid: "gid://shopify/Product/1e3", wantErr: true},
		{gid: "gid://shopify/Product/", wantErr: true},
		{gid: "gid://shopify//12", wantErr: true},
		{gid: "gid://shopify/Product/1/2", wantErr: true},
		{gid: "gid://other/Product/12", wantErr: true},
		{gid: "12", wantErr: true},
		{gid: "", wantErr: true},
	}
	for _, tt := range tests {
		kind, id, err := shopify.ParseGID(tt.gid)
		if tt.wantErr {
			require.Errorf(t, err, "ParseGID(%q)", tt.gid)
			continue
		}
		require.NoErrorf(t, err, "ParseGID(%q)", tt.gid)
		require.Equalf(t, tt.wantKind, kind, "ParseGID(%q)", tt.gid)
		require.Equalf(t, tt.wantID, id, "ParseGID(%q)", tt.gid)
		if !strings.Contains(tt.gid, "?") {
			require.Equal(t, tt.gid, shopify.GID(kind, id), "round trip")
		}
	}
}

func ExampleParseGID() {
	kind, id, err := shopify.ParseGID("gid://shopify/ProductVariant/271878346596884015")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(kind, id)
	fmt.Println(shopify.GID("InventoryItem", 42))
	// Output:
	// ProductVariant 271878346596884015
	// gid://shopify/InventoryItem/42
}
