package fake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
)

// Shopify is a local fake of Shopify's Admin GraphQL API
// (POST /admin/api/{version}/graphql.json). Every query is parsed and
// validated against the real 2026-10 Admin schema (see AdminSchema) before it
// is answered from in-memory data; invalid ones get Shopify's error shape and
// are counted by InvalidQueries. Requests are authenticated by the
// X-Shopify-Access-Token of a shop added with AddShop and charged against a
// per-shop leaky bucket of query cost, as Shopify does.
//
// A Shopify is safe for concurrent use. Set NowFunc before the first request.
type Shopify struct {
	// URL is the base URL of the fake, to use in place of https://{shop}.
	URL string
	// NowFunc is the clock of the cost buckets; nil means time.Now.
	NowFunc func() time.Time

	srv *httptest.Server

	mu         sync.Mutex
	shops      map[string]*fakeShop // by shop domain
	tokens     map[string]string    // access token -> shop domain
	queries    []QueryRecord
	invalid    int
	down       bool
	failures   []failure
	latency    time.Duration
	bucketMax  float64
	bucketRate float64
	nextShopID int64

	oauthMu sync.Mutex
	oauth   *oauthState // token endpoint state, created on first use
}

// QueryRecord is one request the GraphQL endpoint received.
type QueryRecord struct {
	Shop          string         // shop the access token belongs to; "" if unknown
	OperationName string         // from the request, else from the query document
	Query         string         // the query text as sent
	Variables     map[string]any // numbers are json.Number
	Valid         bool           // the query parsed and validated against the schema
	Status        int            // HTTP status of the answer
	Throttled     bool           // answered with a THROTTLED error
	Errors        []string       // messages of the GraphQL errors in the answer
}

// Variant is a product variant as the fake stores it, with its product and
// the levels of its inventory item.
type Variant struct {
	ID, ProductID, InventoryItemID int64
	Title, SKU, Price              string
	Policy                         string // "DENY" or "CONTINUE"
	Tracked                        bool
	ProductTitle, Handle           string
	ProductStatus                  string // ACTIVE, DRAFT or ARCHIVED
	OnlineStoreURL                 string // "" = not published on the Online Store (onlineStoreUrl null)
	ImageURL                       string // "" = no featured media
	Levels                         []Level
}

// Level is the stock of an inventory item at one location.
type Level struct {
	LocationID     int64
	LocationName   string
	Available      int
	FulfillsOnline bool
}

type failure struct {
	status int
	body   string
}

type bucket struct {
	available float64
	last      time.Time
}

type fakeShop struct {
	domain   string
	id       int64
	currency string
	variants map[int64]*Variant
	order    []int64           // variant ids in insertion order
	levels   map[int64][]Level // by inventory item id
	bucket   bucket
	theme    string            // the published theme's name ("" for none)
	files    map[string]string // its files by name
	graph    *graph            // rebuilt on every change; never mutated once built
}

// graph is the object graph of one shop the executor reads.
type graph struct {
	nodes  map[string]map[string]any
	shop   map[string]any
	themes []any
}

const (
	defaultBucketMax  = 2000
	defaultBucketRate = 100
	maxQueryCost      = 1000

	invalidTokenBody = `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`
	rateLimitDocs    = "https://shopify.dev/api/usage/rate-limits"
)

var apiVersionPattern = regexp.MustCompile(`^\d{4}-\d{2}$`)

// NewShopify starts a fake Shopify on 127.0.0.1. Close it when done.
func NewShopify() *Shopify {
	s := &Shopify{
		shops:      map[string]*fakeShop{},
		tokens:     map[string]string{},
		bucketMax:  defaultBucketMax,
		bucketRate: defaultBucketRate,
		nextShopID: 68_000_000_001,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/api/{version}/graphql.json", s.expireOAuthTokens(s.serveGraphQL))
	mux.HandleFunc("POST /admin/oauth/access_token", s.serveOAuthToken) // see oauth.go
	mux.HandleFunc("GET /admin/oauth/authorize", s.serveAuthorize)      // see oauth.go
	s.srv = &httptest.Server{
		Listener: mustListen(),
		Config:   &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
	}
	s.srv.Start()
	s.URL = s.srv.URL
	// Build the schema while the caller sets up, not on its first request.
	go func() { _, _ = AdminSchema() }()
	return s
}

func mustListen() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("fake shopify: listen on 127.0.0.1: %v", err))
	}
	return l
}

