-- Bearer tokens of the native API. Only the SHA-256 of each secret is
-- kept: a copy of the database gives no usable credential.
CREATE TABLE api_token (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    secret_hash  text        NOT NULL UNIQUE,
    scopes       text[]      NOT NULL
                             CHECK (scopes <@ ARRAY['read', 'write', 'admin']::text[]),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
