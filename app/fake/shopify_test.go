package fake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/restockrelay/restockrelay/app/fake"
)

const (
	testShop  = "fake-shop.myshopify.com"
	testToken = "shpat_test_token"
	bigID     = 271878346596884015 // above 2^53: mangled by any float64 on the way
)

// setupShopify starts a fake with one shop holding a product with two
// variants: a tracked DENY variant stocked at an online and an offline
// location, and a CONTINUE variant with no stock.
func setupShopify(t *testing.T) *fake.Shopify {
	t.Helper()
	_, err := fake.AdminSchema()
	require.NoError(t, err)
	s := fake.NewShopify()
	t.Cleanup(s.Close)
	s.AddShop(testShop, testToken, "EUR")
	s.PutVariant(testShop, fake.Variant{
		ID: bigID, ProductID: 7001, InventoryItemID: 9001,
		Title: "Medium", SKU: "TEE-M", Price: "19.99", Policy: "DENY", Tracked: true,
		ProductTitle: "Tee", Handle: "tee", ProductStatus: "ACTIVE",
		OnlineStoreURL: "https://fake-shop.myshopify.com/products/tee", ImageURL: "https://cdn.example/tee.png",
		Levels: []fake.Level{
			{LocationID: 1, LocationName: "Web", Available: 0, FulfillsOnline: true},
			{LocationID: 2, LocationName: "Shop floor", Available: 4, FulfillsOnline: false},
		},
	})
	s.PutVariant(testShop, fake.Variant{
		ID: 5002, ProductID: 7001, InventoryItemID: 9002,
		Title: "Large", SKU: "TEE-L", Price: "21.00", Policy: "CONTINUE", Tracked: true,
		ProductTitle: "Tee", Handle: "tee", ProductStatus: "ACTIVE",
		OnlineStoreURL: "https://fake-shop.myshopify.com/products/tee", ImageURL: "https://cdn.example/tee.png",
		Levels: []fake.Level{{LocationID: 1, LocationName: "Web", Available: 0, FulfillsOnline: true}},
	})
	return s
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func post(t *testing.T, s *fake.Shopify, token, query string, vars map[string]any) answer {
	t.Helper()
	return postTo(t, s.URL+"/admin/api/2026-10/graphql.json", token, map[string]any{"query": query, "variables": vars})
}

func postTo(t *testing.T, url, token string, payload any) answer {
	t.Helper()
	b, err := json.Marshal(payload)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, raw: string(raw)}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&a.body)
	return a
}

// at walks a decoded answer: at(body, "data", "nodes", 0, "id").
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.Truef(t, ok, "at %v: %T is not an object", p, v)
			v, ok = m[p]
			require.Truef(t, ok, "at %v: no such key in %v", p, m)
		case int:
			l, ok := v.([]any)
			require.Truef(t, ok, "at %v: %T is not a list", p, v)
			require.Less(t, p, len(l))
			v = l[p]
		}
	}
	return v
}

const variantForItem = `query VariantForItem($id: ID!) {
  inventoryItem(id: $id) {
    id tracked
    variants(first: 5) { nodes {
      id legacyResourceId title sku price inventoryPolicy inventoryQuantity sellableOnlineQuantity availableForSale
      product { id title handle status onlineStoreUrl featuredMedia { preview { image { url altText } } } }
    } }
  }
  shop { currencyCode }
}`