// Close shuts the server down.
func (s *Shopify) Close() { s.srv.Close() }

// AddShop registers a shop (x.myshopify.com), the access token that
// authenticates it and its currency code (e.g. "EUR"). Adding a shop again
// keeps its data and replaces its token and currency (a token rotation).
func (s *Shopify) AddShop(shop, accessToken, currency string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shops[shop]
	if sh == nil {
		sh = &fakeShop{
			domain:   shop,
			id:       s.nextShopID,
			variants: map[int64]*Variant{},
			levels:   map[int64][]Level{},
		}
		s.nextShopID++
		s.shops[shop] = sh
	}
	sh.currency = currency
	for tok, d := range s.tokens {
		if d == shop {
			delete(s.tokens, tok)
		}
	}
	s.tokens[accessToken] = shop
	sh.rebuild()
}

// PutVariant inserts or replaces a variant of shop, the fields of its product
// (shared with the product's other variants: the last put wins) and the levels
// of its inventory item. It panics if the shop was not added.
func (s *Shopify) PutVariant(shop string, v Variant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.mustShop(shop)
	v.Levels = append([]Level(nil), v.Levels...)
	if _, ok := sh.variants[v.ID]; !ok {
		sh.order = append(sh.order, v.ID)
	}
	sh.variants[v.ID] = &v
	sh.levels[v.InventoryItemID] = v.Levels
	for _, other := range sh.variants {
		if other.ProductID == v.ProductID {
			other.ProductTitle, other.Handle, other.ProductStatus = v.ProductTitle, v.Handle, v.ProductStatus
			other.OnlineStoreURL, other.ImageURL = v.OnlineStoreURL, v.ImageURL
		}
	}
	sh.rebuild()
}

// SetAvailable sets the available quantity of a variant's inventory item at
// a location (adding an online-fulfilling level there if it has none). It
// panics if the shop or the variant is unknown.
func (s *Shopify) SetAvailable(shop string, variantID, locationID int64, available int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.mustShop(shop)
	v := sh.variants[variantID]
	if v == nil {
		panic(fmt.Sprintf("fake shopify: shop %s has no variant %d", shop, variantID))
	}
	levels := append([]Level(nil), sh.levels[v.InventoryItemID]...)
	found := false
	for i := range levels {
		if levels[i].LocationID == locationID {
			levels[i].Available = available
			found = true
		}
	}
	if !found {
		levels = append(levels, Level{
			LocationID:     locationID,
			LocationName:   "Location " + strconv.FormatInt(locationID, 10),
			Available:      available,
			FulfillsOnline: true,
		})
	}
	sh.levels[v.InventoryItemID] = levels
	sh.rebuild()
}

// SetThemeFile writes a file of the shop's published theme (named theme),
// such as templates/product.json with an app block in it; content ""
// removes the file.
func (s *Shopify) SetThemeFile(shop, theme, filename, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.mustShop(shop)
	sh.theme = theme
	if sh.files == nil {
		sh.files = map[string]string{}
	}
	if content == "" {
		delete(sh.files, filename)
	} else {
		sh.files[filename] = content
	}
	sh.rebuild()
}

func (s *Shopify) mustShop(shop string) *fakeShop {
	sh := s.shops[shop]
	if sh == nil {
		panic(fmt.Sprintf("fake shopify: unknown shop %q (call AddShop first)", shop))
	}
	return sh
}

// Queries returns every GraphQL request received so far, oldest first.
func (s *Shopify) Queries() []QueryRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]QueryRecord(nil), s.queries...)
}

// InvalidQueries counts requests whose query (or variables) did not pass
// validation against the Admin schema, or whose body was not a GraphQL
// request at all.
func (s *Shopify) InvalidQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invalid
}

