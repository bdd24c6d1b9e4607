-- Access keys of the S3 API. Unlike a bearer token, the secret is stored
-- as it was issued: SigV4 proves knowledge of the secret by an HMAC keyed
-- with it, so the server must hold the secret itself to check a signature.
-- It is never shown again after creation and never logged.
CREATE TABLE access_key (
    id                uuid        PRIMARY KEY,
    access_key_id     text        NOT NULL UNIQUE CHECK (access_key_id ~ '^[A-Z0-9]{20}$'),
    secret_access_key text        NOT NULL CHECK (length(secret_access_key) = 40),
    name              text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scopes            text[]      NOT NULL
                                  CHECK (scopes <@ ARRAY['read', 'write', 'admin']::text[]),
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_used_at      timestamptz,
    revoked_at        timestamptz
);
