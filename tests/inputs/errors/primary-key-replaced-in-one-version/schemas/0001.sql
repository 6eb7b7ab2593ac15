CREATE TABLE memberships (id bigint PRIMARY KEY, org_id bigint NOT NULL, user_id bigint NOT NULL);