// SetDown makes every request fail with 503 while down is true.
func (s *Shopify) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// FailNext makes the next request (after any queued before) fail with the
// given status and body.
func (s *Shopify) FailNext(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{status, body})
}

// SetLatency delays every answer by d (or until the client gives up).
func (s *Shopify) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetBucket sets the size and restore rate (points per second) of every
// shop's cost bucket and fills the buckets. The default is 2000 and 100/s
// (Shopify's Standard plan).
func (s *Shopify) SetBucket(maxAvailable, restoreRate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucketMax, s.bucketRate = maxAvailable, restoreRate
	for _, sh := range s.shops {
		sh.bucket = bucket{}
	}
}

func (s *Shopify) now() time.Time {
	if s.NowFunc != nil {
		return s.NowFunc()
	}
	return time.Now()
}

type graphQLRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

type throttleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

type queryCostInfo struct {
	RequestedQueryCost int            `json:"requestedQueryCost"`
	ActualQueryCost    *int           `json:"actualQueryCost"`
	ThrottleStatus     throttleStatus `json:"throttleStatus"`
}

type costExtension struct {
	Cost queryCostInfo `json:"cost"`
}

type graphQLResponse struct {
	Data       any            `json:"data,omitempty"`
	Errors     []gqlError     `json:"errors,omitempty"`
	Extensions *costExtension `json:"extensions,omitempty"`
}

func (s *Shopify) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	if !apiVersionPattern.MatchString(version) {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	latency := s.latency
	shop := s.tokens[r.Header.Get("X-Shopify-Access-Token")]
	s.mu.Unlock()

	var req graphQLRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = decodeJSON(bytes.NewReader(body), &req)
	}

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	badBody := err != nil || strings.TrimSpace(req.Query) == ""

	// Validate every query whatever the answer will be, so a test sees a bad
	// query even when it asked for a failure.
	var prepared *preparedQuery
	var errs []gqlError
	if !badBody {
		prepared, errs = prepare(req)
	}

	out := s.answer(shop, prepared, errs, badBody)

	rec := QueryRecord{
		Shop:          shop,
		OperationName: req.OperationName,
		Query:         req.Query,
		Variables:     req.Variables,
		Valid:         !badBody && len(errs) == 0 && !out.rejected,
		Status:        out.status,
		Throttled:     out.throttled,
		Errors:        out.errors,
	}
	if rec.OperationName == "" && prepared != nil {
		rec.OperationName = prepared.op.Name
	}
	s.mu.Lock()
	s.queries = append(s.queries, rec)
	if !rec.Valid {
		s.invalid++
	}
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Shopify-API-Version", version)
	w.WriteHeader(out.status)
	_, _ = w.Write(out.body)
}

// outcome is the answer to one request and what the fake notes about it.
type outcome struct {
	status    int
	body      []byte
	throttled bool
	rejected  bool     // arguments Shopify refuses while running the query
	errors    []string // messages of the GraphQL errors in the answer
}

func graphQLOutcome(resp graphQLResponse) outcome {
	out := outcome{status: http.StatusOK, body: mustJSON(resp)}
	for _, e := range resp.Errors {
		out.errors = append(out.errors, e.Message)
	}
	return out
}

