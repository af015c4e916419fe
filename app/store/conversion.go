package store

import "time"

// Conversion is a purchase by a subscribed shopper of the variant they
// waited for: what the restock earned the merchant.
type Conversion struct {
	ID                int64 `gorm:"primaryKey"`
	ShopID            int64
	SubscriptionID    *int64
	CampaignID        *int64
	OrderID           int64
	VariantID         int64
	Quantity          int
	Revenue           string // decimal string, order currency
	Currency          string
	OrderedAt         time.Time
	FirstEmailAt      *time.Time
	SecondsToPurchase *int64
	CreatedAt         time.Time
}
