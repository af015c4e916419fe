package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Webhook statuses.
const (
	WebhookQueued    = "queued"
	WebhookProcessed = "processed"
	WebhookIgnored   = "ignored"
	WebhookInvalid   = "invalid"
	WebhookFailed    = "failed"
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

// RecordWebhook inserts the delivery; inserted is false for a repeated id.
func RecordWebhook(ctx context.Context, db *gorm.DB, w *Webhook) (inserted bool, err error) {
	if w.ReceivedAt.IsZero() {
		w.ReceivedAt = db.Config.NowFunc()
	}
	res := db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "webhook_id"}}, DoNothing: true}).Create(w)
	return res.RowsAffected > 0, res.Error
}

// WebhookByID loads a recorded delivery.
func WebhookByID(ctx context.Context, db *gorm.DB, id int64) (Webhook, error) {
	var w Webhook
	err := db.WithContext(ctx).Take(&w, id).Error
	return w, notFound(err)
}

// FinishWebhook records the outcome of processing a delivery.
func FinishWebhook(ctx context.Context, db *gorm.DB, id int64, status, errText string) error {
	return db.WithContext(ctx).Model(&Webhook{}).Where("id = ?", id).
		Updates(map[string]any{"status": status, "error": errText, "processed_at": db.Config.NowFunc()}).Error
}
