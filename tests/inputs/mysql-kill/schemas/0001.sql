-- The schema at version 1 for the MySQL kill-and-resume and traffic tests.
CREATE TABLE accounts (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(200),
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE payments (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    account_id BIGINT NOT NULL,
    amount INT NOT NULL,
    memo VARCHAR(200),
    CONSTRAINT payments_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)
);

CREATE INDEX accounts_name_idx ON accounts (name);
