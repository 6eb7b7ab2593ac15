//! SET DEFAULT and DROP DEFAULT.

use super::*;

pub(in crate::ops) fn set_default(
    env: &Env<'_>,
    column: &str,
    default: &DefaultExpr,
) -> Result<Analysis, Refusal> {
    let t = env.name();
    env.column(column)?;
    let (variant, lock) = match env.engine {
        EngineKind::Mysql => ("instant", mysql::LOCK_INSTANT),
        EngineKind::Postgres => ("catalog-only", postgres::LOCK_CATALOG_ONLY),
        EngineKind::Sqlite => ("rebuild", sqlite::LOCK_TABLE_REBUILD),
    };
    let classification = env.classify(
        ChangeClass::Additive,
        variant,
        lock,
        "a default applies to new rows only (a volatile one too): no row is touched, and old code's inserts keep working".to_string(),
    );
    // The column may have had another default: only running the statement
    // (again) makes sure it has this one.
    let step = if env.engine == EngineKind::Sqlite {
        crate::ops::sqlite_rebuild(
            t,
            vec![RebuildEdit::SetDefault {
                column: column.to_string(),
                default: default.sql.clone(),
            }],
        )
    } else {
        let (sql, lock) = set_default_sql(env, column, &default.sql);
        env.sql(vec![sql], lock, Effect::Rerunnable)
    };
    let change = action(
        "set-default",
        Phase::Expand,
        Symbol::Change,
        format!("set default {} on {t}.{column}", default.sql),
        step,
    )
    .needs(env.column_ref(column));
    Ok(Analysis {
        classification,
        actions: vec![change],
    })
}

pub(in crate::ops) fn drop_default(env: &Env<'_>, column: &str) -> Result<Analysis, Refusal> {
    let t = env.name();
    env.column(column)?;
    let clause = format!("ALTER COLUMN {} DROP DEFAULT", env.q(column));
    let no_default = Effect::ColumnHasNoDefault {
        table: t.to_string(),
        column: column.to_string(),
    };
    let (variant, step, lock) = match env.engine {
        EngineKind::Postgres => (
            "catalog-only",
            env.sql(
                vec![env.alter(&clause)],
                postgres::LOCK_CATALOG_ONLY,
                no_default,
            ),
            postgres::LOCK_CATALOG_ONLY,
        ),
        EngineKind::Mysql => (
            "instant",
            env.sql(
                vec![mysql::alter_table(t, &[clause], mysql::Online::Instant)],
                mysql::LOCK_INSTANT,
                no_default,
            ),
            mysql::LOCK_INSTANT,
        ),
        EngineKind::Sqlite => (
            "rebuild",
            crate::ops::sqlite_rebuild(
                t,
                vec![RebuildEdit::DropDefault {
                    column: column.to_string(),
                }],
            ),
            sqlite::LOCK_TABLE_REBUILD,
        ),
    };
    let classification = env.classify(
        ChangeClass::Subtractive,
        variant,
        lock,
        "old code may rely on the default when it inserts rows without the column: it is dropped in contract".to_string(),
    );
    let change = action(
        "drop-default",
        Phase::Contract,
        Symbol::Remove,
        format!("drop the default of {t}.{column}"),
        step,
    )
    .needs(env.column_ref(column));
    Ok(Analysis {
        classification,
        actions: vec![change],
    })
}
