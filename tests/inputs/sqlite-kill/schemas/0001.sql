-- The schema at version 1 for the SQLite apply, kill-and-resume and
-- concurrent-writer tests.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    email TEXT,
    legacy TEXT,
    created_at TEXT NOT NULL DEFAULT '2024-01-01 00:00:00'
);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    amount TEXT NOT NULL,
    memo TEXT
);

CREATE TABLE old_sessions (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL
);

CREATE INDEX accounts_name_idx ON accounts (name);
