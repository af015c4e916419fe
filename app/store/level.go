package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Level is an inventory item's quantity at one location, as last reported.
type Level struct {
	ShopID          int64 `gorm:"primaryKey;autoIncrement:false"`
	InventoryItemID int64 `gorm:"primaryKey;autoIncrement:false"`
	LocationID      int64 `gorm:"primaryKey;autoIncrement:false"`
	// Available is nil when the item is not tracked (never "zero").
	Available  *int
	Connected  bool
	UpdatedAt  time.Time `gorm:"autoUpdateTime:false"`
	ReceivedAt time.Time
}

// TableName pins the table name.
func (Level) TableName() string { return "inventory_levels" }

// ApplyLevel stores a level unless a newer one is already stored for that
// item and location (webhooks arrive out of order). It reports whether the
// level was applied.
func ApplyLevel(ctx context.Context, db *gorm.DB, l Level) (bool, error) {
	l.UpdatedAt = l.UpdatedAt.UTC()
	l.ReceivedAt = db.Config.NowFunc()
	res := db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "shop_id"}, {Name: "inventory_item_id"}, {Name: "location_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"available", "connected", "updated_at", "received_at"}),
		Where: clause.Where{Exprs: []clause.Expression{
			clause.Expr{SQL: "inventory_levels.updated_at <= excluded.updated_at"},
		}},
	}).Create(&l)
	return res.RowsAffected > 0, res.Error
}

// StoredStock sums the stored levels of an item: the fallback when the Admin
// API cannot be reached. tracked is false when any level says untracked.
func StoredStock(ctx context.Context, db *gorm.DB, shopID, itemID int64) (sum int, tracked bool, known bool, err error) {
	var ls []Level
	if err = db.WithContext(ctx).Where("shop_id = ? AND inventory_item_id = ?", shopID, itemID).Find(&ls).Error; err != nil {
		return 0, false, false, err
	}
	tracked = true
	for _, l := range ls {
		if !l.Connected {
			continue
		}
		if l.Available == nil {
			tracked = false
			continue
		}
		sum += *l.Available
	}
	return sum, tracked, len(ls) > 0, nil
}