// answer decides the response to one request, in Shopify's order: outage,
// authentication, request shape, validation, cost limits, then data.
func (s *Shopify) answer(shop string, prepared *preparedQuery, errs []gqlError, badBody bool) outcome {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return outcome{status: http.StatusServiceUnavailable, body: []byte(`{"errors":"Service Unavailable"}`)}
	}
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		s.mu.Unlock()
		return outcome{status: f.status, body: []byte(f.body)}
	}
	sh := s.shops[shop]
	if sh == nil {
		s.mu.Unlock()
		return outcome{status: http.StatusUnauthorized, body: []byte(invalidTokenBody)}
	}
	g := sh.graph
	s.mu.Unlock()

	if badBody {
		return outcome{
			status: http.StatusBadRequest,
			body:   []byte(`{"errors":{"query":"Required parameter missing or invalid"}}`),
			errors: []string{"query: Required parameter missing or invalid"},
		}
	}
	if len(errs) > 0 {
		return graphQLOutcome(graphQLResponse{Errors: errs})
	}

	resp := graphQLResponse{Extensions: &costExtension{}}
	cost := &resp.Extensions.Cost
	cost.RequestedQueryCost = prepared.cost

	if prepared.cost > maxQueryCost {
		cost.ThrottleStatus = s.peekBucket(shop)
		resp.Errors = []gqlError{{
			Message: fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).\n\n"+
				"See %s for more information on how the\ncost of a query is calculated.\n\n"+
				"To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"+
				"See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n",
				prepared.cost, maxQueryCost, rateLimitDocs),
			Extensions: map[string]any{"code": "MAX_COST_EXCEEDED", "cost": prepared.cost, "maxCost": maxQueryCost},
		}}
		return graphQLOutcome(resp)
	}

	ts, ok := s.takeFromBucket(shop, float64(prepared.cost))
	if !ok {
		cost.ThrottleStatus = ts
		resp.Errors = []gqlError{{
			Message:    "Throttled",
			Extensions: map[string]any{"code": "THROTTLED", "documentation": rateLimitDocs},
		}}
		out := graphQLOutcome(resp)
		out.throttled = true
		return out
	}

	ex := &executor{
		schema: prepared.schema,
		doc:    prepared.doc,
		vars:   prepared.vars,
		lookup: func(gid string) map[string]any { return g.nodes[gid] },
	}
	data := ex.run(prepared.op, g.root())
	actual := min(ex.actualCost, prepared.cost)
	cost.ActualQueryCost = &actual
	cost.ThrottleStatus = s.refundBucket(shop, float64(prepared.cost-actual))
	if data != nil {
		resp.Data = data
	}
	resp.Errors = ex.errs
	out := graphQLOutcome(resp)
	out.rejected = ex.rejected
	return out
}

// preparedQuery is a validated request, ready to run.
type preparedQuery struct {
	schema *ast.Schema
	doc    *ast.QueryDocument
	op     *ast.OperationDefinition
	vars   map[string]any
	cost   int
}

func prepare(req graphQLRequest) (*preparedQuery, []gqlError) {
	schema, err := AdminSchema()
	if err != nil {
		return nil, []gqlError{{Message: "fake shopify: " + err.Error(), Extensions: map[string]any{"code": "INTERNAL_SERVER_ERROR"}}}
	}
	doc, errs := validateQuery(schema, req.Query)
	if len(errs) > 0 {
		return nil, errs
	}
	op, err := selectOperation(doc, req.OperationName)
	if err != nil {
		return nil, []gqlError{{Message: err.Error(), Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}}
	}
	vars, err := validator.VariableValues(schema, op, req.Variables)
	if err != nil {
		// Shopify (graphql-ruby) names the variable and explains the problem.
		name, problem := "", err.Error()
		var gqe *gqlerror.Error
		if errors.As(err, &gqe) {
			problem = gqe.Message
			for _, p := range gqe.Path {
				if n, ok := p.(ast.PathName); ok && n != "variable" && name == "" {
					name = string(n)
				}
			}
		}
		msg := "Variable was provided invalid value"
		if vd := op.VariableDefinitions.ForName(name); vd != nil {
			msg = fmt.Sprintf("Variable $%s of type %s was provided invalid value", name, vd.Type.String())
		}
		return nil, []gqlError{{
			Message: msg,
			Extensions: map[string]any{
				"code":     "INVALID_VARIABLE",
				"value":    req.Variables[name],
				"problems": []any{map[string]any{"path": []any{}, "explanation": problem}},
			},
		}}
	}
	p := &preparedQuery{schema: schema, doc: doc, op: op, vars: vars}
	p.cost = queryCost(schema, doc, op, vars)
	return p, nil
}

