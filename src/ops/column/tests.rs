//! The column rules per engine: classifications, actions and SQL.

use super::*;
use crate::ops::{analyze, Context, Operation};
use crate::schema::Constraint;

fn col(name: &str, data_type: &str, nullable: bool, default: Option<&str>) -> Column {
    Column {
        name: name.into(),
        data_type: data_type.into(),
        nullable,
        default: default.map(str::to_string),
        drop_at: None,
    }
}

fn constraint(name: &str, kind: ConstraintKind) -> (String, Constraint) {
    (
        name.to_string(),
        Constraint {
            name: name.to_string(),
            kind,
            validated: true,
        },
    )
}

fn index(
    engine: EngineKind,
    name: &str,
    table: &str,
    column: &str,
    unique: bool,
) -> (String, Index) {
    let index = Index {
        name: name.into(),
        table: table.into(),
        keys: vec![engine.quote_ident(column)],
        columns: vec![column.into()],
        unique,
        predicate: None,
        drop_at: None,
    };
    (name.to_string(), index)
}

/// users (id PK; name NOT NULL, indexed; email UNIQUE, referenced by
/// orders; status NOT NULL DEFAULT 'active'; bio under a CHECK; nick
/// indexed), orders (user_id and contact_email under foreign keys),
/// logs (no primary key).
fn schema(engine: EngineKind) -> Schema {
    let mut users = Table::new("users");
    users.columns = vec![
        col("id", "bigint", false, None),
        col("name", "text", false, None),
        col("email", "varchar(20)", true, None),
        col("status", "varchar(10)", false, Some("'active'")),
        col("bio", "text", true, None),
        col("nick", "VARCHAR(20)", true, None),
    ];
    users.primary_key = vec!["id".into()];
    users.constraints = [
        constraint(
            "users_pkey",
            ConstraintKind::PrimaryKey {
                columns: vec!["id".into()],
            },
        ),
        constraint(
            "users_email_key",
            ConstraintKind::Unique {
                columns: vec!["email".into()],
            },
        ),
        constraint(
            "users_bio_check",
            ConstraintKind::Check {
                expr: "length(bio) < 1000".into(),
            },
        ),
    ]
    .into_iter()
    .collect();
    let mut orders = Table::new("orders");
    orders.columns = vec![
        col("id", "bigint", false, None),
        col("user_id", "bigint", false, None),
        col("contact_email", "varchar(20)", true, None),
    ];
    orders.primary_key = vec!["id".into()];
    orders.constraints = [
        constraint(
            "orders_user_fk",
            ConstraintKind::ForeignKey {
                columns: vec!["user_id".into()],
                ref_table: "users".into(),
                ref_columns: vec!["id".into()],
            },
        ),
        constraint(
            "orders_email_fk",
            ConstraintKind::ForeignKey {
                columns: vec!["contact_email".into()],
                ref_table: "users".into(),
                ref_columns: vec!["email".into()],
            },
        ),
    ]
    .into_iter()
    .collect();
    let mut logs = Table::new("logs");
    logs.columns = vec![col("msg", "text", true, None)];
    Schema {
        version: 1,
        tables: [users, orders, logs]
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect(),
        indexes: [
            index(engine, "users_name_idx", "users", "name", false),
            index(engine, "users_nick_idx", "users", "nick", false),
            index(engine, "orders_user_idx", "orders", "user_id", false),
        ]
        .into_iter()
        .collect(),
        views: Default::default(),
        ..Schema::default()
    }
}

fn run(engine: EngineKind, op: &Operation) -> Result<Analysis, Refusal> {
    let backfills = [(
        "users".to_string(),
        "handle".to_string(),
        "split_part(email, '@', 1)".to_string(),
    )];
    let ctx = Context {
        version: 2,
        soft_drop: false,
        backfill_exprs: &backfills,
        batch_size: 5000,
        fill: None,
    };
    analyze(engine, op, &schema(engine), &ctx)
}

