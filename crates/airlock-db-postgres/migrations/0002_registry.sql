-- Registry metadata: the single source of truth for what is in the registry.
-- Translated from airlock-db-sqlite's 0001_registry.sql (no later SQLite
-- migration changes these tables). Times are Unix milliseconds (UTC).
--
-- Names and digests that are listed in order or paged through with `>`
-- use the "C" collation: byte order, as in SQLite, whatever the database's
-- default collation is (the distribution API pages tags and repositories
-- in lexical order).

CREATE TABLE repositories (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- A blob is visible in a repository only through a link (distribution's model).
CREATE TABLE blob_links (
    repository_id BIGINT NOT NULL REFERENCES repositories (id),
    digest        TEXT COLLATE "C" NOT NULL,
    size          BIGINT NOT NULL,
    linked_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX blob_links_by_digest ON blob_links (digest);

-- Manifest bytes are stored exactly as pushed.
CREATE TABLE manifests (
    digest        TEXT COLLATE "C" PRIMARY KEY,
    media_type    TEXT NOT NULL,
    content       BYTEA NOT NULL,
    size          BIGINT NOT NULL,
    subject       TEXT COLLATE "C",
    artifact_type TEXT,
    annotations   TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX manifests_by_subject ON manifests (subject) WHERE subject IS NOT NULL;

-- What each manifest references: blobs (config, layers) and child manifests.
CREATE TABLE manifest_references (
    manifest_digest TEXT COLLATE "C" NOT NULL REFERENCES manifests (digest) ON DELETE CASCADE,
    child_digest    TEXT COLLATE "C" NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (manifest_digest, kind, child_digest)
);
CREATE INDEX manifest_references_by_child ON manifest_references (child_digest, kind);

CREATE TABLE repository_manifests (
    repository_id BIGINT NOT NULL REFERENCES repositories (id),
    digest        TEXT COLLATE "C" NOT NULL REFERENCES manifests (digest),
    pushed_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_manifests_by_digest ON repository_manifests (digest);

CREATE TABLE tags (
    repository_id BIGINT NOT NULL REFERENCES repositories (id),
    name          TEXT COLLATE "C" NOT NULL,
    digest        TEXT COLLATE "C" NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);

CREATE TABLE uploads (
    id         TEXT COLLATE "C" PRIMARY KEY,
    repository TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
