//! SET NOT NULL and DROP NOT NULL.

use super::*;

pub(in crate::ops) fn set_not_null(env: &Env<'_>, column: &str) -> Result<Analysis, Refusal> {
    let col = env.column(column)?;
    let (variant, lock, reason) = match env.engine {
        EngineKind::Postgres => (
            "validated-check",
            postgres::LOCK_TABLE_SCAN,
            "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE; instead a NOT VALID check is added and validated (reads and writes continue), after which SET NOT NULL needs no scan",
        ),
        EngineKind::Mysql => (
            "inplace",
            mysql::LOCK_INPLACE_REBUILD,
            "old code may still write NULL: NOT NULL is enforced in contract, after a violations check, with an in-place rebuild",
        ),
        EngineKind::Sqlite => (
            "rebuild",
            sqlite::LOCK_TABLE_REBUILD,
            "SQLite cannot add NOT NULL to a column in place: after a violations check, the table is rebuilt with it (one transaction, every row copied)",
        ),
    };
    let classification = env.classify(
        ChangeClass::Transforming,
        variant,
        lock,
        format!("{reason}. It restricts what old code may write, so it runs in contract"),
    );
    let definition = crate::ops::mysql_column_definition(col, column, &col.data_type, false);
    Ok(Analysis {
        classification,
        actions: not_null_actions(env, column, Phase::Contract, definition)?,
    })
}

pub(in crate::ops) fn drop_not_null(env: &Env<'_>, column: &str) -> Result<Analysis, Refusal> {
    let t = env.name();
    let col = env.column(column)?;
    if dependents(env, column).primary_key {
        return Err(env.refuse(
            "primary-key",
            format!("{t}.{column} is (part of) the primary key, which cannot hold NULL"),
            "replace the primary key first".to_string(),
        ));
    }
    let (variant, step, lock) = allow_null_step(env, col);
    let classification = env.classify(
        ChangeClass::Additive,
        variant,
        lock,
        "allowing NULL accepts everything old code writes; only new code may write NULL"
            .to_string(),
    );
    let change = action(
        "drop-not-null",
        Phase::Expand,
        Symbol::Change,
        format!("allow NULL in {t}.{column}"),
        step,
    )
    .needs(env.column_ref(column));
    Ok(Analysis {
        classification,
        actions: vec![change],
    })
}
