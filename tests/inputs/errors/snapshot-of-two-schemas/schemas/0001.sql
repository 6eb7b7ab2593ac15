CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE app.users (id bigint PRIMARY KEY, created_ts timestamptz);
