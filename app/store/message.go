package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Message statuses. A message is one step of one campaign for one shopper;
// the unique (campaign, subscription, step) key is what guarantees nobody
// gets the same step of the same restock twice.
const (
	MsgPending = "pending"
	// MsgSending is claimed by a send attempt: committed before the request
	// to the mail provider, so a crashed attempt is never blindly repeated.
	MsgSending = "sending"
	MsgSent    = "sent"
	MsgSkipped = "skipped"
	MsgFailed  = "failed"
	// MsgUnconfirmed: an attempt died after claiming the message, so it may
	// or may not have left; it is not sent again (no doubled email).
	MsgUnconfirmed = "unconfirmed"
)

// Skip reasons recorded on skipped messages.
const (
	SkipConverted    = "converted"
	SkipUnsubscribed = "unsubscribed"
	SkipSuppressed   = "suppressed"
	SkipSoldOut      = "sold_out"
	SkipUninstalled  = "uninstalled"
	SkipNotNotified  = "not_notified"
	SkipRejected     = "rejected_by_provider"
)

// Message is one step of a campaign for one subscription.
type Message struct {
	ID             int64 `gorm:"primaryKey"`
	ShopID         int64
	CampaignID     int64
	SubscriptionID int64
	Step           int
	// Wave is the wave of the campaign whose step 1 reached this shopper
	// (0 without waves); later steps follow their wave.
	Wave       int
	Status     string
	SkipReason string
	ProviderID string
	SentAt     *time.Time
	OpenedAt   *time.Time
	ClickedAt  *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// MessageByID finds a message.
func MessageByID(ctx context.Context, db *gorm.DB, id int64) (Message, error) {
	var m Message
	err := db.WithContext(ctx).Take(&m, id).Error
	return m, notFound(err)
}
