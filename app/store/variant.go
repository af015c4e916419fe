package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Variant is the catalog row for one product variant the app cares about:
// what emails show, and the stock state the restock detector last saw.
type Variant struct {
	ShopID          int64 `gorm:"primaryKey;autoIncrement:false"`
	VariantID       int64 `gorm:"primaryKey;autoIncrement:false"`
	ProductID       int64
	InventoryItemID int64
	ProductTitle    string
	Title           string
	SKU             string `gorm:"column:sku"`
	Price           string // decimal string
	Currency        string
	ImageURL        string
	ProductURL      string
	Handle          string
	Policy          string // DENY or CONTINUE
	Tracked         bool
	Published       bool
	ProductStatus   string
	SellableOnline  int
	// InStock is the last decision of the detector; a false→true change
	// opens a restock campaign.
	InStock        bool
	StockCheckedAt *time.Time
	// CheckSeq counts stock cues; CheckedSeq is the cue a completed check
	// covered. The check holding the lease loops until they match, so a cue
	// that arrives mid-check is never lost and a burst costs one read.
	CheckSeq        int64
	CheckedSeq      int64
	CheckLeaseUntil *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// DisplayTitle is "Product – Variant", or the product title alone for the
// default variant.
func (v Variant) DisplayTitle() string {
	if v.Title == "" || v.Title == "Default Title" {
		return v.ProductTitle
	}
	return v.ProductTitle + " – " + v.Title
}

// VariantByID finds a catalog variant.
func VariantByID(ctx context.Context, db *gorm.DB, shopID, variantID int64) (Variant, error) {
	var v Variant
	err := db.WithContext(ctx).Where("shop_id = ? AND variant_id = ?", shopID, variantID).Take(&v).Error
	return v, notFound(err)
}

// VariantsByItem lists the catalog variants stocked by an inventory item.
func VariantsByItem(ctx context.Context, db *gorm.DB, shopID, itemID int64) ([]Variant, error) {
	var vs []Variant
	err := db.WithContext(ctx).Where("shop_id = ? AND inventory_item_id = ?", shopID, itemID).Order("variant_id").Find(&vs).Error
	return vs, err
}

// SaveVariantInfo inserts a variant or refreshes what emails show about it
// (titles, price, image, policy…), never touching the detector's state.
func SaveVariantInfo(ctx context.Context, db *gorm.DB, v *Variant) error {
	now := db.Config.NowFunc()
	v.UpdatedAt = now
	if v.CreatedAt.IsZero() {
		v.CreatedAt = now
	}
	return db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "shop_id"}, {Name: "variant_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"product_id", "inventory_item_id", "product_title", "title", "sku",
			"price", "currency", "image_url", "product_url", "handle", "policy", "tracked", "published", "product_status", "updated_at"}),
	}).Create(v).Error
}

// BumpCheck records a stock cue for a variant and returns the new sequence.
func BumpCheck(ctx context.Context, db *gorm.DB, shopID, variantID int64) error {
	return db.WithContext(ctx).Model(&Variant{}).Where("shop_id = ? AND variant_id = ?", shopID, variantID).
		UpdateColumn("check_seq", gorm.Expr("check_seq + 1")).Error
}