// refill brings a bucket up to date; callers hold s.mu.
func (s *Shopify) refill(b *bucket) {
	now := s.now()
	if b.last.IsZero() {
		b.available = s.bucketMax
	} else if d := now.Sub(b.last).Seconds(); d > 0 {
		b.available = math.Min(s.bucketMax, b.available+d*s.bucketRate)
	}
	b.last = now
}

func (s *Shopify) status(b *bucket) throttleStatus {
	return throttleStatus{MaximumAvailable: s.bucketMax, CurrentlyAvailable: b.available, RestoreRate: s.bucketRate}
}

func (s *Shopify) peekBucket(shop string) throttleStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.shops[shop].bucket
	s.refill(b)
	return s.status(b)
}

func (s *Shopify) takeFromBucket(shop string, cost float64) (throttleStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.shops[shop].bucket
	s.refill(b)
	if cost > b.available+1e-6 { // a client that waited the computed time must get through
		return s.status(b), false
	}
	b.available -= cost
	return s.status(b), true
}

func (s *Shopify) refundBucket(shop string, points float64) throttleStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.shops[shop].bucket
	s.refill(b)
	b.available = math.Min(s.bucketMax, b.available+points)
	return s.status(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return mustJSON(graphQLResponse{Errors: []gqlError{{
			Message:    "fake shopify: encode answer: " + err.Error(),
			Extensions: map[string]any{"code": "INTERNAL_SERVER_ERROR"},
		}}})
	}
	return b
}

// GIDs of the fake's objects.
func gid(kind string, id int64) string {
	return "gid://shopify/" + kind + "/" + strconv.FormatInt(id, 10)
}

func levelGID(locationID, itemID int64) string {
	return gid("InventoryLevel", locationID) + "?inventory_item_id=" + strconv.FormatInt(itemID, 10)
}

// quantityNames are the inventory states InventoryLevel.quantities knows.
var quantityNames = map[string]bool{
	"available": true, "committed": true, "damaged": true, "incoming": true, "on_hand": true,
	"quality_control": true, "reserved": true, "safety_stock": true,
}

