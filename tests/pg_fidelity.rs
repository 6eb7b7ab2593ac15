//! The differential oracle on PostgreSQL: what `zerodown apply --until
//! contract` leaves equals what the same DDL run by hand leaves, as
//! `pg_dump` prints it, rows included; and a change zerodown cannot make
//! the same way is refused at `plan`, with nothing applied.

mod support;

use support::oracle::{assert_same, pg_dump, pg_rows, plan_dir, write_plan};
use support::pg::run;
use support::{PgDb, Scratch};

/// `users` in two schemas, with rows that tell them apart.
const TWO_SCHEMAS: &str = "
CREATE SCHEMA app;
CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE app.users (id bigint PRIMARY KEY, created_ts timestamptz NOT NULL DEFAULT now());
INSERT INTO public.users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 50) g;
INSERT INTO app.users SELECT g, timestamptz '2024-01-01' + g * interval '1 day' FROM generate_series(1, 30) g;
";

/// The URL of `db` with `schema` first in the search path.
fn in_schema(db: &PgDb, schema: &str) -> String {
    let sep = if db.url.contains('?') { '&' } else { '?' };
    format!("{}{sep}options=-csearch_path%3D{schema}", db.url)
}

fn apply_until_contract(dir: &str, url: &str, scratch: &Scratch) -> support::pg::Run {
    let state = scratch.path("state.json").display().to_string();
    let args = [
        "apply",
        dir,
        "--database",
        url,
        "--state",
        &state,
        "--until",
        "contract",
    ];
    run(&args, scratch, &[])
}

/// Set up twin databases with `setup`, run `ddl` by hand on one and the
/// plan of `changes` through zerodown (connected with `url_of`) on the
/// other, and compare catalog and rows.
fn oracle(setup: &str, changes: &[&str], ddl: &str, schema: Option<&str>) {
    let (by_hand, by_zerodown) = (PgDb::new(), PgDb::new());
    by_hand.exec(setup);
    by_zerodown.exec(setup);
    by_hand.exec(&match schema {
        Some(s) => format!("SET search_path = {s}; {ddl}"),
        None => ddl.to_string(),
    });
    let scratch = Scratch::new();
    let dir = plan_dir(&scratch, "postgres", 2, changes);
    let url = match schema {
        Some(s) => in_schema(&by_zerodown, s),
        None => by_zerodown.url.clone(),
    };
    apply_until_contract(&dir, &url, &scratch).expect(0, "apply --until contract");
    assert_same(
        "pg_dump --schema-only",
        &pg_dump(&by_hand),
        &pg_dump(&by_zerodown),
    );
    assert_same("rows", &pg_rows(&by_hand), &pg_rows(&by_zerodown));
}

#[test]
fn a_name_qualified_with_the_search_path_schema_changes_that_table() {
    oracle(
        TWO_SCHEMAS,
        &["ALTER TABLE app.users ADD COLUMN note text"],
        "ALTER TABLE app.users ADD COLUMN note text",
        Some("app"),
    );
}

#[test]
fn a_retype_qualified_with_the_search_path_schema_changes_that_table() {
    oracle(
        TWO_SCHEMAS,
        &["ALTER TABLE app.users ALTER COLUMN created_ts TYPE timestamp"],
        "ALTER TABLE app.users ALTER COLUMN created_ts TYPE timestamp",
        Some("app"),
    );
}

#[test]
fn an_unqualified_name_changes_the_search_path_schema() {
    oracle(
        TWO_SCHEMAS,
        &["ALTER TABLE users ADD COLUMN note text", "DROP TABLE users"],
        "ALTER TABLE users ADD COLUMN note text; DROP TABLE users",
        Some("app"),
    );
}

#[test]
fn a_name_in_another_schema_is_refused_and_nothing_is_applied() {
    let db = PgDb::new();
    db.exec(TWO_SCHEMAS);
    let before = (pg_dump(&db), pg_rows(&db));
    let scratch = Scratch::new();
    for change in [
        "ALTER TABLE app.users ADD COLUMN note text",
        "ALTER TABLE app.users ALTER COLUMN created_ts TYPE timestamp",
        "DROP TABLE app.users",
    ] {
        let dir = plan_dir(&scratch, "postgres", 2, &[change]);
        let out = apply_until_contract(&dir, &db.url, &scratch);
        out.expect(1, change);
        assert!(
            out.stderr.contains("is in schema `app`") && out.stderr.contains("search_path"),
            "{change}: the refusal says why and how:\n{}",
            out.stderr
        );
        assert!(out.stderr.contains("nothing was applied"), "{}", out.stderr);
        assert_eq!(
            (pg_dump(&db), pg_rows(&db)),
            before,
            "{change}: the database changed"
        );
    }
}

const MEMBERSHIPS: &str = "
CREATE TABLE memberships (id bigint PRIMARY KEY, org_id bigint NOT NULL, user_id bigint NOT NULL);
INSERT INTO memberships SELECT g, g % 7, g FROM generate_series(1, 200) g;
";

#[test]
fn a_primary_key_replaced_in_one_version_is_refused_and_nothing_is_applied() {
    let db = PgDb::new();
    db.exec(MEMBERSHIPS);
    let before = pg_dump(&db);
    let scratch = Scratch::new();
    let changes = [
        "ALTER TABLE memberships DROP CONSTRAINT memberships_pkey",
        "ALTER TABLE memberships ADD PRIMARY KEY (org_id, user_id)",
    ];
    let dir = plan_dir(&scratch, "postgres", 2, &changes);
    let out = apply_until_contract(&dir, &db.url, &scratch);
    out.expect(1, "a primary key replaced in one version");
    assert!(
        out.stderr
            .contains("drops the primary key of memberships and adds another"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("PRIMARY KEY USING INDEX memberships_new_pkey"),
        "{}",
        out.stderr
    );
    assert_eq!(pg_dump(&db), before, "the database changed");
}

/// The path the refusal above gives ends where the direct DDL does.
#[test]
fn a_primary_key_replaced_over_two_versions_ends_as_the_direct_ddl() {
    let (by_hand, by_zerodown) = (PgDb::new(), PgDb::new());
    by_hand.exec(MEMBERSHIPS);
    by_zerodown.exec(MEMBERSHIPS);
    by_hand.exec(
        "ALTER TABLE memberships DROP CONSTRAINT memberships_pkey, ADD PRIMARY KEY (org_id, user_id)",
    );
    let scratch = Scratch::new();
    write_plan(
        &scratch,
        "postgres",
        2,
        &["CREATE UNIQUE INDEX CONCURRENTLY memberships_new_pkey ON memberships (org_id, user_id)"],
    );
    let dir = write_plan(
        &scratch,
        "postgres",
        3,
        &["{raw: \"ALTER TABLE memberships DROP CONSTRAINT memberships_pkey, ADD CONSTRAINT memberships_pkey PRIMARY KEY USING INDEX memberships_new_pkey\", phase: contract, id: swap-key}"],
    );
    apply_until_contract(&dir, &by_zerodown.url, &scratch).expect(0, "apply --until contract");
    assert_same(
        "pg_dump --schema-only",
        &pg_dump(&by_hand),
        &pg_dump(&by_zerodown),
    );
    assert_same("rows", &pg_rows(&by_hand), &pg_rows(&by_zerodown));
}
