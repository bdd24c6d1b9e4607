-- The dashboard lists by name and by size as well as by age: a page of
-- either order starts from an index, not from a sort of the whole table.
CREATE INDEX content_by_name ON content (lower(filename), id);
CREATE INDEX content_by_size ON content (size, id);
