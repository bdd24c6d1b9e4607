-- Where each copy of an object's current bytes lives, and in what state.
-- Several rows per object once REPLICATION > 1.
CREATE TABLE replica (
    content_id uuid        NOT NULL REFERENCES content (id) ON DELETE CASCADE,
    node_id    text        NOT NULL,
    state      text        NOT NULL DEFAULT 'ok'
                           CHECK (state IN ('ok', 'missing', 'corrupt')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (content_id, node_id)
);

CREATE INDEX replica_node_id_idx ON replica (node_id);
