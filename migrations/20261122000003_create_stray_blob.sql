-- Blobs on nodes that no metadata points at, or may not once a write
-- fails: the copies an upload is writing (due late, removed when the
-- upload commits) and the old copies of replaced or deleted content (due
-- at once). A background task deletes due ones from their nodes, so a
-- crash or a node that is down leaves nothing behind for good.
CREATE TABLE stray_blob (
    node_id  text        NOT NULL,
    blob_key text        NOT NULL,
    due_at   timestamptz NOT NULL,
    PRIMARY KEY (node_id, blob_key)
);

CREATE INDEX stray_blob_due_at_idx ON stray_blob (due_at);