func TestShopifyAnswersValidQuery(t *testing.T) {
	t.Parallel()
	s := setupShopify(t)

	a := post(t, s, testToken, variantForItem, map[string]any{"id": "gid://shopify/InventoryItem/9001"})
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Nil(t, a.body["errors"], a.raw)
	item := at(t, a.body, "data", "inventoryItem")
	require.Equal(t, true, at(t, item, "tracked"))
	v := at(t, item, "variants", "nodes", 0)
	require.Equal(t, "gid://shopify/ProductVariant/271878346596884015", at(t, v, "id"))
	require.Equal(t, "271878346596884015", at(t, v, "legacyResourceId"), "UnsignedInt64 is a string")
	require.Equal(t, "19.99", at(t, v, "price"))
	require.Equal(t, "DENY", at(t, v, "inventoryPolicy"))
	require.Equal(t, json.Number("4"), at(t, v, "inventoryQuantity"), "all locations")
	require.Equal(t, json.Number("0"), at(t, v, "sellableOnlineQuantity"), "online locations only")
	require.Equal(t, false, at(t, v, "availableForSale"))
	require.Equal(t, "ACTIVE", at(t, v, "product", "status"))
	require.Equal(t, "https://cdn.example/tee.png", at(t, v, "product", "featuredMedia", "preview", "image", "url"))
	require.Nil(t, at(t, v, "product", "featuredMedia", "preview", "image", "altText"))
	require.Equal(t, "EUR", at(t, a.body, "data", "shop", "currencyCode"))

	cost := at(t, a.body, "extensions", "cost")
	require.NotNil(t, at(t, cost, "requestedQueryCost"))
	require.NotNil(t, at(t, cost, "actualQueryCost"))
	require.Equal(t, json.Number("2000"), at(t, cost, "throttleStatus", "maximumAvailable"))
	require.Equal(t, json.Number("100"), at(t, cost, "throttleStatus", "restoreRate"))

	// Restock at the online location: the online sum and availability move.
	s.SetAvailable(testShop, bigID, 1, 3)
	a = post(t, s, testToken, variantForItem, map[string]any{"id": "gid://shopify/InventoryItem/9001"})
	v = at(t, a.body, "data", "inventoryItem", "variants", "nodes", 0)
	require.Equal(t, json.Number("3"), at(t, v, "sellableOnlineQuantity"))
	require.Equal(t, json.Number("7"), at(t, v, "inventoryQuantity"))
	require.Equal(t, true, at(t, v, "availableForSale"))

	// Unknown ids answer null; the answer keeps the query's field order.
	a = post(t, s, testToken, `{ inventoryItem(id: "gid://shopify/InventoryItem/1") { id } shop { name } }`, nil)
	require.Nil(t, at(t, a.body, "data", "inventoryItem"))
	require.Less(t, strings.Index(a.raw, "inventoryItem"), strings.Index(a.raw, "shop"))

	require.Zero(t, s.InvalidQueries())
}

