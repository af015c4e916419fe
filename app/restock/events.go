package restock

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/restockrelay/restockrelay/app/store"
)

// MailEvent is one event of SendGrid's Event Webhook; our custom_args come
// back flattened beside SendGrid's own fields.
type MailEvent struct {
	Event     string          `json:"event"`
	Email     string          `json:"email"`
	Timestamp int64           `json:"timestamp"`
	EventID   string          `json:"sg_event_id"`
	Type      string          `json:"type"`
	Shop      string          `json:"shop"`
	MessageID json.RawMessage `json:"message_id"`
}

func (e MailEvent) messageID() int64 {
	var s string
	if json.Unmarshal(e.MessageID, &s) == nil {
		id, _ := strconv.ParseInt(s, 10, 64)
		return id
	}
	var n int64
	_ = json.Unmarshal(e.MessageID, &n)
	return n
}

// delivering events prove the provider took a message.
var delivering = map[string]bool{"processed": true, "delivered": true, "open": true, "click": true}

// confirmDelivered turns an unconfirmed message (its request was cut off
// in flight) into a sent one once the provider reports it, so results
// count the shopper as emailed; a restock notice makes them notified.
func (f *Flow) confirmDelivered(ctx context.Context, m store.Message, at time.Time) error {
	return f.tx(ctx, func(tx *txn) error {
		res := tx.Model(&store.Message{}).Where("id = ? AND status = ?", m.ID, store.MsgUnconfirmed).
			Updates(map[string]any{"status": store.MsgSent, "sent_at": at, "updated_at": f.Now()})
		if res.Error != nil || res.RowsAffected == 0 || m.Step != 1 {
			return res.Error
		}
		return tx.Model(&store.Subscription{}).Where("id = ? AND status = ?", m.SubscriptionID, store.SubWaiting).
			Updates(map[string]any{"status": store.SubNotified, "notified_at": at, "updated_at": f.Now()}).Error
	})
}

// suppressing events stop all mail from the shop to that address.
var suppressing = map[string]bool{"bounce": true, "dropped": true, "spamreport": true, "unsubscribe": true, "group_unsubscribe": true}

// RecordMailEvents applies a batch of provider events: opens and clicks
// stamp their message (first one wins, so redelivered events change
// nothing), and bounces, drops, spam reports and unsubscribes suppress the
// address for that shop. Events for messages we do not know are ignored.
func (f *Flow) RecordMailEvents(ctx context.Context, events []MailEvent) (applied int, err error) {
	for _, ev := range events {
		id := ev.messageID()
		if id == 0 {
			continue
		}
		m, err := store.MessageByID(ctx, f.db.DB, id)
		if err != nil {
			continue
		}
		shop, err := store.ShopByID(ctx, f.db.DB, m.ShopID)
		if err != nil || ev.Shop != shop.Domain {
			continue // our custom_args always name the shop
		}
		// An event's time is only plausible between the send and now.
		now := f.Now()
		at := time.Unix(ev.Timestamp, 0).UTC()
		if ev.Timestamp <= 0 || at.After(now) || (m.SentAt != nil && at.Before(*m.SentAt)) || at.Before(now.AddDate(0, 0, -90)) {
			at = now
		}
		if m.Status == store.MsgUnconfirmed && delivering[ev.Event] {
			if err := f.confirmDelivered(ctx, m, at); err != nil {
				return applied, err
			}
		}
		switch {
		case ev.Event == "open":
			err = f.db.DB.WithContext(ctx).Model(&store.Message{}).Where("id = ? AND opened_at IS NULL", id).Update("opened_at", at).Error
		case ev.Event == "click":
			err = f.db.DB.WithContext(ctx).Model(&store.Message{}).Where("id = ? AND clicked_at IS NULL", id).Update("clicked_at", at).Error
		case suppressing[ev.Event]:
			sub, serr := store.SubscriptionByID(ctx, f.db.DB, m.SubscriptionID)
			if serr != nil {
				continue
			}
			if ev.Event == "bounce" && ev.Type == "blocked" {
				continue // a block is temporary, not the address's fault
			}
			err = store.Unsubscribe(ctx, f.db.DB, shop.ID, sub.Email, "provider_"+ev.Event)
		default:
			continue
		}
		if err != nil {
			return applied, fmt.Errorf("apply %s event: %w", ev.Event, err)
		}
		applied++
	}
	return applied, nil
}
