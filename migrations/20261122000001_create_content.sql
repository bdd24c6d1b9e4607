-- One row per stored object: what clients see as its metadata. The bytes
-- live on storage nodes under `blob_key`; a replacement writes a new key.
CREATE TABLE content (
    id           uuid        PRIMARY KEY,
    filename     text        NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL CHECK (size >= 0),
    sha256       text        NOT NULL,
    version      integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    blob_key     text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
