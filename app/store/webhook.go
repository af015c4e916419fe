package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Webhook statuses.
const (
	WebhookQueued    = "queued"
	WebhookProcessed = "processed"
	WebhookIgnored   = "ignored"
	WebhookInvalid   = "invalid"
	WebhookFailed    = "failed"
	// WebhookAwaitingExport: a customers/data_request kept for the merchant.
	WebhookAwaitingExport = "awaiting_export"
)

// Webhook is one delivery from Shopify, recorded under its unique
// X-Shopify-Webhook-Id so a redelivery is acknowledged and not processed
// twice. The body stays for processing and, when it does not parse, for
// inspection.
type Webhook struct {
	ID          int64 `gorm:"primaryKey"`
	WebhookID   string
	ShopDomain  string
	Topic       string
	Status      string
	Error       string
	Body        []byte
	TriggeredAt *time.Time
	ReceivedAt  time.Time
	ProcessedAt *time.Time
}

// RecordWebhooks inserts deliveries in one statement, skipping ids already
// recorded; it fills the ids of the new rows and reports which webhook ids
// were inserted.
func RecordWebhooks(ctx context.Context, db *gorm.DB, ws []*Webhook) (map[string]bool, error) {
	inserted := make(map[string]bool, len(ws))
	if len(ws) == 0 {
		return inserted, nil
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO webhooks (webhook_id, shop_domain, topic, status, error, body, triggered_at, received_at) VALUES ")
	args := make([]any, 0, 8*len(ws))
	for i, w := range ws {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, w.WebhookID, w.ShopDomain, w.Topic, w.Status, w.Error, w.Body, w.TriggeredAt, w.ReceivedAt)
	}
	sb.WriteString(" ON CONFLICT (webhook_id) DO NOTHING RETURNING id, webhook_id")
	// Rows, not Scan: GORM's Scan renders the statement with every value
	// for its trace even when logging is off, which costs more than the
	// insert for a batch of bodies.
	rows, err := db.WithContext(ctx).Raw(sb.String(), args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := make(map[string]*Webhook, len(ws))
	for _, w := range ws {
		byID[w.WebhookID] = w
	}
	for rows.Next() {
		var id int64
		var webhookID string
		if err := rows.Scan(&id, &webhookID); err != nil {
			return nil, err
		}
		if w := byID[webhookID]; w != nil {
			inserted[webhookID] = true
			w.ID = id
		}
	}
	return inserted, rows.Err()
}

// WebhookByID loads a recorded delivery.
func WebhookByID(ctx context.Context, db *gorm.DB, id int64) (Webhook, error) {
	var w Webhook
	err := db.WithContext(ctx).Take(&w, id).Error
	return w, notFound(err)
}

// FinishWebhook records the outcome of processing a delivery. The body of
// a processed one is dropped: it holds shoppers' data we no longer need.
func FinishWebhook(ctx context.Context, db *gorm.DB, id int64, status, errText string) error {
	upd := map[string]any{"status": status, "error": errText, "processed_at": db.Config.NowFunc()}
	if status == WebhookProcessed || status == WebhookIgnored {
		upd["body"] = nil
	}
	return db.WithContext(ctx).Model(&Webhook{}).Where("id = ?", id).Updates(upd).Error
}
