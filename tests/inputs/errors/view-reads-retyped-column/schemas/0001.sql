CREATE TABLE orders (id bigint PRIMARY KEY, total integer NOT NULL, note varchar(50));
CREATE VIEW big_orders AS SELECT id, total, note FROM orders WHERE total > 1000;
