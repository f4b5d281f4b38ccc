-- Webhook subscriptions, their deliveries (one per outbox event and
-- matching subscription) and every delivery attempt.
-- Times are Unix milliseconds (UTC).

-- `tenant` NULL is a global subscription (every tenant's events);
-- `events` is a JSON array of event types, empty for all. Deleted
-- subscriptions keep their row (soft delete) so their delivery log stays
-- readable. `seq` keeps creation order among equal `created_at`.
CREATE TABLE webhook_subscriptions (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    id          TEXT PRIMARY KEY,
    tenant      TEXT,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX webhook_subscriptions_by_tenant ON webhook_subscriptions (tenant, created_at);

-- One event on its way to one subscription; a subscription's deliveries
-- are sent in id order.
CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription    TEXT NOT NULL REFERENCES webhook_subscriptions (id),
    event_id        TEXT NOT NULL REFERENCES outbox (id),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status     BIGINT,
    last_error      TEXT,
    finished_at     BIGINT
);
-- The oldest pending delivery of each subscription (the head of its line).
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (subscription, id)
    WHERE state = 'pending';
-- A subscription's delivery log, newest first.
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription, id);
-- Redelivery looks deliveries up by event.
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

-- Every attempt to send a delivery, numbered from 1.
CREATE TABLE webhook_attempts (
    delivery   BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    number     BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    status     BIGINT,
    latency_ms BIGINT NOT NULL,
    error      TEXT,
    PRIMARY KEY (delivery, number)
);
