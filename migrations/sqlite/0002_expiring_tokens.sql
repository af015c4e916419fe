-- +goose Up
-- Expiring offline tokens: a one-hour access token and a rotating refresh
-- token, both sealed; token_version makes a rotation a compare-and-swap so
-- two replicas refreshing at once cannot lock the shop out.
ALTER TABLE shops ADD COLUMN access_token_expires_at DATETIME;
ALTER TABLE shops ADD COLUMN refresh_token TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN refresh_token_expires_at DATETIME;
ALTER TABLE shops ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE shops DROP COLUMN token_version;
ALTER TABLE shops DROP COLUMN refresh_token_expires_at;
ALTER TABLE shops DROP COLUMN refresh_token;
ALTER TABLE shops DROP COLUMN access_token_expires_at;
