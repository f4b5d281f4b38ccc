-- Registry metadata: the single source of truth for what is in the registry.
-- Times are Unix milliseconds (UTC).

CREATE TABLE repositories (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- A blob is visible in a repository only through a link (distribution's model).
CREATE TABLE blob_links (
    repository_id INTEGER NOT NULL REFERENCES repositories (id),
    digest        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    linked_at     INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX blob_links_by_digest ON blob_links (digest);

-- Manifest bytes are stored exactly as pushed.
CREATE TABLE manifests (
    digest        TEXT PRIMARY KEY,
    media_type    TEXT NOT NULL,
    content       BLOB NOT NULL,
    size          INTEGER NOT NULL,
    subject       TEXT,
    artifact_type TEXT,
    annotations   TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX manifests_by_subject ON manifests (subject) WHERE subject IS NOT NULL;

-- What each manifest references: blobs (config, layers) and child manifests.
CREATE TABLE manifest_references (
    manifest_digest TEXT NOT NULL REFERENCES manifests (digest) ON DELETE CASCADE,
    child_digest    TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (manifest_digest, kind, child_digest)
) WITHOUT ROWID;
CREATE INDEX manifest_references_by_child ON manifest_references (child_digest, kind);

CREATE TABLE repository_manifests (
    repository_id INTEGER NOT NULL REFERENCES repositories (id),
    digest        TEXT NOT NULL REFERENCES manifests (digest),
    pushed_at     INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX repository_manifests_by_digest ON repository_manifests (digest);

CREATE TABLE tags (
    repository_id INTEGER NOT NULL REFERENCES repositories (id),
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;

CREATE TABLE uploads (
    id         TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
