CREATE TABLE t (
    id bigint PRIMARY KEY,
    v integer NOT NULL
);
