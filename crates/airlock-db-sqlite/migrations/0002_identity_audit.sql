-- Identities and the audit log. Times are Unix milliseconds (UTC).

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- One role per user and tenant.
CREATE TABLE tenant_roles (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('developer', 'reader', 'security')),
    PRIMARY KEY (user_name, tenant_id)
) WITHOUT ROWID;

CREATE TABLE global_roles (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('auditor', 'admin')),
    PRIMARY KEY (user_name, role)
) WITHOUT ROWID;

CREATE TABLE robots (
    name       TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('developer', 'reader')),
    prefix     TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
) WITHOUT ROWID;

-- Append-only and hash-chained: see airlock-audit for the hash.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    time_ms     INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    tenant      TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    request_id  TEXT,
    client_addr TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (time_ms);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- How far each consumer (e.g. the syslog forwarder) has read.
CREATE TABLE audit_cursors (
    consumer TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;
