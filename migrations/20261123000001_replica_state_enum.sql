-- A copy's state as a type of its own: no other word can be stored, and
-- the code reads it as an enum rather than parsing text.
CREATE TYPE replica_state AS ENUM ('ok', 'missing', 'corrupt');

ALTER TABLE replica DROP CONSTRAINT replica_state_check;
ALTER TABLE replica ALTER COLUMN state DROP DEFAULT;
ALTER TABLE replica ALTER COLUMN state TYPE replica_state USING state::replica_state;
ALTER TABLE replica ALTER COLUMN state SET DEFAULT 'ok';