// rebuild recomputes the shop's object graph; callers hold s.mu.
func (sh *fakeShop) rebuild() {
	g := &graph{nodes: map[string]map[string]any{}}
	g.shop = map[string]any{
		"__typename":      "Shop",
		"id":              gid("Shop", sh.id),
		"name":            strings.TrimSuffix(sh.domain, ".myshopify.com"),
		"myshopifyDomain": sh.domain,
		"currencyCode":    sh.currency,
		"url":             "https://" + sh.domain,
		"ianaTimezone":    "UTC",
	}

	itemVariants := map[int64][]any{}
	productVariants := map[int64][]any{}
	var productOrder, itemOrder []int64
	for _, id := range sh.order {
		v := sh.variants[id]
		if _, ok := productVariants[v.ProductID]; !ok {
			productOrder = append(productOrder, v.ProductID)
		}
		productVariants[v.ProductID] = append(productVariants[v.ProductID], ref(gid("ProductVariant", v.ID)))
		if _, ok := itemVariants[v.InventoryItemID]; !ok {
			itemOrder = append(itemOrder, v.InventoryItemID)
		}
		itemVariants[v.InventoryItemID] = append(itemVariants[v.InventoryItemID], ref(gid("ProductVariant", v.ID)))
	}

	productTotals := map[int64]int{}
	productTracked := map[int64]bool{}
	for _, id := range sh.order {
		v := sh.variants[id]
		var online, total int
		for _, l := range sh.levels[v.InventoryItemID] {
			total += l.Available
			if l.FulfillsOnline {
				online += l.Available
			}
		}
		productTotals[v.ProductID] += total
		productTracked[v.ProductID] = productTracked[v.ProductID] || v.Tracked
		g.nodes[gid("ProductVariant", v.ID)] = map[string]any{
			"__typename":             "ProductVariant",
			"id":                     gid("ProductVariant", v.ID),
			"legacyResourceId":       v.ID,
			"title":                  v.Title,
			"displayName":            v.ProductTitle + " - " + v.Title,
			"sku":                    v.SKU,
			"price":                  v.Price,
			"inventoryPolicy":        v.Policy,
			"inventoryQuantity":      total,
			"sellableOnlineQuantity": online,
			"availableForSale":       v.Policy == "CONTINUE" || !v.Tracked || online > 0,
			"product":                ref(gid("Product", v.ProductID)),
			"inventoryItem":          ref(gid("InventoryItem", v.InventoryItemID)),
		}
	}

	for _, pid := range productOrder {
		first := sh.variants[sh.firstVariantOfProduct(pid)]
		p := map[string]any{
			"__typename":            "Product",
			"id":                    gid("Product", pid),
			"legacyResourceId":      pid,
			"title":                 first.ProductTitle,
			"handle":                first.Handle,
			"status":                first.ProductStatus,
			"onlineStoreUrl":        nil,
			"featuredMedia":         nil,
			"featuredImage":         nil,
			"variants":              productVariants[pid],
			"totalInventory":        productTotals[pid],
			"tracksInventory":       productTracked[pid],
			"hasOnlyDefaultVariant": len(productVariants[pid]) == 1,
			"variantsCount":         map[string]any{"count": len(productVariants[pid]), "precision": "EXACT"},
		}
		if first.OnlineStoreURL != "" {
			p["onlineStoreUrl"] = first.OnlineStoreURL
		}
		if first.ImageURL != "" {
			image := map[string]any{
				"__typename": "Image",
				"id":         gid("ImageSource", pid),
				"url":        first.ImageURL,
				"altText":    nil,
			}
			p["featuredImage"] = image
			p["featuredMedia"] = map[string]any{
				"__typename":       "MediaImage",
				"id":               gid("MediaImage", pid),
				"alt":              "",
				"mediaContentType": "IMAGE",
				"status":           "READY",
				"image":            image,
				"preview":          map[string]any{"__typename": "MediaPreviewImage", "status": "READY", "image": image},
			}
		}
		g.nodes[gid("Product", pid)] = p
	}

	locations := map[int64]map[string]any{}
	for _, itemID := range itemOrder {
		variantIDs := itemVariants[itemID]
		first := sh.variants[sh.firstVariantOfItem(itemID)]
		itemGID := gid("InventoryItem", itemID)
		var levels []any
		byLocation := map[string]any{}
		for _, l := range sh.levels[itemID] {
			locGID := gid("Location", l.LocationID)
			if _, ok := locations[l.LocationID]; !ok {
				locations[l.LocationID] = map[string]any{
					"__typename":           "Location",
					"id":                   locGID,
					"legacyResourceId":     l.LocationID,
					"name":                 l.LocationName,
					"isActive":             true,
					"fulfillsOnlineOrders": l.FulfillsOnline,
					"shipsInventory":       true,
				}
			}
			levelID := levelGID(l.LocationID, itemID)
			quantities := map[string]int{"available": l.Available, "on_hand": l.Available}
			node := map[string]any{
				"__typename":    "InventoryLevel",
				"id":            levelID,
				"isActive":      true,
				"canDeactivate": true,
				"location":      ref(locGID),
				"item":          ref(itemGID),
				"quantities": fieldFunc(func(args map[string]any) (any, error) {
					names, _ := args["names"].([]any)
					out := make([]any, 0, len(names))
					for _, n := range names {
						name, _ := n.(string)
						if !quantityNames[name] {
							return nil, fmt.Errorf("quantity name %q is not valid", name)
						}
						out = append(out, map[string]any{
							"__typename": "InventoryQuantity",
							"id":         "gid://shopify/InventoryQuantity/" + strconv.FormatInt(l.LocationID, 10) + "?inventory_item_id=" + strconv.FormatInt(itemID, 10) + "&name=" + name,
							"name":       name,
							"quantity":   quantities[name],
						})
					}
					return out, nil
				}),
			}
			g.nodes[levelID] = node
			levels = append(levels, ref(levelID))
			byLocation[locGID] = ref(levelID)
		}
		g.nodes[itemGID] = map[string]any{
			"__typename":       "InventoryItem",
			"id":               itemGID,
			"legacyResourceId": itemID,
			"tracked":          first.Tracked,
			"sku":              first.SKU,
			"requiresShipping": true,
			"variant":          variantIDs[0],
			"variants":         variantIDs,
			"inventoryLevels":  levels,
			"inventoryLevel": fieldFunc(func(args map[string]any) (any, error) {
				id, _ := args["locationId"].(string)
				return byLocation[id], nil
			}),
		}
	}
	for _, loc := range locations {
		g.nodes[loc["id"].(string)] = loc
	}
	g.themes = sh.themeNodes()
	sh.graph = g
}

