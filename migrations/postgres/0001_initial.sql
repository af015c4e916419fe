-- +goose Up
CREATE TABLE shops (
    id              BIGSERIAL PRIMARY KEY,
    domain          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    currency        TEXT NOT NULL DEFAULT 'USD',
    access_token    TEXT NOT NULL DEFAULT '',   -- AES-GCM sealed, base64
    scopes          TEXT NOT NULL DEFAULT '',
    installed_at    TIMESTAMPTZ NOT NULL,
    uninstalled_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE shop_settings (
    shop_id               BIGINT PRIMARY KEY REFERENCES shops(id) ON DELETE CASCADE,
    step2_enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    step2_delay_seconds   INTEGER NOT NULL DEFAULT 86400,
    step3_enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    step3_delay_seconds   INTEGER NOT NULL DEFAULT 172800,
    threshold             INTEGER NOT NULL DEFAULT 0,
    max_cycles            INTEGER NOT NULL DEFAULT 3,
    sender_name           TEXT NOT NULL DEFAULT '',
    reply_to              TEXT NOT NULL DEFAULT '',
    updated_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE variants (
    shop_id            BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    variant_id         BIGINT NOT NULL,
    product_id         BIGINT NOT NULL DEFAULT 0,
    inventory_item_id  BIGINT NOT NULL DEFAULT 0,
    product_title      TEXT NOT NULL DEFAULT '',
    title              TEXT NOT NULL DEFAULT '',
    sku                TEXT NOT NULL DEFAULT '',
    price              TEXT NOT NULL DEFAULT '0',
    currency           TEXT NOT NULL DEFAULT '',
    image_url          TEXT NOT NULL DEFAULT '',
    product_url        TEXT NOT NULL DEFAULT '',
    handle             TEXT NOT NULL DEFAULT '',
    policy             TEXT NOT NULL DEFAULT 'DENY',
    tracked            BOOLEAN NOT NULL DEFAULT TRUE,
    published          BOOLEAN NOT NULL DEFAULT TRUE,
    product_status     TEXT NOT NULL DEFAULT 'ACTIVE',
    sellable_online    INTEGER NOT NULL DEFAULT 0,
    in_stock           BOOLEAN NOT NULL DEFAULT FALSE,
    stock_checked_at   TIMESTAMPTZ,
    check_seq          BIGINT NOT NULL DEFAULT 0,
    checked_seq        BIGINT NOT NULL DEFAULT 0,
    check_lease_until  TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop_id, variant_id)
);
CREATE INDEX variants_item ON variants (shop_id, inventory_item_id);

CREATE TABLE inventory_levels (
    shop_id            BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    inventory_item_id  BIGINT NOT NULL,
    location_id        BIGINT NOT NULL,
    available          INTEGER,            -- NULL: the item is not tracked
    connected          BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at         TIMESTAMPTZ NOT NULL, -- Shopify's updated_at of the level
    received_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop_id, inventory_item_id, location_id)
);

CREATE TABLE subscriptions (
    id                 BIGSERIAL PRIMARY KEY,
    shop_id            BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    variant_id         BIGINT NOT NULL,
    product_id         BIGINT NOT NULL DEFAULT 0,
    email              TEXT NOT NULL,
    customer_id        BIGINT,
    locale             TEXT NOT NULL DEFAULT '',
    accepts_marketing  BOOLEAN NOT NULL DEFAULT FALSE,
    status             TEXT NOT NULL DEFAULT 'waiting',
    cycles             INTEGER NOT NULL DEFAULT 0,
    notified_at        TIMESTAMPTZ,
    converted_at       TIMESTAMPTZ,
    unsubscribed_at    TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (shop_id, variant_id, email)
) WITH (fillfactor = 80); -- room for in-place (HOT) status updates
CREATE INDEX subscriptions_variant ON subscriptions (shop_id, variant_id);
CREATE INDEX subscriptions_email ON subscriptions (shop_id, email);
CREATE INDEX subscriptions_customer ON subscriptions (shop_id, customer_id);

CREATE TABLE campaigns (
    id                   BIGSERIAL PRIMARY KEY,
    shop_id              BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    variant_id           BIGINT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'open',
    close_reason         TEXT NOT NULL DEFAULT '',
    stock_at_open        INTEGER NOT NULL DEFAULT 0,
    waiting_at_open      INTEGER NOT NULL DEFAULT 0,
    step2_enabled        BOOLEAN NOT NULL,
    step2_delay_seconds  INTEGER NOT NULL,
    step3_enabled        BOOLEAN NOT NULL,
    step3_delay_seconds  INTEGER NOT NULL,
    opened_at            TIMESTAMPTZ NOT NULL,
    closed_at            TIMESTAMPTZ
);
CREATE UNIQUE INDEX campaigns_one_open ON campaigns (shop_id, variant_id) WHERE status = 'open';

CREATE TABLE messages (
    id               BIGSERIAL PRIMARY KEY,
    shop_id          BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    campaign_id      BIGINT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    subscription_id  BIGINT NOT NULL, -- no foreign key: checking it locks every shopper row at restock time; redaction deletes messages itself
    step             INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    skip_reason      TEXT NOT NULL DEFAULT '',
    provider_id      TEXT NOT NULL DEFAULT '',
    sent_at          TIMESTAMPTZ,
    opened_at        TIMESTAMPTZ,
    clicked_at       TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (campaign_id, subscription_id, step)
) WITH (fillfactor = 60); -- each message changes status twice: keep updates in place (HOT)
CREATE INDEX messages_subscription ON messages (subscription_id);

CREATE TABLE conversions (
    id                   BIGSERIAL PRIMARY KEY,
    shop_id              BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    subscription_id      BIGINT REFERENCES subscriptions(id) ON DELETE SET NULL,
    campaign_id          BIGINT REFERENCES campaigns(id) ON DELETE SET NULL,
    order_id             BIGINT NOT NULL,
    variant_id           BIGINT NOT NULL,
    quantity             INTEGER NOT NULL,
    revenue              TEXT NOT NULL,
    currency             TEXT NOT NULL DEFAULT '',
    ordered_at           TIMESTAMPTZ NOT NULL,
    first_email_at       TIMESTAMPTZ,
    seconds_to_purchase  BIGINT,
    created_at           TIMESTAMPTZ NOT NULL,
    UNIQUE (shop_id, order_id, variant_id, subscription_id)
);
CREATE INDEX conversions_campaign ON conversions (campaign_id);

CREATE TABLE suppressions (
    shop_id     BIGINT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop_id, email)
);

CREATE TABLE webhooks (
    id            BIGSERIAL PRIMARY KEY,
    webhook_id    TEXT NOT NULL UNIQUE,
    shop_domain   TEXT NOT NULL,
    topic         TEXT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT NOT NULL DEFAULT '',
    body          BYTEA,
    triggered_at  TIMESTAMPTZ,
    received_at   TIMESTAMPTZ NOT NULL,
    processed_at  TIMESTAMPTZ
);

-- +goose Down
DROP TABLE webhooks;
DROP TABLE suppressions;
DROP TABLE conversions;
DROP TABLE messages;
DROP TABLE campaigns;
DROP TABLE subscriptions;
DROP TABLE inventory_levels;
DROP TABLE variants;
DROP TABLE shop_settings;
DROP TABLE shops;
