package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Settings are a merchant's choices for the sequence.
type Settings struct {
	ShopID            int64 `gorm:"primaryKey"`
	Step2Enabled      bool
	Step2DelaySeconds int
	Step3Enabled      bool
	Step3DelaySeconds int
	// Threshold is the sellable quantity a variant must exceed to count as
	// in stock (default 0).
	Threshold int
	MaxCycles int
	// WaveSize is how many shoppers a restock emails per unit in stock at a
	// time (0: everyone at once); the next wave follows after
	// WaveIntervalSeconds while stock lasts.
	WaveSize            int
	WaveIntervalSeconds int
	SenderName          string
	ReplyTo             string
	BrandColor          string
	// LogoURL is an https image shown above the emails ("" for none).
	LogoURL string
	// TestSentAt is when the merchant last sent themselves a test email
	// (the onboarding checklist).
	TestSentAt *time.Time
	UpdatedAt  time.Time
}

// TableName pins the table name.
func (Settings) TableName() string { return "shop_settings" }

// DefaultSettings is the plan a new shop starts with: two emails over a day.
func DefaultSettings() Settings {
	return Settings{Step2Enabled: true, Step2DelaySeconds: 86400, Step3DelaySeconds: 172800, MaxCycles: 3, WaveIntervalSeconds: 3600}
}

func (s Settings) withDefaults() *Settings {
	d := DefaultSettings()
	d.ShopID, d.UpdatedAt = s.ShopID, s.UpdatedAt
	return &d
}

// SettingsFor returns the shop's settings, or the defaults when none are saved.
func SettingsFor(ctx context.Context, db *gorm.DB, shopID int64) (Settings, error) {
	var s Settings
	err := db.WithContext(ctx).Where("shop_id = ?", shopID).Take(&s).Error
	if err == gorm.ErrRecordNotFound {
		d := DefaultSettings()
		d.ShopID = shopID
		return d, nil
	}
	return s, err
}

// SaveSettings stores a shop's settings.
func SaveSettings(ctx context.Context, db *gorm.DB, s Settings) error {
	s.UpdatedAt = db.Config.NowFunc()
	// test_sent_at is kept by MarkTestSent only: a save of the form must not
	// forget that a test went out.
	return db.WithContext(ctx).Omit("test_sent_at").Save(&s).Error
}

// MarkTestSent records that the shop sent itself a test email at t.
func MarkTestSent(ctx context.Context, db *gorm.DB, shopID int64, t time.Time) error {
	return db.WithContext(ctx).Model(&Settings{}).Where("shop_id = ?", shopID).
		Updates(map[string]any{"test_sent_at": t}).Error
}
