-- Webhook subscriptions, their deliveries (one per outbox event and
-- matching subscription) and every delivery attempt.
-- Times are Unix milliseconds (UTC).

-- `tenant` NULL is a global subscription (every tenant's events);
-- `events` is a JSON array of event types, empty for all. Deleted
-- subscriptions keep their row (soft delete) so their delivery log stays
-- readable.
CREATE TABLE webhook_subscriptions (
    id          TEXT PRIMARY KEY,
    tenant      TEXT,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE INDEX webhook_subscriptions_by_tenant ON webhook_subscriptions (tenant, created_at);

-- One event on its way to one subscription; a subscription's deliveries
-- are sent in id order.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription    TEXT NOT NULL REFERENCES webhook_subscriptions (id),
    event_id        TEXT NOT NULL REFERENCES outbox (id),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    finished_at     INTEGER
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
    delivery   INTEGER NOT NULL REFERENCES webhook_deliveries (id),
    number     INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    status     INTEGER,
    latency_ms INTEGER NOT NULL,
    error      TEXT,
    PRIMARY KEY (delivery, number)
) WITHOUT ROWID;
