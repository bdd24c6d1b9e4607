-- The key presigned URLs are signed with when SIGNING_KEY is not set:
-- made once, so links stay valid across restarts. The one row is keyed by
-- `true` so a second can never be added.
CREATE TABLE signing_key (
    only_row   boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    key        bytea       NOT NULL CHECK (length(key) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
