package shopify

import (
	"encoding/json"
	"time"
)

// Webhook topics Restock Relay subscribes to.
const (
	TopicInventoryLevelsUpdate     = "inventory_levels/update"
	TopicInventoryLevelsConnect    = "inventory_levels/connect"
	TopicInventoryLevelsDisconnect = "inventory_levels/disconnect"
	TopicVariantsInStock           = "variants/in_stock"
	TopicVariantsOutOfStock        = "variants/out_of_stock"
	TopicOrdersCreate              = "orders/create"
	TopicProductsUpdate            = "products/update"
	TopicAppUninstalled            = "app/uninstalled"
	TopicCustomersDataRequest      = "customers/data_request"
	TopicCustomersRedact           = "customers/redact"
	TopicShopRedact                = "shop/redact"
)

// Webhook header names (Go canonical form; HTTP/2 sends them lower-case).
const (
	HeaderTopic       = "X-Shopify-Topic"
	HeaderHMAC        = "X-Shopify-Hmac-Sha256"
	HeaderShopDomain  = "X-Shopify-Shop-Domain"
	HeaderAPIVersion  = "X-Shopify-Api-Version"
	HeaderWebhookID   = "X-Shopify-Webhook-Id"
	HeaderEventID     = "X-Shopify-Event-Id"
	HeaderTriggeredAt = "X-Shopify-Triggered-At"
)

// InventoryLevelPayload is the body of inventory_levels/update, /connect
// and /disconnect (the last carries only the two ids). Available is nil
// when the item is not tracked.
type InventoryLevelPayload struct {
	InventoryItemID int64     `json:"inventory_item_id"`
	LocationID      int64     `json:"location_id"`
	Available       *int      `json:"available"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// VariantPayload is a variant in variants/in_stock, variants/out_of_stock
// and products/update.
type VariantPayload struct {
	ID                int64   `json:"id"`
	ProductID         int64   `json:"product_id"`
	Title             string  `json:"title"`
	Price             string  `json:"price"`
	SKU               *string `json:"sku"`
	InventoryPolicy   string  `json:"inventory_policy"`
	InventoryItemID   int64   `json:"inventory_item_id"`
	InventoryQuantity int     `json:"inventory_quantity"`
}

// ProductPayload is the body of products/update.
type ProductPayload struct {
	ID       int64            `json:"id"`
	Title    string           `json:"title"`
	Handle   string           `json:"handle"`
	Status   string           `json:"status"`
	Variants []VariantPayload `json:"variants"`
}

// OrderPayload is the part of orders/create the app reads.
type OrderPayload struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Email        string    `json:"email"`
	ContactEmail string    `json:"contact_email"`
	CreatedAt    time.Time `json:"created_at"`
	Currency     string    `json:"currency"`
	Test         bool      `json:"test"`
	Customer     *struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	} `json:"customer"`
	LineItems []struct {
		ID        int64  `json:"id"`
		VariantID *int64 `json:"variant_id"`
		ProductID *int64 `json:"product_id"`
		Quantity  int    `json:"quantity"`
		Price     string `json:"price"`
	} `json:"line_items"`
}

// ShopPayload is the body of app/uninstalled.
type ShopPayload struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	Email           string `json:"email"`
	Domain          string `json:"domain"`
	MyshopifyDomain string `json:"myshopify_domain"`
	Currency        string `json:"currency"`
}

// CustomerRedactPayload is the body of customers/redact and
// customers/data_request.
type CustomerRedactPayload struct {
	ShopID     int64  `json:"shop_id"`
	ShopDomain string `json:"shop_domain"`
	Customer   struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
		Phone string `json:"phone"`
	} `json:"customer"`
	OrdersToRedact  []int64 `json:"orders_to_redact"`
	OrdersRequested []int64 `json:"orders_requested"`
	DataRequest     *struct {
		ID int64 `json:"id"`
	} `json:"data_request"`
}

// ShopRedactPayload is the body of shop/redact.
type ShopRedactPayload struct {
	ShopID     int64  `json:"shop_id"`
	ShopDomain string `json:"shop_domain"`
}

// DecodePayload decodes a webhook body into v, keeping 64-bit ids exact.
func DecodePayload(body []byte, v any) error { return json.Unmarshal(body, v) }
