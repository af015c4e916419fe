-- +goose Up
-- Waves: a restock may email a few shoppers per unit in stock at a time,
-- the next wave after an interval while stock lasts, instead of everyone
-- at once. wave_size 0 is everyone at once. Campaigns keep the plan they
-- opened with; each message records its wave, so a wave's reminder goes
-- to that wave.
ALTER TABLE shop_settings ADD COLUMN wave_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shop_settings ADD COLUMN wave_interval_seconds INTEGER NOT NULL DEFAULT 3600;
ALTER TABLE campaigns ADD COLUMN wave_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN wave_interval_seconds INTEGER NOT NULL DEFAULT 3600;
ALTER TABLE messages ADD COLUMN wave INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE messages DROP COLUMN wave;
ALTER TABLE campaigns DROP COLUMN wave_interval_seconds;
ALTER TABLE campaigns DROP COLUMN wave_size;
ALTER TABLE shop_settings DROP COLUMN wave_interval_seconds;
ALTER TABLE shop_settings DROP COLUMN wave_size;
