-- The shop's schema at version 1 (PostgreSQL).
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    email varchar(200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL,
    total integer NOT NULL,
    status varchar(20) DEFAULT 'new',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE legacy_sessions (
    id bigserial PRIMARY KEY,
    token text NOT NULL
);

CREATE INDEX users_email_idx ON users (email);

CREATE VIEW recent_orders AS SELECT id, user_id, created_at FROM orders WHERE created_at > now() - interval '7 days';
