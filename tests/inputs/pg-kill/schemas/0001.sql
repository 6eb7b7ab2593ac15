-- The schema at version 1 for the kill-and-resume and traffic tests.
CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    email text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payments (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    amount integer NOT NULL,
    memo text
);

CREATE INDEX accounts_name_idx ON accounts (name);
