-- The quarantine gate: images and their lifecycle, the job queue, stored
-- inventories, versioned policies, exceptions and the event outbox.
-- Times are Unix milliseconds (UTC).

-- One row per manifest digest pushed to one `unscanned/` repository.
CREATE TABLE images (
    id             INTEGER PRIMARY KEY,
    tenant         TEXT NOT NULL,
    repository     TEXT NOT NULL,
    digest         TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('received', 'queued', 'scanning', 'passed',
                                                  'failed', 'promoted', 'rejected', 'covered')),
    reason         TEXT,
    verdict        TEXT,
    policy_tenant  TEXT,
    policy_version INTEGER,
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (repository, digest)
);
CREATE INDEX images_by_tenant ON images (tenant, id);
CREATE INDEX images_by_digest ON images (digest);

-- Every state change, in order (`seq` counts per image from 1).
CREATE TABLE image_history (
    image_id   INTEGER NOT NULL REFERENCES images (id),
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    detail     TEXT NOT NULL,
    PRIMARY KEY (image_id, seq)
) WITHOUT ROWID;

-- The work queue. Finished jobs stay as 'done' or 'dead' for inspection.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('scan', 'reevaluate')),
    lane             INTEGER NOT NULL,
    tenant           TEXT NOT NULL,
    image_id         INTEGER NOT NULL REFERENCES images (id),
    state            TEXT NOT NULL CHECK (state IN ('ready', 'leased', 'done', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_after        INTEGER NOT NULL,
    worker           TEXT,
    lease_expires_at INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX jobs_to_lease ON jobs (state, lane, run_after) WHERE state IN ('ready', 'leased');
CREATE INDEX jobs_leased_by_tenant ON jobs (tenant, lease_expires_at) WHERE state = 'leased';

-- When each tenant last got a worker (fair sharing between tenants).
CREATE TABLE tenant_service (
    tenant         TEXT PRIMARY KEY,
    last_served_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Scan reports (inventory only) per manifest digest, matched again later.
CREATE TABLE inventories (
    digest     TEXT PRIMARY KEY,
    reports    TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Versioned policy documents; scope '' is the global default.
CREATE TABLE policies (
    scope      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    document   TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, version)
) WITHOUT ROWID;

-- Exceptions; `id` is 'EXC-' || seq, set in the creating transaction.
CREATE TABLE exceptions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT UNIQUE,
    tenant        TEXT NOT NULL,
    vulnerability TEXT NOT NULL,
    package       TEXT,
    repository    TEXT,
    digest        TEXT,
    reason        TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    approved_by   TEXT,
    approved_at   INTEGER,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX exceptions_by_tenant ON exceptions (tenant, seq);

-- Events written with the change that caused them, delivered later.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    tenant       TEXT,
    subject      TEXT NOT NULL,
    time         INTEGER NOT NULL,
    data         TEXT NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX outbox_undelivered ON outbox (seq) WHERE delivered_at IS NULL;
