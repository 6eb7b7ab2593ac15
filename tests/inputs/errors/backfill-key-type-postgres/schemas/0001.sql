CREATE TABLE sessions (span interval PRIMARY KEY, hits integer NOT NULL);
CREATE TABLE documents (id uuid PRIMARY KEY, version integer NOT NULL, title text);
