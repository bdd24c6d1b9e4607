-- Whether reading an object needs a credential. Everything stored before
-- this change stays public, as it was.
CREATE TYPE content_visibility AS ENUM ('public', 'private');

ALTER TABLE content
    ADD COLUMN visibility content_visibility NOT NULL DEFAULT 'public';
