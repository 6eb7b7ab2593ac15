CREATE TABLE users (
    id bigint PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE old_sessions (
    id bigint PRIMARY KEY,
    token text NOT NULL
);
