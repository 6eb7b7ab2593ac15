CREATE TABLE accounts (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);
CREATE VIEW account_names AS SELECT id, name FROM accounts;
