-- A table the slow backfill walks (the SIGTERM and concurrent-run tests).
CREATE TABLE items (
    id bigint PRIMARY KEY,
    label text NOT NULL,
    legacy text
);