// themeNodes is the published theme with its files, filtered by
// files(filenames:) globs as Shopify does ('*' matches any run).
func (sh *fakeShop) themeNodes() []any {
	if sh.theme == "" {
		return []any{}
	}
	names := make([]string, 0, len(sh.files))
	for n := range sh.files {
		names = append(names, n)
	}
	sort.Strings(names)
	files := sh.files
	return []any{map[string]any{
		"__typename": "OnlineStoreTheme",
		"id":         gid("OnlineStoreTheme", sh.id),
		"name":       sh.theme,
		"role":       "MAIN",
		"files": fieldFunc(func(args map[string]any) (any, error) {
			globs, _ := args["filenames"].([]any)
			if len(globs) > 50 {
				return nil, fmt.Errorf("at most 50 filenames can be specified")
			}
			out := []any{}
			for _, n := range names {
				match := len(globs) == 0
				for _, g := range globs {
					pat, _ := g.(string)
					if globAll(pat, n) {
						match = true
					}
				}
				if match {
					out = append(out, map[string]any{
						"__typename": "OnlineStoreThemeFile",
						"filename":   n,
						"size":       len(files[n]),
						"body":       map[string]any{"__typename": "OnlineStoreThemeFileBodyText", "content": files[n]},
					})
				}
			}
			return out, nil
		}),
	}}
}

// globAll matches Shopify's filename globs, where '*' also crosses '/'.
func globAll(pat, name string) bool {
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(name, p)
		}
		j := strings.Index(name, p)
		if j < 0 {
			return false
		}
		name = name[j+len(p):]
	}
	return true
}

func (sh *fakeShop) firstVariantOfProduct(productID int64) int64 {
	for _, id := range sh.order {
		if sh.variants[id].ProductID == productID {
			return id
		}
	}
	return 0
}

func (sh *fakeShop) firstVariantOfItem(itemID int64) int64 {
	for _, id := range sh.order {
		if sh.variants[id].InventoryItemID == itemID {
			return id
		}
	}
	return 0
}

// root is the QueryRoot object of the graph.
func (g *graph) root() map[string]any {
	typed := func(typename string) fieldFunc {
		return func(args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			n := g.nodes[id]
			if n == nil || n["__typename"] != typename {
				return nil, nil
			}
			return n, nil
		}
	}
	return map[string]any{
		"shop": g.shop,
		"themes": fieldFunc(func(args map[string]any) (any, error) {
			roles, _ := args["roles"].([]any)
			for _, r := range roles {
				if r != "MAIN" {
					return []any{}, nil // the fake has the published theme only
				}
			}
			return g.themes, nil
		}),
		"inventoryItem":  typed("InventoryItem"),
		"inventoryLevel": typed("InventoryLevel"),
		"productVariant": typed("ProductVariant"),
		"product":        typed("Product"),
		"location":       typed("Location"),
		"node": fieldFunc(func(args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			return ref(id), nil
		}),
		"nodes": fieldFunc(func(args map[string]any) (any, error) {
			ids, _ := args["ids"].([]any)
			if len(ids) > maxPageSize {
				return nil, fmt.Errorf("the 'ids' argument accepts at most %d ids", maxPageSize)
			}
			out := make([]any, len(ids))
			for i, id := range ids {
				s, _ := id.(string)
				out[i] = ref(s)
			}
			return out, nil
		}),
	}
}
