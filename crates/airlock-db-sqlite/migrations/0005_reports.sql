-- Who pushed an image, and the scans that left reports in the object store.
ALTER TABLE images ADD COLUMN pushed_by TEXT;

CREATE TABLE scan_reports (
    scan_id    TEXT PRIMARY KEY,
    image_id   INTEGER NOT NULL REFERENCES images (id),
    tenant     TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    passed     INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX scan_reports_by_digest ON scan_reports (tenant, digest, created_at);

-- When the expiry of an exception was announced (event + re-evaluation).
ALTER TABLE exceptions ADD COLUMN expiry_noticed_at INTEGER;
