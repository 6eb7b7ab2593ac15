//! ALTER COLUMN … TYPE: catalog only where the engine allows, else a twin
//! column kept in step by a sync trigger, backfilled, swapped in at contract.

use super::*;

pub(in crate::ops) fn alter_column_type(
    env: &Env<'_>,
    column: &str,
    new_type: &str,
    using: Option<&str>,
    written_as: &str,
) -> Result<Analysis, Refusal> {
    let t = env.name();
    let col = env.column(column)?;
    if using.is_some() && env.engine != EngineKind::Postgres {
        return Err(env.refuse(
            "using",
            format!(
                "USING is PostgreSQL syntax; {} does not accept it",
                env.engine
            ),
            "write the conversion as a backfill of a new column instead".to_string(),
        ));
    }
    if env.engine == EngineKind::Postgres {
        if let Some(view) = env.schema.views_using(t, Some(column)).into_iter().next() {
            return Err(env.refuse(
                "view-reads-column",
                format!("view {view} reads {t}.{column}: PostgreSQL refuses to change the type of a column a view reads, even in the catalog only"),
                format!("drop view {view} as its own change before this one, and create it again in a later version"),
            ));
        }
    }
    let c = env.q(column);
    let type_effect = Effect::ColumnType {
        table: t.to_string(),
        column: column.to_string(),
        data_type: new_type.to_string(),
    };
    let summary = format!("change {t}.{column} from {} to {new_type}", col.data_type);
    match env.engine {
        EngineKind::Postgres
            if using.is_none() && postgres::is_binary_compatible(&col.data_type, new_type) =>
        {
            let classification = env.classify(
                ChangeClass::Additive,
                "binary-compatible",
                postgres::LOCK_CATALOG_ONLY,
                format!(
                    "{} to {new_type} is binary compatible: PostgreSQL changes the catalog only, without rewriting the table or rebuilding its indexes, and old code reads and writes the column as before",
                    col.data_type
                ),
            );
            let step = env.sql(
                vec![env.alter(&format!("ALTER COLUMN {c} TYPE {new_type}"))],
                postgres::LOCK_CATALOG_ONLY,
                type_effect,
            );
            let change = action("alter-type", Phase::Expand, Symbol::Change, summary, step)
                .needs(env.column_ref(column));
            return Ok(Analysis {
                classification,
                actions: vec![change],
            });
        }
        EngineKind::Mysql if mysql::varchar_extension_in_place(&col.data_type, new_type) => {
            let classification = env.classify(
                ChangeClass::Additive,
                "inplace",
                mysql::LOCK_INPLACE,
                format!(
                    "{} to {new_type} keeps the length prefix's size: InnoDB changes it in place without copying the table, and old code reads and writes the column as before",
                    col.data_type
                ),
            );
            let definition =
                crate::ops::mysql_column_definition(col, column, new_type, col.nullable);
            let step = env.sql(
                vec![mysql::modify_column_sql(t, &definition)],
                mysql::LOCK_INPLACE,
                type_effect,
            );
            let change = action("alter-type", Phase::Expand, Symbol::Change, summary, step)
                .needs(env.column_ref(column));
            return Ok(Analysis {
                classification,
                actions: vec![change],
            });
        }
        _ => {}
    }

    let deps = dependents(env, column);
    refuse_pinned(env, column, &deps, "changing its type")?;
    if env.engine == EngineKind::Sqlite {
        sqlite_move_refusals(env, col, &deps)?;
    }
    let twin = twin_column(column);
    let w = env.q(&twin);
    let (lock, as_written) = match env.engine {
        EngineKind::Postgres => (
            postgres::LOCK_TABLE_REWRITE,
            "PostgreSQL rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE"
                .to_string(),
        ),
        EngineKind::Mysql => (
            mysql::LOCK_COPY,
            "InnoDB copies the table while writes wait".to_string(),
        ),
        EngineKind::Sqlite => (
            sqlite::LOCK_TABLE_REWRITE,
            "SQLite has no ALTER COLUMN TYPE: it needs the table rebuilt".to_string(),
        ),
    };
    let classification = env.classify(
        ChangeClass::Transforming,
        "twin-column",
        lock,
        format!(
            "{written_as} from {} to {new_type}: {as_written}; instead a twin column {twin} of the new type is kept converted by a trigger, backfilled, and swapped in at contract",
            col.data_type
        ),
    );

    // Expand. SQLite gives the twin the column's default and NOT NULL now,
    // as it cannot later; the trigger overwrites the default on every write.
    let sqlite_default = (env.engine == EngineKind::Sqlite)
        .then_some(col.default.as_deref())
        .flatten();
    let sqlite_not_null = sqlite_default.is_some() && !col.nullable;
    let definition = column_definition(
        env.engine,
        &twin,
        new_type,
        &[],
        !sqlite_not_null,
        sqlite_default,
    );
    let (sql, add_lock) = add_column_sql(env, &definition);
    let mut actions = vec![action(
        "add-twin-column",
        Phase::Expand,
        Symbol::Add,
        format!("add column {t}.{twin} {new_type} (twin of {column})"),
        env.sql(vec![sql], add_lock, env.effect_column_exists(&twin)),
    )
    .creates(env.column_ref(&twin))
    .needs(env.column_ref(column))];
    let triggers = sync::twin_triggers(env.engine, env.table, column, &twin, new_type, using)
        .map_err(|e| {
            env.refuse(
                "using-expression",
                e,
                "write the USING expression over the row's own columns".to_string(),
            )
        })?;
    for trigger in &triggers {
        actions.push(create_trigger_action(
            env,
            "sync-trigger",
            trigger,
            format!("keep {t}.{twin} converted from {column}"),
            &twin,
        ));
    }
    // SQLite builds the indexes once, in the swap: until then new code
    // still queries the original column.
    let copies = match env.engine {
        EngineKind::Sqlite => Vec::new(),
        _ => index_copies(env, column, &twin)?,
    };
    for copy in &copies {
        actions.push(copy_index_action(env, copy, &twin));
    }

    // Migrate.
    let (converted, pending, gate) = match env.engine {
        EngineKind::Postgres => {
            let converted = using
                .map(str::to_string)
                .unwrap_or_else(|| format!("CAST({c} AS {new_type})"));
            let differs = format!("{w} IS DISTINCT FROM {converted}");
            (converted, differs.clone(), differs)
        }
        EngineKind::Mysql => (
            c.clone(),
            format!("{w} IS NULL AND {c} IS NOT NULL"),
            format!("({w} IS NULL) <> ({c} IS NULL)"),
        ),
        // SQLite converts on assignment through the twin's affinity, and
        // keeps a value it cannot convert as it was; `CAST` would turn
        // 'abc' into 0 without a word. The comparison applies the same
        // conversion to both sides; the gate also counts the values that
        // stayed text or blob in a numeric column.
        EngineKind::Sqlite => {
            let differs = format!("{w} IS NOT {c}");
            let gate = if sqlite::has_numeric_affinity(new_type) {
                format!("{differs} OR typeof({w}) IN ('text', 'blob')")
            } else {
                differs.clone()
            };
            (c.clone(), differs, gate)
        }
    };
    actions.push(
        action(
            "backfill",
            Phase::Migrate,
            Symbol::Change,
            format!("backfill {t}.{twin} = {converted}"),
            env.backfill(format!("{w} = {converted}"), pending)?,
        )
        .needs(env.column_ref(&twin)),
    );

    // Contract.
    actions.push(action(
        "check-synced",
        Phase::Contract,
        Symbol::Change,
        format!("gate: every row of {t} has {twin} converted from {column}"),
        env.check(
            CheckKind::Gate,
            &gate,
            format!("{twin} carries every value of {column} before the swap"),
        ),
    ));
    if !col.nullable && env.engine != EngineKind::Sqlite {
        let definition = crate::ops::mysql_column_definition(col, &twin, new_type, false);
        actions.extend(not_null_actions(env, &twin, Phase::Contract, definition)?);
    }
    let default = col.default.as_deref();
    let mut removes = vec![env.column_ref(&twin)];
    removes.extend(triggers.iter().map(|tr| env.trigger_ref(tr)));
    let trigger_drops = triggers.iter().flat_map(|tr| tr.drop.clone());
    let swap_summary = format!("swap {t}.{twin} in for {column}: drop the sync trigger and the old column, rename {twin} to {column}");
    let swap = match env.engine {
        EngineKind::Postgres => {
            let mut statements: Vec<String> = trigger_drops.collect();
            // The default as written: PostgreSQL coerces it to the new type
            // as `ALTER … TYPE` does (an assignment cast, shown as no cast).
            if let Some(d) = default {
                statements.push(env.alter(&format!("ALTER COLUMN {w} SET DEFAULT {d}")));
            }
            statements.push(env.alter(&format!("DROP COLUMN {c}")));
            statements.push(env.alter(&format!("RENAME COLUMN {w} TO {c}")));
            env.sql(
                statements,
                postgres::LOCK_CATALOG_ONLY,
                env.effect_column_absent(&twin),
            )
        }
        EngineKind::Mysql => {
            if let (true, Some(d)) = (col.nullable, default) {
                let (sql, lock) = set_default_sql(env, &twin, d);
                actions.push(action(
                    "set-twin-default",
                    Phase::Contract,
                    Symbol::Change,
                    format!("set default {d} on {t}.{twin}"),
                    env.sql(
                        vec![sql],
                        lock,
                        Effect::ColumnHasDefault {
                            table: t.to_string(),
                            column: twin.clone(),
                        },
                    ),
                ));
            }
            // MySQL cannot drop triggers and a column atomically: the
            // table stays write-locked from the trigger drops to the
            // swap, so no write to the old column goes uncopied.
            let mut statements = vec![format!("LOCK TABLES {} WRITE", env.q(t))];
            statements.extend(trigger_drops);
            let originals: Vec<&str> = copies.iter().map(|c| c.original.as_str()).collect();
            if !originals.is_empty() {
                statements.push(mysql::alter_table(
                    t,
                    &mysql_drop_indexes_clauses(env, &originals),
                    mysql::Online::InplaceLocked,
                ));
            }
            statements.push(mysql::alter_table(
                t,
                &[
                    format!("DROP COLUMN {c}"),
                    format!("RENAME COLUMN {w} TO {c}"),
                ],
                mysql::Online::Instant,
            ));
            statements.push("UNLOCK TABLES".to_string());
            Step::Sql(SqlStep {
                statements,
                transactional: false,
                lock: mysql::LOCK_TABLES_WRITE.to_string(),
                effect: env.effect_column_absent(&twin),
            })
        }
        EngineKind::Sqlite => {
            // The column's indexes go with it and come back, built on the
            // new column under their own names, in the same transaction.
            let rebuilt = index_copies(env, column, column)?;
            let mut statements: Vec<String> = trigger_drops.collect();
            statements.extend(
                rebuilt
                    .iter()
                    .map(|i| format!("DROP INDEX {}", env.q(&i.original))),
            );
            statements.push(env.alter(&format!("DROP COLUMN {c}")));
            statements.push(env.alter(&format!("RENAME COLUMN {w} TO {c}")));
            statements.extend(
                rebuilt
                    .iter()
                    .map(|i| sqlite_create_index(env, &i.original, i)),
            );
            env.sql(
                statements,
                sqlite::LOCK_TABLE_REWRITE,
                env.effect_column_absent(&twin),
            )
        }
    };
    let nullable_note = if env.engine == EngineKind::Sqlite && !col.nullable && !sqlite_not_null {
        format!("; {column} stays nullable (SQLite cannot add NOT NULL to a column)")
    } else {
        String::new()
    };
    actions.push(
        action(
            "swap-columns",
            Phase::Contract,
            Symbol::Change,
            format!("{swap_summary}{nullable_note}"),
            swap,
        )
        .removes(removes),
    );
    for copy in &copies {
        actions.push(rename_index_action(env, copy));
    }
    Ok(Analysis {
        classification,
        actions,
    })
}