func TestShopifyExecutor(t *testing.T) {
	t.Parallel()
	s := setupShopify(t)
	s.PutVariant(testShop, fake.Variant{
		ID: 6001, ProductID: 7002, InventoryItemID: 9601, Title: "Default Title", Price: "5.00",
		Policy: "DENY", Tracked: false, ProductTitle: "Sticker", Handle: "sticker", ProductStatus: "DRAFT",
	})

	query := `query Many($ids: [ID!]!, $first: Int!, $skipShop: Boolean!) {
  nodes(ids: $ids) {
    __typename
    ... on ProductVariant { vid: id ...V }
    ... on Product { title }
  }
  product(id: "gid://shopify/Product/7001") {
    variants(first: $first) {
      edges { cursor node { title } }
      nodes { title }
      pageInfo { hasNextPage hasPreviousPage }
    }
  }
  productVariant(id: "gid://shopify/ProductVariant/271878346596884015") {
    inventoryItem {
      inventoryLevels(first: 10) { nodes {
        location { name fulfillsOnlineOrders }
        quantities(names: ["available", "on_hand", "committed"]) { name quantity }
      } }
    }
  }
  shop @skip(if: $skipShop) { currencyCode }
}
fragment V on ProductVariant { title availableForSale inventoryItem { tracked } product { status onlineStoreUrl featuredMedia { id } } }`
	a := post(t, s, testToken, query, map[string]any{
		"ids":      []any{"gid://shopify/ProductVariant/6001", "gid://shopify/ProductVariant/404", "gid://shopify/Product/7001", "gid://shopify/ProductVariant/5002"},
		"first":    1,
		"skipShop": true,
	})
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Nil(t, a.body["errors"], a.raw)

	nodes := at(t, a.body, "data", "nodes").([]any)
	require.Len(t, nodes, 4)
	require.Equal(t, "ProductVariant", at(t, nodes[0], "__typename"))
	require.Equal(t, "gid://shopify/ProductVariant/6001", at(t, nodes[0], "vid"))
	require.Equal(t, true, at(t, nodes[0], "availableForSale"), "untracked is always for sale")
	require.Equal(t, false, at(t, nodes[0], "inventoryItem", "tracked"))
	require.Equal(t, "DRAFT", at(t, nodes[0], "product", "status"))
	require.Nil(t, at(t, nodes[0], "product", "onlineStoreUrl"), "unpublished")
	require.Nil(t, at(t, nodes[0], "product", "featuredMedia"))
	require.Nil(t, nodes[1], "missing id")
	require.Equal(t, map[string]any{"__typename": "Product", "title": "Tee"}, nodes[2])
	require.Equal(t, true, at(t, nodes[3], "availableForSale"), "CONTINUE sells without stock")

	conn := at(t, a.body, "data", "product", "variants")
	require.Len(t, at(t, conn, "nodes"), 1, "first: 1")
	require.Equal(t, "Medium", at(t, conn, "edges", 0, "node", "title"))
	require.NotEmpty(t, at(t, conn, "edges", 0, "cursor"))
	require.Equal(t, true, at(t, conn, "pageInfo", "hasNextPage"))
	require.Equal(t, false, at(t, conn, "pageInfo", "hasPreviousPage"))

	levels := at(t, a.body, "data", "productVariant", "inventoryItem", "inventoryLevels", "nodes").([]any)
	require.Len(t, levels, 2)
	require.Equal(t, "Shop floor", at(t, levels[1], "location", "name"))
	require.Equal(t, false, at(t, levels[1], "location", "fulfillsOnlineOrders"))
	require.Equal(t, []any{
		map[string]any{"name": "available", "quantity": json.Number("4")},
		map[string]any{"name": "on_hand", "quantity": json.Number("4")},
		map[string]any{"name": "committed", "quantity": json.Number("0")},
	}, at(t, levels[1], "quantities"))

	_, hasShop := at(t, a.body, "data").(map[string]any)["shop"]
	require.False(t, hasShop, "@skip")
	require.Zero(t, s.InvalidQueries())

	rec := s.Queries()
	require.Len(t, rec, 1)
	require.Equal(t, "Many", rec[0].OperationName)
	require.Equal(t, testShop, rec[0].Shop)
	require.True(t, rec[0].Valid)
}

func TestShopifyValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	s := setupShopify(t)

	tests := []struct {
		name     string
		query    string
		valid    bool
		wantCode string
		wantText string
	}{
		{
			name:  "deprecated InventoryItem.variant is still valid",
			query: `{ inventoryItem(id: "gid://shopify/InventoryItem/9001") { variant { id } } }`,
			valid: true,
		},
		{
			name:     "unknown field",
			query:    `{ inventoryItem(id: "gid://shopify/InventoryItem/9001") { nope } }`,
			wantCode: "undefinedField",
			wantText: "nope",
		},
		{
			name:     "InventoryLevel.available no longer exists",
			query:    `{ inventoryItem(id: "gid://shopify/InventoryItem/9001") { inventoryLevels(first: 5) { nodes { available } } } }`,
			wantCode: "undefinedField",
			wantText: "available",
		},
		{
			name:     "missing required argument",
			query:    `{ inventoryItem { id } }`,
			wantCode: "missingRequiredArguments",
		},
		{
			name:     "unknown argument",
			query:    `{ inventoryItem(id: "x", foo: 1) { id } }`,
			wantCode: "argumentNotAccepted",
		},
		{
			name:     "object without selection",
			query:    `{ shop }`,
			wantCode: "selectionMismatch",
		},
		{
			name:     "syntax error",
			query:    `{ shop { name }`,
			wantCode: "GRAPHQL_PARSE_FAILED",
		},
		{
			name:     "variable of the wrong type",
			query:    `query($id: Int!) { inventoryItem(id: $id) { id } }`,
			wantCode: "variableMismatch",
		},
		{
			name:     "connection without first or last",
			query:    `{ product(id: "gid://shopify/Product/7001") { variants { nodes { id } } } }`,
			wantText: "you must provide one of first or last",
		},
	}
	wantInvalid := 0
	for _, tt := range tests {
		a := post(t, s, testToken, tt.query, nil)
		require.Equalf(t, http.StatusOK, a.status, "%s: %s", tt.name, a.raw)
		errs, _ := a.body["errors"].([]any)
		if tt.valid {
			require.Emptyf(t, errs, "%s: %s", tt.name, a.raw)
			continue
		}
		wantInvalid++
		require.NotEmptyf(t, errs, "%s: %s", tt.name, a.raw)
		if tt.wantCode != "" {
			require.Equalf(t, tt.wantCode, at(t, errs[0], "extensions", "code"), "%s: %s", tt.name, a.raw)
		}
		require.Containsf(t, at(t, errs[0], "message"), tt.wantText, tt.name)
		if tt.wantCode != "" && tt.wantCode != "GRAPHQL_PARSE_FAILED" {
			require.NotEmptyf(t, at(t, errs[0], "locations"), tt.name)
		}
	}
	require.Equal(t, wantInvalid, s.InvalidQueries())

	valid := 0
	for _, r := range s.Queries() {
		if r.Valid {
			valid++
		}
	}
	require.Equal(t, len(tests)-wantInvalid, valid)
}

func TestShopifyAuthAndFailures(t *testing.T) {
	t.Parallel()
	s := setupShopify(t)
	const q = `{ shop { name } }`

	a := post(t, s, "wrong-token", q, nil)
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.JSONEq(t, `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`, a.raw)

	a = postTo(t, s.URL+"/admin/api/stable/graphql.json", testToken, map[string]any{"query": q})
	require.Equal(t, http.StatusNotFound, a.status, "version must be YYYY-MM")

	resp, err := http.Get(s.URL + "/admin/api/2026-10/graphql.json")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	s.SetDown(true)
	require.Equal(t, http.StatusServiceUnavailable, post(t, s, testToken, q, nil).status)
	s.SetDown(false)

	s.FailNext(http.StatusBadGateway, "<html>bad gateway</html>")
	s.FailNext(http.StatusTooManyRequests, `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`)
	a = post(t, s, testToken, q, nil)
	require.Equal(t, http.StatusBadGateway, a.status)
	require.Equal(t, "<html>bad gateway</html>", a.raw)
	require.Equal(t, http.StatusTooManyRequests, post(t, s, testToken, q, nil).status)
	require.Equal(t, http.StatusOK, post(t, s, testToken, q, nil).status)

	a = postTo(t, s.URL+"/admin/api/2026-10/graphql.json", testToken, map[string]any{"variables": map[string]any{}})
	require.Equal(t, http.StatusBadRequest, a.status, "no query")

	var statuses []int
	for _, r := range s.Queries() {
		statuses = append(statuses, r.Status)
	}
	require.Equal(t, []int{401, 503, 502, 429, 200, 400}, statuses)
	require.Equal(t, 1, s.InvalidQueries(), "only the request without a query")
}

