package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Copy is a merchant's text for one step in one locale ("" for all).
type Copy struct {
	ShopID    int64  `gorm:"primaryKey;autoIncrement:false"`
	Step      int    `gorm:"primaryKey;autoIncrement:false"`
	Locale    string `gorm:"primaryKey"`
	Subject   string
	Preheader string
	Heading   string
	Body      string
	Button    string
	UpdatedAt time.Time
}

// TableName pins the table name.
func (Copy) TableName() string { return "shop_copy" }

// CopiesFor lists a shop's saved copy.
func CopiesFor(ctx context.Context, db *gorm.DB, shopID int64) ([]Copy, error) {
	var cs []Copy
	err := db.WithContext(ctx).Where("shop_id = ?", shopID).Order("step, locale").Find(&cs).Error
	return cs, err
}

// SaveCopy stores one step's copy for one locale.
func SaveCopy(ctx context.Context, db *gorm.DB, c Copy) error {
	c.UpdatedAt = db.Config.NowFunc()
	return db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&c).Error
}
