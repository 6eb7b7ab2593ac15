CREATE TABLE users (id bigint PRIMARY KEY, email text, nickname text);
CREATE VIEW contacts AS SELECT u.id, u.email FROM users u WHERE u.email IS NOT NULL;
