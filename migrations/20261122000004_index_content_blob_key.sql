-- The repair task looks content up by the blob keys a node reports.
CREATE INDEX content_blob_key_idx ON content (blob_key);
