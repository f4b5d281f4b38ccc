-- Named cluster-wide leases: work that runs in one process at a time
-- (periodic jobs, the webhook dispatcher, the audit forwarder).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
