-- Identities and the audit log. Translated from airlock-db-sqlite's
-- 0002_identity_audit.sql (no later SQLite migration changes these tables).
-- Times are Unix milliseconds (UTC). Listed names use the "C" collation
-- (byte order, as in SQLite).

CREATE TABLE tenants (
    id         TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    name          TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

-- One role per user and tenant.
CREATE TABLE tenant_roles (
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('developer', 'reader', 'security')),
    PRIMARY KEY (user_name, tenant_id)
);

CREATE TABLE global_roles (
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('auditor', 'admin')),
    PRIMARY KEY (user_name, role)
);

CREATE TABLE robots (
    name       TEXT COLLATE "C" PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('developer', 'reader')),
    prefix     TEXT COLLATE "C" NOT NULL UNIQUE,
    token_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- Append-only and hash-chained: see airlock-audit for the hash. `seq` is
-- assigned by the appender (under the audit advisory lock), not by a
-- sequence, so it has no gaps; the primary key refuses a forked chain.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    time_ms     BIGINT NOT NULL,
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

-- Statement-level, so even an UPDATE or DELETE that matches no row, and
-- TRUNCATE (which row triggers do not see), is refused.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- How far each consumer (e.g. the syslog forwarder) has read.
CREATE TABLE audit_cursors (
    consumer TEXT PRIMARY KEY,
    seq      BIGINT NOT NULL
);
