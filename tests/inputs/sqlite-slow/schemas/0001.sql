-- The schema at version 1 for the SQLite tests that act while a run is
-- under way.
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    legacy TEXT
);
