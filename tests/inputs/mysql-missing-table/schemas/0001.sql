-- The snapshot has the table; the database the test applies to does not.
CREATE TABLE ghosts (
    id bigint PRIMARY KEY
);
