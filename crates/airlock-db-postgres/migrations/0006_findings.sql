-- The dashboard's data: every decided image's findings as rows, so "which
-- of our images have CVE-X" is an index lookup, not a scan of verdict JSON.
-- Written by the transition that decides (or re-evaluates) an image, in the
-- same transaction as its verdict, and replaced as a whole each time.

-- The verdict's effective counts (exceptions, `ignore_unfixed` and
-- `unknown_severity_as` applied) and the highest severity among them
-- (0 unknown, 1 low, 2 medium, 3 high, 4 critical; NULL when the image has
-- no effective finding or was never decided: `scanned_at` tells which).
ALTER TABLE images ADD COLUMN max_severity BIGINT;
ALTER TABLE images ADD COLUMN count_critical BIGINT NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN count_high BIGINT NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN count_medium BIGINT NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN count_low BIGINT NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN count_unknown BIGINT NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN scanned_at BIGINT;

CREATE INDEX images_by_tenant_state_updated ON images (tenant, state, updated_at);
CREATE INDEX images_by_created ON images (created_at, id);
CREATE INDEX images_by_updated ON images (updated_at, id);

-- One row per finding per platform, as matched (raw severity; exceptions
-- do not remove rows, so "who has CVE-X" includes waived occurrences).
-- `seq` is insertion order (SQLite's rowid): the last key of the page order.
CREATE TABLE image_findings (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    image_id       BIGINT NOT NULL REFERENCES images (id),
    vulnerability  TEXT NOT NULL,
    aliases        TEXT NOT NULL, -- JSON array
    ecosystem      TEXT NOT NULL,
    package        TEXT NOT NULL,
    version        TEXT NOT NULL,
    fixed_versions TEXT NOT NULL, -- JSON array
    severity       BIGINT NOT NULL,
    cvss           DOUBLE PRECISION,
    summary        TEXT,
    platform       TEXT
);
-- The page order (image, severity, insertion; read backwards) and one
-- image's findings.
CREATE INDEX image_findings_by_image ON image_findings (image_id, severity, seq);
CREATE INDEX image_findings_by_package ON image_findings (package, image_id);

-- Every id and alias of every finding of an image, with the record it
-- belongs to: the lookup behind the vulnerability filter (a CVE id finds
-- a GHSA record aliased to it; the images through `(id, image_id)`, their
-- findings through the records named here and `image_findings
-- (vulnerability)`).
CREATE TABLE finding_ids (
    id            TEXT NOT NULL,
    image_id      BIGINT NOT NULL REFERENCES images (id),
    vulnerability TEXT NOT NULL,
    PRIMARY KEY (id, image_id, vulnerability)
);
CREATE INDEX finding_ids_by_image ON finding_ids (image_id);
CREATE INDEX image_findings_by_vulnerability ON image_findings (vulnerability);
