-- The quarantine gate: images and their lifecycle, the job queue, stored
-- inventories, versioned policies, exceptions, the event outbox and the
-- scans that left reports (SQLite's 0003_gate.sql and 0005_reports.sql).
-- Times are Unix milliseconds (UTC). Where SQLite ordered by `rowid`, a
-- `seq` identity column keeps insertion order. Repository names sort
-- bytewise (`COLLATE "C"`), as SQLite's and the registry tables' do.

-- One row per manifest digest pushed to one `unscanned/` repository.
CREATE TABLE images (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant         TEXT NOT NULL,
    repository     TEXT COLLATE "C" NOT NULL,
    digest         TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('received', 'queued', 'scanning', 'passed',
                                                  'failed', 'promoted', 'rejected', 'covered')),
    reason         TEXT,
    verdict        TEXT,
    policy_tenant  TEXT,
    policy_version BIGINT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    pushed_by      TEXT,
    UNIQUE (repository, digest)
);
CREATE INDEX images_by_tenant ON images (tenant, id);
CREATE INDEX images_by_digest ON images (digest);

-- Every state change, in order (`seq` counts per image from 1).
CREATE TABLE image_history (
    image_id   BIGINT NOT NULL REFERENCES images (id),
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    detail     TEXT NOT NULL,
    PRIMARY KEY (image_id, seq)
);

-- The work queue. Finished jobs stay as 'done' or 'dead' for inspection.
CREATE TABLE jobs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('scan', 'reevaluate')),
    lane             BIGINT NOT NULL,
    tenant           TEXT NOT NULL,
    image_id         BIGINT NOT NULL REFERENCES images (id),
    state            TEXT NOT NULL CHECK (state IN ('ready', 'leased', 'done', 'dead')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    run_after        BIGINT NOT NULL,
    worker           TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX jobs_to_lease ON jobs (state, lane, run_after) WHERE state IN ('ready', 'leased');
CREATE INDEX jobs_leased_by_tenant ON jobs (tenant, lease_expires_at) WHERE state = 'leased';

-- When each tenant last got a worker (fair sharing between tenants).
CREATE TABLE tenant_service (
    tenant         TEXT PRIMARY KEY,
    last_served_at BIGINT NOT NULL
);

-- Scan reports (inventory only) per manifest digest, matched again later.
CREATE TABLE inventories (
    digest     TEXT PRIMARY KEY,
    reports    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Versioned policy documents; scope '' is the global default.
CREATE TABLE policies (
    scope      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    document   TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, version)
);

-- Exceptions; `id` is 'EXC-' || seq, set in the creating transaction.
CREATE TABLE exceptions (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                TEXT UNIQUE,
    tenant            TEXT NOT NULL,
    vulnerability     TEXT NOT NULL,
    package           TEXT,
    repository        TEXT,
    digest            TEXT,
    reason            TEXT NOT NULL,
    requested_by      TEXT NOT NULL,
    approved_by       TEXT,
    approved_at       BIGINT,
    expires_at        BIGINT NOT NULL,
    revoked_at        BIGINT,
    created_at        BIGINT NOT NULL,
    -- When the expiry was announced (event + re-evaluation).
    expiry_noticed_at BIGINT
);
CREATE INDEX exceptions_by_tenant ON exceptions (tenant, seq);

-- Events written with the change that caused them, delivered later.
CREATE TABLE outbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    tenant       TEXT,
    subject      TEXT NOT NULL,
    time         BIGINT NOT NULL,
    data         TEXT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_undelivered ON outbox (seq) WHERE delivered_at IS NULL;

-- The scans that left reports in the object store.
CREATE TABLE scan_reports (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
    scan_id    TEXT PRIMARY KEY,
    image_id   BIGINT NOT NULL REFERENCES images (id),
    tenant     TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    passed     BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX scan_reports_by_digest ON scan_reports (tenant, digest, created_at);
