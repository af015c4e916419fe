package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Suppression is an address a shop must not email again (unsubscribe,
// bounce, spam report).
type Suppression struct {
	ShopID    int64  `gorm:"primaryKey;autoIncrement:false"`
	Email     string `gorm:"primaryKey"`
	Reason    string
	CreatedAt time.Time
}

// AddSuppression records an address as not to be emailed by the shop.
func AddSuppression(ctx context.Context, db *gorm.DB, shopID int64, email, reason string) error {
	return db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&Suppression{ShopID: shopID, Email: email, Reason: reason}).Error
}
