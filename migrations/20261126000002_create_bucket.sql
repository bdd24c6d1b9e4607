-- S3 buckets. Every object lives in one, under a key unique in it. Native
-- uploads land in the bucket `content`, under their id as key, so objects
-- stored before buckets existed are found there too.
CREATE TABLE bucket (
    -- The S3 rules that a pattern can say; the rest (no "..", not an IP
    -- address) are checked by the distributor.
    name       text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'),
    -- Whether anyone may list the bucket, and the visibility given to
    -- the objects put into it.
    public     boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO bucket (name) VALUES ('content');

-- `md5`: the S3 ETag of a single-part put, hashed on the way like the
-- SHA-256 (unknown for objects stored before it was kept). `headers`: the
-- S3 headers kept with the object (Content-Disposition, Content-Encoding,
-- Cache-Control, x-amz-meta-*), as a JSON object of lowercase names.
ALTER TABLE content
    ADD COLUMN bucket     text  REFERENCES bucket (name),
    -- S3 lists keys in byte order: the "C" collation compares UTF-8 bytes.
    -- Not just "key": a bare `key` in older queries names something else.
    ADD COLUMN object_key text COLLATE "C",
    ADD COLUMN md5        text,
    ADD COLUMN headers    jsonb NOT NULL DEFAULT '{}';

UPDATE content SET bucket = 'content', object_key = id::text;

ALTER TABLE content
    ALTER COLUMN bucket SET NOT NULL,
    ALTER COLUMN object_key SET NOT NULL,
    ADD CONSTRAINT content_key_length CHECK (octet_length(object_key) BETWEEN 1 AND 1024);

CREATE UNIQUE INDEX content_by_bucket_key ON content (bucket, object_key);
