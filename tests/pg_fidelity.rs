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

/// Tables keyed by types a backfill walks through their text form: uuid
/// (12,000 rows), and (timestamptz, numeric) (6,000 rows, fractions of a
/// second and of a unit, 'infinity' and 'NaN' among them). Each type change
/// fills a twin column with a backfill that walks that key, in batches of
/// 5,000.
const KEYED: &str = "
CREATE TABLE documents (id uuid PRIMARY KEY, title text NOT NULL, version integer NOT NULL);
INSERT INTO documents SELECT md5(g::text)::uuid, 'doc ' || g, g % 17 FROM generate_series(1, 12000) g;
CREATE TABLE quotes (at timestamptz, price numeric, qty integer NOT NULL, PRIMARY KEY (at, price));
INSERT INTO quotes SELECT timestamptz '2024-03-31 00:59:59.5+00' + (g % 7) * interval '0.25 second', g / 8.0, g FROM generate_series(1, 5998) g;
INSERT INTO quotes VALUES ('infinity', 'NaN', 1), ('-infinity', 0, 2);
";
const KEYED_CHANGES: &[&str] = &[
    "ALTER TABLE documents ALTER COLUMN version TYPE bigint",
    "ALTER TABLE quotes ALTER COLUMN qty TYPE bigint",
];

#[test]
fn a_type_change_on_tables_keyed_by_uuid_and_timestamptz_numeric_ends_as_the_direct_ddl() {
    oracle(
        KEYED,
        KEYED_CHANGES,
        "ALTER TABLE documents ALTER COLUMN version TYPE bigint; ALTER TABLE quotes ALTER COLUMN qty TYPE bigint",
        None,
    );
}

#[test]
fn a_run_killed_inside_a_uuid_keyed_backfill_resumes_from_its_checkpoint() {
    use support::kill::{batches, each_point, kill_and_resume, outcome};

    let seeded = || {
        let db = PgDb::new();
        db.exec(KEYED);
        db
    };
    let scratch = Scratch::new();
    let dir = plan_dir(&scratch, "postgres", 2, KEYED_CHANGES);
    let db = seeded();
    let state = scratch.path("state.json");
    apply_until_contract(&dir, &db.url, &scratch).expect(0, "reference run");
    let reference = outcome(&db, &scratch, &[]);
    let reference_rows = pg_rows(&db);
    let batches = batches(&state);
    drop(db);
    assert_eq!(batches.len(), 2, "{batches:?}");

    // After each batch of each backfill commits, before its checkpoint is
    // saved: the resume starts from the key the batch before saved.
    let mut points = Vec::new();
    for (id, &n) in &batches {
        assert!(n >= 2, "{id}: {n} batches");
        points.extend((1..=n).map(|k| format!("batch:{id}:{k}")));
    }
    each_point(&points, 2, |point| {
        kill_and_resume(&dir, point, &seeded, &[], &reference)
    });

    // The checkpoint holds the key as text, and the resumed rows are the
    // reference's.
    let id = batches.keys().find(|id| id.contains("documents")).unwrap();
    let db = seeded();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let failpoint = format!("batch:{id}:2");
    let killed = run(
        &[
            "apply",
            &dir,
            "--database",
            &db.url,
            "--state",
            &state_arg,
            "--until",
            "contract",
        ],
        &scratch,
        &[("ZERODOWN_FAILPOINT", &failpoint)],
    );
    assert_eq!(killed.signal, Some(6), "{}", killed.stderr);
    let checkpoint = support::run::state_json(&state)["backfills"][id].clone();
    let key = checkpoint["last_key"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        key.len() == 36 && key.chars().filter(|c| *c == '-').count() == 4,
        "a uuid in the checkpoint: {checkpoint}"
    );
    run(
        &["resume", "--database", &db.url, "--state", &state_arg],
        &scratch,
        &[],
    )
    .expect(0, "resume");
    assert_same("rows after resume", &reference_rows, &pg_rows(&db));
}

/// Dropping a NOT NULL column goes through NULL allowed (or the fill:
/// default) in expand; after contract nothing of it remains: the same
/// catalog and rows as the DROP run by hand.
#[test]
fn dropping_a_not_null_column_ends_as_the_direct_ddl() {
    let setup = "CREATE TABLE t (id bigint PRIMARY KEY, a int NOT NULL, b text);
        CREATE INDEX t_a_idx ON t (a);
        INSERT INTO t SELECT g, g, 'row ' || g FROM generate_series(1, 40) g;";
    let ddl = "ALTER TABLE t DROP COLUMN a";
    oracle(setup, &[ddl], ddl, None);
    oracle(
        setup,
        &["{sql: \"ALTER TABLE t DROP COLUMN a\", fill: \"0\"}"],
        ddl,
        None,
    );
}
