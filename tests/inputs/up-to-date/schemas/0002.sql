-- Version 2 already includes plan 0002: nothing is pending.
CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL, age integer);
