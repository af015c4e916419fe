-- +goose Up
-- The admin page: a logo for the emails, and the onboarding checklist's
-- memory of a sent test email. Indexes for the subscriber list (newest
-- first, filtered by status) and the demand ranking.
ALTER TABLE shop_settings ADD COLUMN logo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE shop_settings ADD COLUMN test_sent_at DATETIME;
CREATE INDEX subscriptions_shop_status ON subscriptions (shop_id, status, id);

-- +goose Down
DROP INDEX subscriptions_shop_status;
ALTER TABLE shop_settings DROP COLUMN test_sent_at;
ALTER TABLE shop_settings DROP COLUMN logo_url;