fn statements(analysis: &Analysis) -> Vec<String> {
    analysis
        .actions
        .iter()
        .flat_map(|a| match &a.step {
            Step::Sql(s) => s
                .statements
                .iter()
                .map(|st| format!("{}/{}: {st}", a.phase, a.key))
                .collect(),
            Step::Backfill(b) => vec![format!(
                "{}/{}: SET {} WHERE {}",
                a.phase, a.key, b.set, b.pending
            )],
            Step::Check(c) => vec![format!("{}/{}: {}", a.phase, a.key, c.count_sql)],
            Step::Rebuild(r) => vec![format!(
                "{}/{}: REBUILD {} ({})",
                a.phase,
                a.key,
                r.table,
                r.edits
                    .iter()
                    .map(|e| e.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            )],
        })
        .collect()
}

fn add(name: &str, data_type: &str, nullable: bool, default: Option<(&str, bool)>) -> Operation {
    Operation::AddColumn {
        table: "users".into(),
        column: ColumnSpec {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
            default: default.map(|(sql, volatile)| DefaultExpr {
                sql: sql.into(),
                volatile,
            }),
            extra: Vec::new(),
        },
    }
}

fn add_with(name: &str, extra: &str) -> Operation {
    let Operation::AddColumn { table, mut column } = add(name, "text", true, None) else {
        unreachable!()
    };
    column.extra.push(extra.into());
    Operation::AddColumn { table, column }
}

fn on(table: &str, op: Operation) -> Operation {
    match op {
        Operation::AddColumn { column, .. } => Operation::AddColumn {
            table: table.into(),
            column,
        },
        Operation::DropColumn { column, .. } => Operation::DropColumn {
            table: table.into(),
            column,
        },
        Operation::RenameColumn { from, to, .. } => Operation::RenameColumn {
            table: table.into(),
            from,
            to,
        },
        other => other,
    }
}

fn drop_col(column: &str) -> Operation {
    Operation::DropColumn {
        table: "users".into(),
        column: column.into(),
    }
}

fn rename(from: &str, to: &str) -> Operation {
    Operation::RenameColumn {
        table: "users".into(),
        from: from.into(),
        to: to.into(),
    }
}

fn alter_type(column: &str, new_type: &str, using: Option<&str>) -> Operation {
    Operation::AlterColumnType {
        table: "users".into(),
        column: column.into(),
        new_type: new_type.into(),
        using: using.map(str::to_string),
        written_as: "ALTER COLUMN TYPE".into(),
    }
}

fn set_nn(column: &str) -> Operation {
    Operation::SetNotNull {
        table: "users".into(),
        column: column.into(),
    }
}

fn drop_nn(column: &str) -> Operation {
    Operation::DropNotNull {
        table: "users".into(),
        column: column.into(),
    }
}

fn set_def(column: &str, sql: &str, volatile: bool) -> Operation {
    Operation::SetDefault {
        table: "users".into(),
        column: column.into(),
        default: DefaultExpr {
            sql: sql.into(),
            volatile,
        },
    }
}

fn drop_def(column: &str) -> Operation {
    Operation::DropDefault {
        table: "users".into(),
        column: column.into(),
    }
}

/// `phase/key` of every action, in order.
fn shape(analysis: &Analysis) -> Vec<String> {
    analysis
        .actions
        .iter()
        .map(|a| format!("{}/{}", a.phase, a.key))
        .collect()
}

enum Expect {
    Planned(
        ChangeClass,
        &'static str,
        &'static str,
        &'static [&'static str],
    ),
    Refused(&'static str),
}
use Expect::{Planned, Refused};

const PG_NOT_NULL_MIGRATE: [&str; 4] = [
    "migrate/check-nulls",
    "migrate/add-not-null-check",
    "migrate/validate-not-null-check",
    "migrate/set-not-null",
];

#[test]
fn classification_and_actions_per_engine() {
    use ChangeClass::{Additive, Subtractive, Transforming};
    use EngineKind::{Mysql, Postgres, Sqlite};
    let pg_volatile_not_null: Vec<&str> = [
        "expand/add-column",
        "expand/set-default",
        "migrate/backfill",
    ]
    .into_iter()
    .chain(PG_NOT_NULL_MIGRATE)
    .collect();
    let pg_fill: Vec<&str> = ["expand/add-column", "expand/fill-trigger"]
        .into_iter()
        .chain(PG_NOT_NULL_MIGRATE)
        .chain(["contract/drop-fill-trigger"])
        .collect();
    let cases: Vec<(EngineKind, Operation, Expect)> = vec![
        // ADD COLUMN
        (
            Postgres,
            add("note", "text", true, None),
            Planned(
                Additive,
                "pg/add-column/nullable",
                postgres::LOCK_CATALOG_ONLY,
                &["expand/add-column"],
            ),
        ),
        (
            Postgres,
            add("flag", "boolean", false, Some(("false", false))),
            Planned(
                Additive,
                "pg/add-column/constant-default",
                postgres::LOCK_CATALOG_ONLY,
                &["expand/add-column"],
            ),
        ),
        (
            Postgres,
            add("token", "uuid", true, Some(("gen_random_uuid()", true))),
            Planned(
                Transforming,
                "pg/add-column/volatile-default",
                postgres::LOCK_TABLE_REWRITE,
                &[
                    "expand/add-column",
                    "expand/set-default",
                    "migrate/backfill",
                ],
            ),
        ),
        (
            Postgres,
            add("token", "uuid", false, Some(("gen_random_uuid()", true))),
            Planned(
                Transforming,
                "pg/add-column/volatile-default",
                postgres::LOCK_TABLE_REWRITE,
                pg_volatile_not_null.clone().leak(),
            ),
        ),
        (
            Postgres,
            add("handle", "text", false, None),
            Planned(
                Transforming,
                "pg/add-column/not-null-without-default",
                postgres::LOCK_CATALOG_ONLY,
                pg_fill.clone().leak(),
            ),
        ),
        (
            Postgres,
            add("other", "text", false, None),
            Refused("pg/add-column/not-null-without-default"),
        ),
        (
            Postgres,
            on("logs", add("n", "float8", true, Some(("random()", true)))),
            Refused("pg/backfill/no-primary-key"),
        ),
        (
            Postgres,
            add("seq", "bigserial", true, None),
            Refused("pg/add-column/serial"),
        ),
        (
            Postgres,
            add_with("code", "UNIQUE"),
            Refused("pg/add-column/inline-constraint"),
        ),
        (
            Postgres,
            add_with("code", "GENERATED ALWAYS AS (upper(name)) STORED"),
            Refused("pg/add-column/generated"),
        ),
        (
            Postgres,
            add_with("code", "COLLATE \"C\""),
            Planned(
                Additive,
                "pg/add-column/nullable",
                postgres::LOCK_CATALOG_ONLY,
                &["expand/add-column"],
            ),
        ),
        (
            Mysql,
            add("note", "TEXT", true, None),
            Planned(
                Additive,
                "mysql/add-column/nullable",
                mysql::LOCK_INSTANT,
                &["expand/add-column"],
            ),
        ),
        (
            Mysql,
            add("flag", "BOOLEAN", false, Some(("0", false))),
            Planned(
                Additive,
                "mysql/add-column/constant-default",
                mysql::LOCK_INSTANT,
                &["expand/add-column"],
            ),
        ),
        (
            Mysql,
            add("token", "CHAR(36)", true, Some(("UUID()", true))),
            Planned(
                Transforming,
                "mysql/add-column/volatile-default",
                mysql::LOCK_COPY,
                &[
                    "expand/add-column",
                    "expand/set-default",
                    "migrate/backfill",
                ],
            ),
        ),
        (
            Mysql,
            add("handle", "TEXT", false, None),
            Planned(
                Transforming,
                "mysql/add-column/not-null-without-default",
                mysql::LOCK_INSTANT,
                &[
                    "expand/add-column",
                    "expand/fill-trigger-insert",
                    "expand/fill-trigger-update",
                    "migrate/check-nulls",
                    "migrate/set-not-null",
                    "contract/drop-fill-trigger-insert",
                    "contract/drop-fill-trigger-update",
                ],
            ),
        ),
        (
            Mysql,
            add("seq", "SERIAL", true, None),
            Refused("mysql/add-column/serial"),
        ),
        (
            Mysql,
            add_with("code", "REFERENCES orgs (id)"),
            Refused("mysql/add-column/inline-constraint"),
        ),
        (
            Sqlite,
            add("note", "TEXT", true, None),
            Planned(
                Additive,
                "sqlite/add-column/nullable",
                sqlite::LOCK_CATALOG_ONLY,
                &["expand/add-column"],
            ),
        ),
        (
            Sqlite,
            add("flag", "INTEGER", false, Some(("0", false))),
            Planned(
                Additive,
                "sqlite/add-column/constant-default",
                sqlite::LOCK_CATALOG_ONLY,
                &["expand/add-column"],
            ),
        ),
        (
            Sqlite,
            add_with("org_id", "REFERENCES orgs (id)"),
            Planned(
                Additive,
                "sqlite/add-column/nullable",
                sqlite::LOCK_CATALOG_ONLY,
                &["expand/add-column"],
            ),
        ),
        (
            Sqlite,
            add("at", "TEXT", true, Some(("CURRENT_TIMESTAMP", false))),
            Planned(
                Transforming,
                "sqlite/add-column/volatile-default",
                sqlite::LOCK_TABLE_REBUILD,
                &[
                    "expand/add-column",
                    "expand/set-default",
                    "migrate/backfill",
                ],
            ),
        ),
        (
            Sqlite,
            add("handle", "TEXT", false, None),
            Planned(
                Transforming,
                "sqlite/add-column/not-null-without-default",
                sqlite::LOCK_TABLE_REBUILD,
                &[
                    "expand/add-column",
                    "expand/fill-trigger-insert",
                    "expand/fill-trigger-update",
                    "contract/check-nulls",
                    "contract/set-not-null",
                    "contract/drop-fill-trigger-insert",
                    "contract/drop-fill-trigger-update",
                ],
            ),
        ),
        (
            Sqlite,
            add("seen", "TEXT", false, Some(("CURRENT_TIMESTAMP", false))),
            Planned(
                Transforming,
                "sqlite/add-column/volatile-default",
                sqlite::LOCK_TABLE_REBUILD,
                &[
                    "expand/add-column",
                    "expand/set-default",
                    "migrate/backfill",
                    "contract/check-nulls",
                    "contract/set-not-null",
                ],
            ),
        ),
        // DROP COLUMN
        (
            Postgres,
            drop_col("bio"),
            Planned(
                Subtractive,
                "pg/drop-column/catalog-only",
                postgres::LOCK_CATALOG_ONLY,
                &["contract/drop-column"],
            ),
        ),
        (
            Postgres,
            drop_col("id"),
            Refused("pg/drop-column/primary-key"),
        ),
        (
            Postgres,
            drop_col("email"),
            Refused("pg/drop-column/referenced"),
        ),
        (
            Mysql,
            drop_col("status"),
            Planned(
                Subtractive,
                "mysql/drop-column/instant",
                mysql::LOCK_INSTANT,
                &["contract/drop-column"],
            ),
        ),
        (
            Mysql,
            drop_col("bio"),
            Planned(
                Subtractive,
                "mysql/drop-column/instant",
                mysql::LOCK_INSTANT,
                &["contract/drop-dependents", "contract/drop-column"],
            ),
        ),
        (
            Mysql,
            drop_col("nick"),
            Planned(
                Subtractive,
                "mysql/drop-column/instant",
                mysql::LOCK_INSTANT,
                &["contract/drop-dependents", "contract/drop-column"],
            ),
        ),
        (
            Mysql,
            on("orders", drop_col("user_id")),
            Planned(
                Subtractive,
                "mysql/drop-column/instant",
                mysql::LOCK_INSTANT,
                &[
                    "expand/allow-null-until-dropped",
                    "contract/drop-dependents",
                    "contract/drop-column",
                ],
            ),
        ),
        (
            Sqlite,
            drop_col("nick"),
            Planned(
                Subtractive,
                "sqlite/drop-column/rewrite",
                sqlite::LOCK_TABLE_REWRITE,
                &["contract/drop-column"],
            ),
        ),
        (
            Sqlite,
            drop_col("bio"),
            Planned(
                Subtractive,
                "sqlite/drop-column/rebuild",
                sqlite::LOCK_TABLE_REBUILD,
                &["contract/drop-column"],
            ),
        ),
        (
            Sqlite,
            on("orders", drop_col("user_id")),
            Planned(
                Subtractive,
                "sqlite/drop-column/rebuild",
                sqlite::LOCK_TABLE_REBUILD,
                &["expand/allow-null-until-dropped", "contract/drop-column"],
            ),
        ),
        // RENAME COLUMN
        (
            Postgres,
            rename("name", "full_name"),
            Planned(
                Transforming,
                "pg/rename-column/dual-write",
                postgres::LOCK_CATALOG_ONLY,
                &[
                    "expand/add-column",
                    "expand/sync-trigger",
                    "expand/copy-index-users_name_idx",
                    "migrate/backfill",
                    "contract/check-synced",
                    "contract/check-nulls",
                    "contract/add-not-null-check",
                    "contract/validate-not-null-check",
                    "contract/set-not-null",
                    "contract/drop-old-column",
                    "contract/rename-index-users_name_idx",
                ],
            ),
        ),
        (
            Postgres,
            rename("bio", "about"),
            Refused("pg/rename-column/constrained"),
        ),
        (
            Postgres,
            rename("id", "user_id"),
            Refused("pg/rename-column/primary-key"),
        ),
        (
            Postgres,
            rename("email", "mail"),
            Refused("pg/rename-column/referenced"),
        ),
        (
            Postgres,
            on("orders", rename("user_id", "owner_id")),
            Refused("pg/rename-column/constrained"),
        ),
        (
            Mysql,
            rename("name", "full_name"),
            Planned(
                Transforming,
                "mysql/rename-column/dual-write",
                mysql::LOCK_INSTANT,
                &[
                    "expand/add-column",
                    "expand/make-old-nullable",
                    "expand/sync-trigger-insert",
                    "expand/sync-trigger-update",
                    "expand/copy-index-users_name_idx",
                    "migrate/backfill",
                    "contract/check-synced",
                    "contract/check-nulls",
                    "contract/set-not-null",
                    "contract/drop-sync-trigger-insert",
                    "contract/drop-sync-trigger-update",
                    "contract/drop-old-indexes",
                    "contract/drop-old-column",
                    "contract/rename-index-users_name_idx",
                ],
            ),
        ),
        (
            Mysql,
            rename("status", "state"),
            Planned(
                Transforming,
                "mysql/rename-column/dual-write",
                mysql::LOCK_INSTANT,
                &[
                    "expand/add-column",
                    "expand/sync-trigger-insert",
                    "expand/sync-trigger-update",
                    "migrate/backfill",
                    "contract/check-synced",
                    "contract/check-nulls",
                    "contract/set-not-null",
                    "contract/drop-sync-trigger-insert",
                    "contract/drop-sync-trigger-update",
                    "contract/drop-old-column",
                ],
            ),
        ),
        (
            Sqlite,
            rename("status", "state"),
            Planned(
                Transforming,
                "sqlite/rename-column/dual-write",
                sqlite::LOCK_CATALOG_ONLY,
                &[
                    "expand/add-column",
                    "expand/sync-trigger-insert",
                    "expand/sync-trigger-update",
                    "migrate/backfill",
                    "contract/check-synced",
                    "contract/drop-old-column",
                ],
            ),
        ),
        (
            Sqlite,
            rename("nick", "handle"),
            Planned(
                Transforming,
                "sqlite/rename-column/dual-write",
                sqlite::LOCK_CATALOG_ONLY,
                &[
                    "expand/add-column",
                    "expand/sync-trigger-insert",
                    "expand/sync-trigger-update",
                    "expand/copy-index-users_nick_idx",
                    "migrate/backfill",
                    "contract/check-synced",
                    "contract/drop-old-column",
                    "contract/rename-index-users_nick_idx",
                ],
            ),
        ),
        (
            Sqlite,
            rename("name", "full_name"),
            Refused("sqlite/rename-column/not-null-without-default"),
        ),
        // ALTER COLUMN TYPE
        // A catalog-only widening is fine even under a foreign key.
        (
            Postgres,
            alter_type("email", "varchar(40)", None),
            Planned(
                Additive,
                "pg/alter-column-type/binary-compatible",
                postgres::LOCK_CATALOG_ONLY,
                &["expand/alter-type"],
            ),
        ),
        (
            Postgres,
            alter_type("email", "citext", None),
            Refused("pg/alter-column-type/referenced"),
        ),
        (
            Postgres,
            alter_type("nick", "text", None),
            Planned(
                Additive,
                "pg/alter-column-type/binary-compatible",
                postgres::LOCK_CATALOG_ONLY,
                &["expand/alter-type"],
            ),
        ),
        (
            Postgres,
            alter_type("nick", "text", Some("nick")),
            Planned(
                Transforming,
                "pg/alter-column-type/twin-column",
                postgres::LOCK_TABLE_REWRITE,
                &[
                    "expand/add-twin-column",
                    "expand/sync-trigger",
                    "expand/copy-index-users_nick_idx",
                    "migrate/backfill",
                    "contract/check-synced",
                    "contract/swap-columns",
                    "contract/rename-index-users_nick_idx",
                ],
            ),
        ),
        (
            Postgres,
            alter_type("bio", "jsonb", Some("bio::jsonb")),
            Refused("pg/alter-column-type/constrained"),
        ),
        (
            Postgres,
            alter_type("id", "uuid", None),
            Refused("pg/alter-column-type/primary-key"),
        ),
        (
            Postgres,
            alter_type("nick", "integer", Some("(SELECT 1 FROM orgs)")),
            Refused("pg/alter-column-type/using-expression"),
        ),
        (
            Mysql,
            alter_type("nick", "VARCHAR(60)", None),
            Planned(
                Additive,
                "mysql/alter-column-type/inplace",
                mysql::LOCK_INPLACE,
                &["expand/alter-type"],
            ),
        ),
        (
            Mysql,
            alter_type("nick", "VARCHAR(100)", None),
            Planned(
                Transforming,
                "mysql/alter-column-type/twin-column",
                mysql::LOCK_COPY,
                &[
                    "expand/add-twin-column",
                    "expand/sync-trigger-insert",
                    "expand/sync-trigger-update",
                    "expand/copy-index-users_nick_idx",
                    "migrate/backfill",
                    "contract/check-synced",
                    "contract/swap-columns",
                    "contract/rename-index-users_nick_idx",
                ],
            ),
        ),
        (
            Mysql,
            alter_type("nick", "INT", Some("nick + 0")),
            Refused("mysql/alter-column-type/using"),
        ),
        (
            Sqlite,
            alter_type("nick", "INTEGER", None),
            Planned(
                Transforming,
                "sqlite/alter-column-type/twin-column",
                sqlite::LOCK_TABLE_REWRITE,
                &[
                    "expand/add-twin-column",
                    "expand/sync-trigger-insert",
                    "expand/sync-trigger-update",
                    "migrate/backfill",
                    "contract/check-synced",
                    "contract/swap-columns",
                ],
            ),
        ),
        (
            Sqlite,
            alter_type("email", "TEXT", None),
            Refused("sqlite/alter-column-type/referenced"),
        ),
        // SET / DROP NOT NULL
        (
            Postgres,
            set_nn("nick"),
            Planned(
                Transforming,
                "pg/set-not-null/validated-check",
                postgres::LOCK_TABLE_SCAN,
                &[
                    "contract/check-nulls",
                    "contract/add-not-null-check",
                    "contract/validate-not-null-check",
                    "contract/set-not-null",
                ],
            ),
        ),
        (
            Mysql,
            set_nn("nick"),
            Planned(
                Transforming,
                "mysql/set-not-null/inplace",
                mysql::LOCK_INPLACE_REBUILD,
                &["contract/check-nulls", "contract/set-not-null"],
            ),
        ),
        (
            Sqlite,
            set_nn("nick"),
            Planned(
                Transforming,
                "sqlite/set-not-null/rebuild",
                sqlite::LOCK_TABLE_REBUILD,
                &["contract/check-nulls", "contract/set-not-null"],
            ),
        ),
        (
            Postgres,
            drop_nn("name"),
            Planned(
                Additive,
                "pg/drop-not-null/catalog-only",
                postgres::LOCK_CATALOG_ONLY,
                &["expand/drop-not-null"],
            ),
        ),
        (
            Postgres,
            drop_nn("id"),
            Refused("pg/drop-not-null/primary-key"),
        ),
        (
            Mysql,
            drop_nn("name"),
            Planned(
                Additive,
                "mysql/drop-not-null/inplace",
                mysql::LOCK_INPLACE_REBUILD,
                &["expand/drop-not-null"],
            ),
        ),
        (
            Sqlite,
            drop_nn("name"),
            Planned(
                Additive,
                "sqlite/drop-not-null/rebuild",
                sqlite::LOCK_TABLE_REBUILD,
                &["expand/drop-not-null"],
            ),
        ),
        (
            Sqlite,
            drop_nn("id"),
            Refused("sqlite/drop-not-null/primary-key"),
        ),
        // SET / DROP DEFAULT
        (
            Postgres,
            set_def("nick", "md5(random()::text)", true),
            Planned(
                Additive,
                "pg/set-default/catalog-only",
                postgres::LOCK_CATALOG_ONLY,
                &["expand/set-default"],
            ),
        ),
        (
            Mysql,
            set_def("nick", "'x'", false),
            Planned(
                Additive,
                "mysql/set-default/instant",
                mysql::LOCK_INSTANT,
                &["expand/set-default"],
            ),
        ),
        (
            Sqlite,
            set_def("nick", "'x'", false),
            Planned(
                Additive,
                "sqlite/set-default/rebuild",
                sqlite::LOCK_TABLE_REBUILD,
                &["expand/set-default"],
            ),
        ),
        (
            Postgres,
            drop_def("status"),
            Planned(
                Subtractive,
                "pg/drop-default/catalog-only",
                postgres::LOCK_CATALOG_ONLY,
                &["contract/drop-default"],
            ),
        ),
        (
            Mysql,
            drop_def("status"),
            Planned(
                Subtractive,
                "mysql/drop-default/instant",
                mysql::LOCK_INSTANT,
                &["contract/drop-default"],
            ),
        ),
        (
            Sqlite,
            drop_def("status"),
            Planned(
                Subtractive,
                "sqlite/drop-default/rebuild",
                sqlite::LOCK_TABLE_REBUILD,
                &["contract/drop-default"],
            ),
        ),
        // Unknown names.
        (
            Postgres,
            on("nope", drop_col("x")),
            Refused("pg/drop-column/unknown-table"),
        ),
        (
            Postgres,
            drop_col("nope"),
            Refused("pg/drop-column/unknown-column"),
        ),
    ];
    for (engine, op, expect) in cases {
        let got = run(engine, &op);
        let what = format!("{engine} {} {}", op.kind_name(), op.subject());
        match (expect, got) {
            (Planned(class, rule, lock, actions), Ok(a)) => {
                assert_eq!(
                    (
                        a.classification.class,
                        a.classification.rule.as_str(),
                        a.classification.lock.as_str()
                    ),
                    (class, rule, lock),
                    "{what}"
                );
                assert_eq!(shape(&a), actions, "{what}");
            }
            (Refused(rule), Err(r)) => assert_eq!(r.rule, rule, "{what}: {}", r.reason),
            (Planned(..), Err(r)) => panic!("{what}: refused {r:?}"),
            (Refused(rule), Ok(a)) => {
                panic!("{what}: expected refusal {rule}, got {:?}", shape(&a))
            }
        }
    }
}

#[test]
fn sqlite_rebuilds_carry_typed_edits_of_the_live_table() {
    let cases: Vec<(Operation, Vec<&str>)> = vec![
        (
            set_nn("nick"),
            vec![
                r#"contract/check-nulls: SELECT COUNT(*) FROM "users" WHERE "nick" IS NULL"#,
                "contract/set-not-null: REBUILD users (nick NOT NULL)",
            ],
        ),
        (
            drop_nn("name"),
            vec!["expand/drop-not-null: REBUILD users (name nullable)"],
        ),
        (
            set_def("nick", "'x'", false),
            vec!["expand/set-default: REBUILD users (nick DEFAULT 'x')"],
        ),
        (
            drop_def("status"),
            vec!["contract/drop-default: REBUILD users (status without default)"],
        ),
        (
            drop_col("bio"),
            vec!["contract/drop-column: REBUILD users (drop column bio)"],
        ),
        (
            add("at", "TEXT", true, Some(("CURRENT_TIMESTAMP", false))),
            vec![
                r#"expand/add-column: ALTER TABLE "users" ADD COLUMN "at" TEXT"#,
                "expand/set-default: REBUILD users (at DEFAULT CURRENT_TIMESTAMP)",
                r#"migrate/backfill: SET "at" = CURRENT_TIMESTAMP WHERE "at" IS NULL"#,
            ],
        ),
    ];
    for (op, expected) in cases {
        let a = run(EngineKind::Sqlite, &op).unwrap();
        assert_eq!(statements(&a), expected, "{}", op.subject());
        for action in &a.actions {
            if let Step::Rebuild(r) = &action.step {
                assert_eq!(r.lock, sqlite::LOCK_TABLE_REBUILD);
            }
        }
    }
}

#[test]
fn pg_rename_sql() {
    let a = run(EngineKind::Postgres, &rename("status", "state")).unwrap();
    let function = "CREATE OR REPLACE FUNCTION \"zd_sync_users_status\"() RETURNS trigger LANGUAGE plpgsql AS $zd$\nBEGIN\n  IF TG_OP = 'INSERT' THEN\n    NEW.\"state\" := COALESCE(NEW.\"state\", NEW.\"status\");\n  ELSIF NEW.\"state\" IS NOT DISTINCT FROM OLD.\"state\" THEN\n    NEW.\"state\" := NEW.\"status\";\n  END IF;\n  NEW.\"status\" := NEW.\"state\";\n  RETURN NEW;\nEND\n$zd$";
    let expected = vec![
        r#"expand/add-column: ALTER TABLE "users" ADD COLUMN "state" varchar(10)"#.to_string(),
        format!("expand/sync-trigger: {function}"),
        r#"expand/sync-trigger: CREATE TRIGGER "zd_sync_users_status" BEFORE INSERT OR UPDATE ON "users" FOR EACH ROW EXECUTE FUNCTION "zd_sync_users_status"()"#.to_string(),
        r#"migrate/backfill: SET "state" = "status" WHERE "state" IS DISTINCT FROM "status""#.to_string(),
        r#"contract/check-synced: SELECT COUNT(*) FROM "users" WHERE "state" IS DISTINCT FROM "status""#.to_string(),
        r#"contract/check-nulls: SELECT COUNT(*) FROM "users" WHERE "state" IS NULL"#.to_string(),
        r#"contract/add-not-null-check: ALTER TABLE "users" ADD CONSTRAINT "zd_nn_users_state" CHECK ("state" IS NOT NULL) NOT VALID"#.to_string(),
        r#"contract/validate-not-null-check: ALTER TABLE "users" VALIDATE CONSTRAINT "zd_nn_users_state""#.to_string(),
        r#"contract/set-not-null: ALTER TABLE "users" ALTER COLUMN "state" SET NOT NULL"#.to_string(),
        r#"contract/set-not-null: ALTER TABLE "users" DROP CONSTRAINT "zd_nn_users_state""#.to_string(),
        r#"contract/drop-old-column: DROP TRIGGER IF EXISTS "zd_sync_users_status" ON "users""#.to_string(),
        r#"contract/drop-old-column: DROP FUNCTION IF EXISTS "zd_sync_users_status"()"#.to_string(),
        r#"contract/drop-old-column: ALTER TABLE "users" ALTER COLUMN "state" SET DEFAULT 'active'"#.to_string(),
        r#"contract/drop-old-column: ALTER TABLE "users" DROP COLUMN "status""#.to_string(),
    ];
    assert_eq!(statements(&a), expected);

    let a = run(EngineKind::Postgres, &rename("name", "full_name")).unwrap();
    let sql = statements(&a);
    assert!(sql.contains(&r#"expand/copy-index-users_name_idx: CREATE INDEX CONCURRENTLY "zd_copy_users_name_idx" ON "users" ("full_name")"#.to_string()));
    assert_eq!(
        sql.last().map(String::as_str),
        Some(
            r#"contract/rename-index-users_name_idx: ALTER INDEX "zd_copy_users_name_idx" RENAME TO "users_name_idx""#
        )
    );
}

#[test]
fn mysql_rename_sql() {
    let a = run(EngineKind::Mysql, &rename("name", "full_name")).unwrap();
    let expected = vec![
        "expand/add-column: ALTER TABLE `users` ADD COLUMN `full_name` text NULL, ALGORITHM=INSTANT",
        "expand/make-old-nullable: ALTER TABLE `users` MODIFY COLUMN `name` text NULL, ALGORITHM=INPLACE, LOCK=NONE",
        "expand/sync-trigger-insert: CREATE TRIGGER `zd_sync_users_name_ins` BEFORE INSERT ON `users` FOR EACH ROW SET NEW.`full_name` = COALESCE(NEW.`full_name`, NEW.`name`), NEW.`name` = NEW.`full_name`",
        "expand/sync-trigger-update: CREATE TRIGGER `zd_sync_users_name_upd` BEFORE UPDATE ON `users` FOR EACH ROW SET NEW.`full_name` = IF(NEW.`full_name` <=> OLD.`full_name`, NEW.`name`, NEW.`full_name`), NEW.`name` = NEW.`full_name`",
        "expand/copy-index-users_name_idx: ALTER TABLE `users` ADD INDEX `zd_copy_users_name_idx` (`full_name`), ALGORITHM=INPLACE, LOCK=NONE",
        "migrate/backfill: SET `full_name` = `name` WHERE NOT (`full_name` <=> `name`)",
        "contract/check-synced: SELECT COUNT(*) FROM `users` WHERE NOT (`full_name` <=> `name`)",
        "contract/check-nulls: SELECT COUNT(*) FROM `users` WHERE `full_name` IS NULL",
        "contract/set-not-null: ALTER TABLE `users` MODIFY COLUMN `full_name` text NOT NULL, ALGORITHM=INPLACE, LOCK=NONE",
        "contract/drop-sync-trigger-insert: DROP TRIGGER IF EXISTS `zd_sync_users_name_ins`",
        "contract/drop-sync-trigger-update: DROP TRIGGER IF EXISTS `zd_sync_users_name_upd`",
        "contract/drop-old-indexes: ALTER TABLE `users` DROP INDEX `users_name_idx`, ALGORITHM=INPLACE, LOCK=NONE",
        "contract/drop-old-column: ALTER TABLE `users` DROP COLUMN `name`, ALGORITHM=INSTANT",
        "contract/rename-index-users_name_idx: ALTER TABLE `users` RENAME INDEX `zd_copy_users_name_idx` TO `users_name_idx`, ALGORITHM=INSTANT",
    ];
    assert_eq!(statements(&a), expected);
    // A NOT NULL column with a default keeps working for new code's
    // inserts; the copy takes the default with NOT NULL in contract.
    let a = run(EngineKind::Mysql, &rename("status", "state")).unwrap();
    assert!(statements(&a).contains(
        &"contract/set-not-null: ALTER TABLE `users` MODIFY COLUMN `state` varchar(10) NOT NULL DEFAULT 'active', ALGORITHM=INPLACE, LOCK=NONE".to_string()
    ));
}

#[test]
fn pg_type_change_sql() {
    let a = run(
        EngineKind::Postgres,
        &alter_type("name", "varchar(100)", None),
    )
    .unwrap();
    let function = "CREATE OR REPLACE FUNCTION \"zd_sync_users_name\"() RETURNS trigger LANGUAGE plpgsql AS $zd$\nBEGIN\n  NEW.\"zd_new_name\" := CAST(NEW.\"name\" AS varchar(100));\n  RETURN NEW;\nEND\n$zd$";
    let expected = vec![
        r#"expand/add-twin-column: ALTER TABLE "users" ADD COLUMN "zd_new_name" varchar(100)"#.to_string(),
        format!("expand/sync-trigger: {function}"),
        r#"expand/sync-trigger: CREATE TRIGGER "zd_sync_users_name" BEFORE INSERT OR UPDATE ON "users" FOR EACH ROW EXECUTE FUNCTION "zd_sync_users_name"()"#.to_string(),
        r#"expand/copy-index-users_name_idx: CREATE INDEX CONCURRENTLY "zd_copy_users_name_idx" ON "users" ("zd_new_name")"#.to_string(),
        r#"migrate/backfill: SET "zd_new_name" = CAST("name" AS varchar(100)) WHERE "zd_new_name" IS DISTINCT FROM CAST("name" AS varchar(100))"#.to_string(),
        r#"contract/check-synced: SELECT COUNT(*) FROM "users" WHERE "zd_new_name" IS DISTINCT FROM CAST("name" AS varchar(100))"#.to_string(),
        r#"contract/check-nulls: SELECT COUNT(*) FROM "users" WHERE "zd_new_name" IS NULL"#.to_string(),
        r#"contract/add-not-null-check: ALTER TABLE "users" ADD CONSTRAINT "zd_nn_users_zd_new_name" CHECK ("zd_new_name" IS NOT NULL) NOT VALID"#.to_string(),
        r#"contract/validate-not-null-check: ALTER TABLE "users" VALIDATE CONSTRAINT "zd_nn_users_zd_new_name""#.to_string(),
        r#"contract/set-not-null: ALTER TABLE "users" ALTER COLUMN "zd_new_name" SET NOT NULL"#.to_string(),
        r#"contract/set-not-null: ALTER TABLE "users" DROP CONSTRAINT "zd_nn_users_zd_new_name""#.to_string(),
        r#"contract/swap-columns: DROP TRIGGER IF EXISTS "zd_sync_users_name" ON "users""#.to_string(),
        r#"contract/swap-columns: DROP FUNCTION IF EXISTS "zd_sync_users_name"()"#.to_string(),
        r#"contract/swap-columns: ALTER TABLE "users" DROP COLUMN "name""#.to_string(),
        r#"contract/swap-columns: ALTER TABLE "users" RENAME COLUMN "zd_new_name" TO "name""#.to_string(),
        r#"contract/rename-index-users_name_idx: ALTER INDEX "zd_copy_users_name_idx" RENAME TO "users_name_idx""#.to_string(),
    ];
    assert_eq!(statements(&a), expected);

    // USING is rewritten onto NEW in the trigger; the default follows
    // the column, as written, in the swap.
    let a = run(
        EngineKind::Postgres,
        &alter_type("status", "integer", Some("length(status)")),
    )
    .unwrap();
    let sql = statements(&a);
    assert!(
        sql[1].contains(r#"NEW."zd_new_status" := length(NEW."status");"#),
        "{}",
        sql[1]
    );
    assert!(sql.contains(&r#"contract/swap-columns: ALTER TABLE "users" ALTER COLUMN "zd_new_status" SET DEFAULT 'active'"#.to_string()));
}

#[test]
fn mysql_type_change_sql() {
    let a = run(EngineKind::Mysql, &alter_type("nick", "VARCHAR(100)", None)).unwrap();
    let expected = vec![
        "expand/add-twin-column: ALTER TABLE `users` ADD COLUMN `zd_new_nick` VARCHAR(100) NULL, ALGORITHM=INSTANT",
        "expand/sync-trigger-insert: CREATE TRIGGER `zd_sync_users_nick_ins` BEFORE INSERT ON `users` FOR EACH ROW SET NEW.`zd_new_nick` = NEW.`nick`",
        "expand/sync-trigger-update: CREATE TRIGGER `zd_sync_users_nick_upd` BEFORE UPDATE ON `users` FOR EACH ROW SET NEW.`zd_new_nick` = NEW.`nick`",
        "expand/copy-index-users_nick_idx: ALTER TABLE `users` ADD INDEX `zd_copy_users_nick_idx` (`zd_new_nick`), ALGORITHM=INPLACE, LOCK=NONE",
        "migrate/backfill: SET `zd_new_nick` = `nick` WHERE `zd_new_nick` IS NULL AND `nick` IS NOT NULL",
        "contract/check-synced: SELECT COUNT(*) FROM `users` WHERE (`zd_new_nick` IS NULL) <> (`nick` IS NULL)",
        "contract/swap-columns: LOCK TABLES `users` WRITE",
        "contract/swap-columns: DROP TRIGGER IF EXISTS `zd_sync_users_nick_ins`",
        "contract/swap-columns: DROP TRIGGER IF EXISTS `zd_sync_users_nick_upd`",
        "contract/swap-columns: ALTER TABLE `users` DROP INDEX `users_nick_idx`, ALGORITHM=INPLACE",
        "contract/swap-columns: ALTER TABLE `users` DROP COLUMN `nick`, RENAME COLUMN `zd_new_nick` TO `nick`, ALGORITHM=INSTANT",
        "contract/swap-columns: UNLOCK TABLES",
        "contract/rename-index-users_nick_idx: ALTER TABLE `users` RENAME INDEX `zd_copy_users_nick_idx` TO `users_nick_idx`, ALGORITHM=INSTANT",
    ];
    assert_eq!(statements(&a), expected);
    let swap = a.actions.iter().find(|a| a.key == "swap-columns").unwrap();
    let Step::Sql(step) = &swap.step else {
        panic!("swap is SQL")
    };
    assert!(!step.transactional);
    assert_eq!(
        step.effect,
        Effect::ColumnAbsent {
            table: "users".into(),
            column: "zd_new_nick".into()
        }
    );

    // NOT NULL with a default: the twin takes both before the swap.
    let a = run(
        EngineKind::Mysql,
        &alter_type("status", "VARCHAR(100)", None),
    )
    .unwrap();
    assert!(statements(&a).contains(
        &"contract/set-not-null: ALTER TABLE `users` MODIFY COLUMN `zd_new_status` VARCHAR(100) NOT NULL DEFAULT 'active', ALGORITHM=INPLACE, LOCK=NONE".to_string()
    ));
}

#[test]
fn sqlite_swaps_and_rebuilds_indexes_in_one_transaction() {
    let a = run(
        EngineKind::Sqlite,
        &alter_type("name", "VARCHAR(100)", None),
    )
    .unwrap();
    let swap = a.actions.iter().find(|a| a.key == "swap-columns").unwrap();
    let Step::Sql(step) = &swap.step else {
        panic!("swap is SQL")
    };
    assert!(step.transactional);
    assert_eq!(
        step.statements,
        vec![
            r#"DROP TRIGGER IF EXISTS "zd_sync_users_name_ins""#,
            r#"DROP TRIGGER IF EXISTS "zd_sync_users_name_upd""#,
            r#"DROP INDEX "users_name_idx""#,
            r#"ALTER TABLE "users" DROP COLUMN "name""#,
            r#"ALTER TABLE "users" RENAME COLUMN "zd_new_name" TO "name""#,
            r#"CREATE INDEX "users_name_idx" ON "users" ("name")"#,
        ]
    );
    // NOT NULL without a default cannot be carried over: said so.
    assert!(
        swap.summary
            .ends_with("name stays nullable (SQLite cannot add NOT NULL to a column)"),
        "{}",
        swap.summary
    );
}

#[test]
fn rename_actions_carry_effects_and_objects() {
    let a = run(EngineKind::Postgres, &rename("name", "full_name")).unwrap();
    let by_key = |k: &str| a.actions.iter().find(|a| a.key == k).unwrap();
    let effect = |k: &str| match &by_key(k).step {
        Step::Sql(s) => s.effect.clone(),
        other => panic!("{k}: {other:?}"),
    };
    let users_col = |c: &str| ObjectRef::column("users", c);
    let trigger = ObjectRef::Trigger {
        table: "users".into(),
        name: "zd_sync_users_name".into(),
    };

    assert_eq!(
        effect("add-column"),
        Effect::ColumnExists {
            table: "users".into(),
            column: "full_name".into()
        }
    );
    assert_eq!(by_key("add-column").creates, vec![users_col("full_name")]);
    assert_eq!(
        effect("sync-trigger"),
        Effect::TriggerExists {
            table: "users".into(),
            trigger: "zd_sync_users_name".into()
        }
    );
    assert_eq!(by_key("sync-trigger").creates, vec![trigger.clone()]);
    assert_eq!(
        effect("copy-index-users_name_idx"),
        Effect::IndexValid {
            index: "zd_copy_users_name_idx".into()
        }
    );
    let Step::Sql(copy) = &by_key("copy-index-users_name_idx").step else {
        panic!()
    };
    assert!(
        !copy.transactional,
        "CREATE INDEX CONCURRENTLY cannot run in a transaction"
    );
    assert_eq!(
        effect("validate-not-null-check"),
        Effect::ConstraintValidated {
            table: "users".into(),
            constraint: "zd_nn_users_full_name".into()
        }
    );
    assert_eq!(
        effect("set-not-null"),
        Effect::ColumnNotNull {
            table: "users".into(),
            column: "full_name".into()
        }
    );
    assert_eq!(
        effect("drop-old-column"),
        Effect::ColumnAbsent {
            table: "users".into(),
            column: "name".into()
        }
    );
    assert_eq!(
        by_key("drop-old-column").removes,
        vec![
            users_col("name"),
            trigger,
            ObjectRef::Index {
                name: "users_name_idx".into()
            }
        ]
    );
    assert_eq!(
        effect("rename-index-users_name_idx"),
        Effect::IndexValid {
            index: "users_name_idx".into()
        }
    );

    let Step::Backfill(b) = &by_key("backfill").step else {
        panic!("backfill")
    };
    assert_eq!(
        (b.key.clone(), b.batch_size, b.engine),
        (vec!["id".to_string()], 5000, EngineKind::Postgres)
    );
    let Step::Check(gate) = &by_key("check-synced").step else {
        panic!("gate")
    };
    assert_eq!(
        (gate.kind, by_key("check-synced").phase),
        (CheckKind::Gate, Phase::Contract)
    );
    assert_eq!(
        gate.sample_sql.as_deref(),
        Some(r#"SELECT "id" FROM "users" WHERE "full_name" IS DISTINCT FROM "name" LIMIT 10"#)
    );
    let Step::Check(nulls) = &by_key("check-nulls").step else {
        panic!("check")
    };
    assert_eq!(nulls.kind, CheckKind::Violations);
}

#[test]
fn refusals_say_what_to_do() {
    let r = run(EngineKind::Postgres, &add("other", "text", false, None)).unwrap_err();
    assert!(r.help.contains("backfills:\n    - table: users\n      set: \"other = <value>\"\n      where: \"other IS NULL\""), "{}", r.help);
    assert!(r.help.contains("DEFAULT"));
    let r = run(EngineKind::Postgres, &rename("email", "mail")).unwrap_err();
    assert!(r.reason.contains("orders.orders_email_fk"), "{}", r.reason);
    let r = run(
        EngineKind::Postgres,
        &on("logs", add("n", "float8", true, Some(("random()", true)))),
    )
    .unwrap_err();
    assert!(r.help.contains("primary key"));
}

#[test]
fn single_step_sql() {
    let cases: Vec<(EngineKind, Operation, &str)> = vec![
        (EngineKind::Postgres, add("flag", "boolean", false, Some(("false", false))), r#"ALTER TABLE "users" ADD COLUMN "flag" boolean DEFAULT false NOT NULL"#),
        (EngineKind::Mysql, add("flag", "BOOLEAN", false, Some(("0", false))), "ALTER TABLE `users` ADD COLUMN `flag` BOOLEAN NOT NULL DEFAULT 0, ALGORITHM=INSTANT"),
        (EngineKind::Sqlite, add("note", "TEXT", true, None), r#"ALTER TABLE "users" ADD COLUMN "note" TEXT"#),
        (EngineKind::Postgres, drop_col("bio"), r#"ALTER TABLE "users" DROP COLUMN "bio""#),
        (EngineKind::Mysql, drop_col("status"), "ALTER TABLE `users` DROP COLUMN `status`, ALGORITHM=INSTANT"),
        (EngineKind::Postgres, alter_type("nick", "text", None), r#"ALTER TABLE "users" ALTER COLUMN "nick" TYPE text"#),
        (EngineKind::Mysql, alter_type("nick", "VARCHAR(60)", None), "ALTER TABLE `users` MODIFY COLUMN `nick` VARCHAR(60) NULL, ALGORITHM=INPLACE, LOCK=NONE"),
        (EngineKind::Postgres, drop_nn("name"), r#"ALTER TABLE "users" ALTER COLUMN "name" DROP NOT NULL"#),
        (EngineKind::Mysql, drop_nn("status"), "ALTER TABLE `users` MODIFY COLUMN `status` varchar(10) NULL DEFAULT 'active', ALGORITHM=INPLACE, LOCK=NONE"),
        (EngineKind::Postgres, set_def("nick", "'x'", false), r#"ALTER TABLE "users" ALTER COLUMN "nick" SET DEFAULT 'x'"#),
        (EngineKind::Mysql, set_def("nick", "UUID()", true), "ALTER TABLE `users` ALTER COLUMN `nick` SET DEFAULT (UUID()), ALGORITHM=INSTANT"),
        (EngineKind::Postgres, drop_def("status"), r#"ALTER TABLE "users" ALTER COLUMN "status" DROP DEFAULT"#),
        (EngineKind::Mysql, drop_def("status"), "ALTER TABLE `users` ALTER COLUMN `status` DROP DEFAULT, ALGORITHM=INSTANT"),
    ];
    for (engine, op, expected) in cases {
        let a = run(engine, &op).unwrap();
        assert_eq!(a.actions.len(), 1, "{engine} {}", op.subject());
        let Step::Sql(step) = &a.actions[0].step else {
            panic!("SQL step")
        };
        assert_eq!(
            step.statements,
            vec![expected.to_string()],
            "{engine} {}",
            op.subject()
        );
        assert_eq!(step.transactional, engine != EngineKind::Mysql);
    }
    // MySQL drops what uses the column first, in place, so that the
    // column itself goes instantly.
    let a = run(EngineKind::Mysql, &on("orders", drop_col("user_id"))).unwrap();
    assert_eq!(
        statements(&a),
        vec![
            "expand/allow-null-until-dropped: ALTER TABLE `orders` MODIFY COLUMN `user_id` bigint NULL, ALGORITHM=INPLACE, LOCK=NONE",
            "contract/drop-dependents: ALTER TABLE `orders` DROP FOREIGN KEY `orders_user_fk`, DROP INDEX `orders_user_idx`, ALGORITHM=INPLACE, LOCK=NONE",
            "contract/drop-column: ALTER TABLE `orders` DROP COLUMN `user_id`, ALGORITHM=INSTANT",
        ]
    );
}

/// A NOT NULL column without a default that a version drops stays
/// writable by releases that no longer write it: NULL allowed in
/// expand, or the change's `fill:` as its default.
#[test]
fn a_dropped_not_null_column_is_relaxed_or_filled_in_expand() {
    let drop = on("orders", drop_col("user_id"));
    let expand = |engine, fill: Option<&str>| {
        let ctx = Context {
            version: 2,
            soft_drop: false,
            backfill_exprs: &[],
            batch_size: 5000,
            fill: fill.map(str::to_string),
        };
        let a = analyze(engine, &drop, &schema(engine), &ctx).unwrap();
        a.actions
            .iter()
            .filter(|a| a.phase == Phase::Expand)
            .map(|a| match &a.step {
                Step::Sql(s) => format!("{}: {}", a.key, s.statements.join("; ")),
                Step::Rebuild(r) => format!("{}: rebuild {:?}", a.key, r.edits),
                other => format!("{}: {other:?}", a.key),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        expand(EngineKind::Postgres, None),
        ["allow-null-until-dropped: ALTER TABLE \"orders\" ALTER COLUMN \"user_id\" DROP NOT NULL"]
    );
    assert_eq!(
        expand(EngineKind::Postgres, Some("0")),
        ["fill-until-dropped: ALTER TABLE \"orders\" ALTER COLUMN \"user_id\" SET DEFAULT 0"]
    );
    assert_eq!(
        expand(EngineKind::Mysql, Some("0")),
        ["fill-until-dropped: ALTER TABLE `orders` ALTER COLUMN `user_id` SET DEFAULT 0, ALGORITHM=INSTANT"]
    );
    let sqlite = expand(EngineKind::Sqlite, None);
    assert!(
        sqlite.len() == 1 && sqlite[0].starts_with("allow-null-until-dropped: rebuild"),
        "{sqlite:?}"
    );
    // Nullable, or with a default: nothing to do before contract.
    let a = run(EngineKind::Postgres, &drop_col("bio")).unwrap();
    assert!(a.actions.iter().all(|a| a.phase == Phase::Contract));
}