func TestShopifyThrottles(t *testing.T) {
	t.Parallel()
	s := setupShopify(t)
	clock := fake.NewClock(time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC))
	s.NowFunc = clock.Now
	s.SetBucket(100, 10)

	vars := map[string]any{"id": "gid://shopify/InventoryItem/9001"}
	a := post(t, s, testToken, variantForItem, vars)
	require.Nil(t, a.body["errors"], a.raw)
	requested, err := at(t, a.body, "extensions", "cost", "requestedQueryCost").(json.Number).Int64()
	require.NoError(t, err)
	require.Equal(t, int64(29), requested, "1 + (2 + 5 × (1 + 4)) + 1")
	actual, err := at(t, a.body, "extensions", "cost", "actualQueryCost").(json.Number).Int64()
	require.NoError(t, err)
	require.Less(t, actual, requested, "one variant came back, not five")
	left, err := at(t, a.body, "extensions", "cost", "throttleStatus", "currentlyAvailable").(json.Number).Float64()
	require.NoError(t, err)
	require.Equal(t, float64(100-actual), left, "only the actual cost is kept")

	// Spend until the bucket cannot pay for the query.
	var throttled answer
	for i := 0; i < 10; i++ {
		a = post(t, s, testToken, variantForItem, vars)
		if a.body["errors"] != nil {
			throttled = a
			break
		}
	}
	require.NotNil(t, throttled.body, "never throttled")
	require.Equal(t, http.StatusOK, throttled.status)
	require.Nil(t, throttled.body["data"])
	require.Equal(t, "Throttled", at(t, throttled.body, "errors", 0, "message"))
	require.Equal(t, "THROTTLED", at(t, throttled.body, "errors", 0, "extensions", "code"))
	require.Equal(t, "https://shopify.dev/api/usage/rate-limits", at(t, throttled.body, "errors", 0, "extensions", "documentation"))
	require.Nil(t, at(t, throttled.body, "extensions", "cost", "actualQueryCost"))
	avail, err := at(t, throttled.body, "extensions", "cost", "throttleStatus", "currentlyAvailable").(json.Number).Float64()
	require.NoError(t, err)
	require.Less(t, avail, float64(requested))
	require.True(t, s.Queries()[len(s.Queries())-1].Throttled)

	// Waiting (requested - available) / restoreRate seconds is enough.
	clock.Advance(time.Duration((float64(requested) - avail) / 10 * float64(time.Second)))
	a = post(t, s, testToken, variantForItem, vars)
	require.Nil(t, a.body["errors"], a.raw)

	// One query may not ask for more than 1000 points, however full the bucket.
	s.SetBucket(2000, 100)
	a = post(t, s, testToken, `{ product(id: "gid://shopify/Product/7001") {
  variants(first: 50) { nodes { inventoryItem { inventoryLevels(first: 50) { nodes { id } } } } } } }`, nil)
	require.Equal(t, "MAX_COST_EXCEEDED", at(t, a.body, "errors", 0, "extensions", "code"), a.raw)
	require.Nil(t, at(t, a.body, "extensions", "cost", "actualQueryCost"))
	require.Zero(t, s.InvalidQueries())
}

func TestShopifyConcurrentUse(t *testing.T) {
	t.Parallel()
	s := setupShopify(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				s.SetAvailable(testShop, bigID, 1, i*j)
				a := post(t, s, testToken, variantForItem, map[string]any{"id": "gid://shopify/InventoryItem/9001"})
				if a.status != http.StatusOK || a.body["errors"] != nil {
					t.Errorf("answer %d: %s", a.status, a.raw)
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, s.Queries(), 40)
	require.Zero(t, s.InvalidQueries())
}

func TestAdminSchemaLoads(t *testing.T) {
	t.Parallel()
	schema, err := fake.AdminSchema()
	require.NoError(t, err)
	require.Equal(t, "QueryRoot", schema.Query.Name)
	require.NotNil(t, schema.Types["InventoryLevel"].Fields.ForName("quantities"))
	require.Nil(t, schema.Types["InventoryLevel"].Fields.ForName("available"))
	t.Logf("admin schema: %d types, built in %v", len(schema.Types), fake.AdminSchemaLoadTime())
}
