package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Campaign statuses and close reasons.
const (
	CampaignOpen   = "open"
	CampaignClosed = "closed"

	CloseSoldOut     = "sold_out"
	CloseCompleted   = "completed"
	CloseUninstalled = "uninstalled"
)

// Campaign is one restock of one variant: the sequence of steps sent to the
// shoppers who waited for it, with the plan fixed when it opened.
type Campaign struct {
	ID                int64 `gorm:"primaryKey"`
	ShopID            int64
	VariantID         int64
	Status            string
	CloseReason       string
	StockAtOpen       int
	WaitingAtOpen     int
	Step2Enabled      bool
	Step2DelaySeconds int
	Step3Enabled      bool
	Step3DelaySeconds int
	// WaveSize shoppers per unit in stock get step 1 at a time, a wave every
	// WaveIntervalSeconds (0: everyone at once).
	WaveSize            int
	WaveIntervalSeconds int
	OpenedAt            time.Time
	ClosedAt            *time.Time
}

// StepDelay is how long after opening step n is due (0 for step 1); ok is
// false for a step the plan does not include.
func (c Campaign) StepDelay(step int) (time.Duration, bool) {
	switch step {
	case 1:
		return 0, true
	case 2:
		return time.Duration(c.Step2DelaySeconds) * time.Second, c.Step2Enabled
	case 3:
		return time.Duration(c.Step3DelaySeconds) * time.Second, c.Step3Enabled
	}
	return 0, false
}

// CampaignByID finds a campaign.
func CampaignByID(ctx context.Context, db *gorm.DB, id int64) (Campaign, error) {
	var c Campaign
	err := db.WithContext(ctx).Take(&c, id).Error
	return c, notFound(err)
}

// OpenCampaign finds the open campaign of a variant.
func OpenCampaign(ctx context.Context, db *gorm.DB, shopID, variantID int64) (Campaign, error) {
	var c Campaign
	err := db.WithContext(ctx).Where("shop_id = ? AND variant_id = ? AND status = ?", shopID, variantID, CampaignOpen).Take(&c).Error
	return c, notFound(err)
}

// CloseCampaign closes a campaign if it is still open; it reports whether
// this call closed it.
func CloseCampaign(ctx context.Context, db *gorm.DB, id int64, reason string) (bool, error) {
	now := db.Config.NowFunc()
	res := db.WithContext(ctx).Model(&Campaign{}).Where("id = ? AND status = ?", id, CampaignOpen).
		Updates(map[string]any{"status": CampaignClosed, "close_reason": reason, "closed_at": now})
	return res.RowsAffected > 0, res.Error
}
