CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, legacy TEXT);
CREATE VIEW all_items AS SELECT * FROM items;
