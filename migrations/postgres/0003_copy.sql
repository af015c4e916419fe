-- +goose Up
-- A merchant's copy per step and locale ('' = the default for every locale),
-- and the look of their emails.
CREATE TABLE shop_copy (
    shop_id    BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    locale     TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL,
    preheader  TEXT NOT NULL DEFAULT '',
    heading    TEXT NOT NULL,
    body       TEXT NOT NULL,
    button     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop_id, step, locale)
);
ALTER TABLE shop_settings ADD COLUMN brand_color TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE shop_settings DROP COLUMN brand_color;
DROP TABLE shop_copy;
