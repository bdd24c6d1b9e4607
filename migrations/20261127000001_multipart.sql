-- S3 multipart uploads. Each part is a content row of its own, in a
-- bucket that no client can name (its ".." breaks S3's rules, which the
-- distributor checks), so placement, replication, repair, scrub and
-- removal treat a part's blob like any object's.
INSERT INTO bucket (name) VALUES ('multipart..parts');

CREATE TABLE multipart_upload (
    id           uuid        PRIMARY KEY,
    bucket       text        NOT NULL REFERENCES bucket (name),
    object_key   text        COLLATE "C" NOT NULL
                             CHECK (octet_length(object_key) BETWEEN 1 AND 1024),
    content_type text,
    headers      jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX multipart_upload_by_key ON multipart_upload (bucket, object_key, id);
CREATE INDEX multipart_upload_by_age ON multipart_upload (created_at);

-- The parts uploaded so far; the last upload of a number wins.
CREATE TABLE upload_part (
    upload_id   uuid    NOT NULL REFERENCES multipart_upload (id),
    part_number integer NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    part_id     uuid    NOT NULL UNIQUE REFERENCES content (id),
    PRIMARY KEY (upload_id, part_number)
);

-- A completed object's parts, in order; the object's own row has no blob.
CREATE TABLE content_segment (
    content_id uuid    NOT NULL REFERENCES content (id) ON DELETE CASCADE,
    position   integer NOT NULL CHECK (position >= 0),
    part_id    uuid    NOT NULL UNIQUE REFERENCES content (id),
    PRIMARY KEY (content_id, position)
);
