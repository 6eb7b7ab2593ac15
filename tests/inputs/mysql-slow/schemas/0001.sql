-- A table the slow backfill walks (the SIGTERM and concurrent-run tests).
CREATE TABLE items (
    id BIGINT NOT NULL PRIMARY KEY,
    label VARCHAR(100) NOT NULL,
    legacy VARCHAR(10)
);
