CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    note text NOT NULL
);
