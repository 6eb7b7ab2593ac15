//! RENAME COLUMN: a new column kept in step by sync triggers, the indexes
//! copied, the old name dropped at contract.

use super::*;

pub(in crate::ops) fn rename_column(
    env: &Env<'_>,
    from: &str,
    to: &str,
) -> Result<Analysis, Refusal> {
    let t = env.name();
    let col = env.column(from)?;
    let deps = dependents(env, from);
    refuse_pinned(env, from, &deps, "renaming it")?;
    if env.engine == EngineKind::Sqlite {
        sqlite_move_refusals(env, col, &deps)?;
        if !col.nullable && col.default.is_none() {
            return Err(crate::ops::sqlite_rebuild_refusal(
                env.kind,
                "not-null-without-default",
                &format!("make {t}.{from} nullable so that new code can insert rows without it"),
                "give the column a default in the schema, or rename it with a raw change once no old release runs",
            ));
        }
    }
    let copies = index_copies(env, from, to)?;
    let (o, n) = (env.q(from), env.q(to));
    let lock = match env.engine {
        EngineKind::Postgres => postgres::LOCK_CATALOG_ONLY,
        EngineKind::Mysql => mysql::LOCK_INSTANT,
        EngineKind::Sqlite => sqlite::LOCK_CATALOG_ONLY,
    };
    let classification = env.classify(
        ChangeClass::Transforming,
        "dual-write",
        lock,
        format!(
            "renaming in place breaks every running release that still uses {from}: {to} is added and kept equal to {from} by triggers in both directions until contract drops {from}"
        ),
    );

    // Expand. SQLite can give a column neither a default nor NOT NULL
    // later, so its copy gets them now (existing rows read the default
    // until the backfill); elsewhere the copy stays nullable without
    // default until contract, so a NULL tells the trigger that the writer
    // did not know the new name.
    let sqlite_default = (env.engine == EngineKind::Sqlite)
        .then_some(col.default.as_deref())
        .flatten();
    let sqlite_not_null = sqlite_default.is_some() && !col.nullable;
    let definition = column_definition(
        env.engine,
        to,
        &col.data_type,
        &[],
        !sqlite_not_null,
        sqlite_default,
    );
    let (sql, add_lock) = add_column_sql(env, &definition);
    let mut actions = vec![action(
        "add-column",
        Phase::Expand,
        Symbol::Add,
        format!("add column {t}.{to} {} (copy of {from})", col.data_type),
        env.sql(vec![sql], add_lock, env.effect_column_exists(to)),
    )
    .creates(env.column_ref(to))
    .needs(env.column_ref(from))];
    if env.engine == EngineKind::Mysql && !col.nullable && col.default.is_none() {
        actions.push(
            action(
                "make-old-nullable",
                Phase::Expand,
                Symbol::Change,
                format!("make {t}.{from} nullable, so that new code can insert rows without it"),
                env.sql(
                    vec![mysql::modify_column_sql(
                        t,
                        &crate::ops::mysql_column_definition(col, from, &col.data_type, true),
                    )],
                    mysql::LOCK_INPLACE_REBUILD,
                    Effect::ColumnNullable {
                        table: t.to_string(),
                        column: from.to_string(),
                    },
                ),
            )
            .needs(env.column_ref(from)),
        );
    }
    let triggers = sync::rename_triggers(env.engine, env.table, from, to, sqlite_default);
    for trigger in &triggers {
        actions.push(create_trigger_action(
            env,
            "sync-trigger",
            trigger,
            format!("keep {t}.{from} and {t}.{to} equal"),
            to,
        ));
    }
    for copy in &copies {
        actions.push(copy_index_action(env, copy, to));
    }

    // Migrate.
    let differs = match env.engine {
        EngineKind::Postgres => format!("{n} IS DISTINCT FROM {o}"),
        EngineKind::Mysql => format!("NOT ({n} <=> {o})"),
        EngineKind::Sqlite => format!("{n} IS NOT {o}"),
    };
    actions.push(
        action(
            "backfill",
            Phase::Migrate,
            Symbol::Change,
            format!("backfill {t}.{to} = {from}"),
            env.backfill(format!("{n} = {o}"), differs.clone())?,
        )
        .needs(env.column_ref(to)),
    );

    // Contract.
    actions.push(action(
        "check-synced",
        Phase::Contract,
        Symbol::Change,
        format!("gate: no row of {t} where {to} differs from {from}"),
        env.check(
            CheckKind::Gate,
            &differs,
            format!("every row's {to} equals {from} before {from} is dropped"),
        ),
    ));
    if !col.nullable && env.engine != EngineKind::Sqlite {
        let definition = crate::ops::mysql_column_definition(col, to, &col.data_type, false);
        actions.extend(not_null_actions(env, to, Phase::Contract, definition)?);
    }
    let default = col.default.as_deref();
    let mut removes = vec![env.column_ref(from)];
    removes.extend(triggers.iter().map(|tr| env.trigger_ref(tr)));
    removes.extend(copies.iter().map(|c| ObjectRef::Index {
        name: c.original.clone(),
    }));
    match env.engine {
        EngineKind::Postgres => {
            // One transaction: no insert from new code meets the old NOT
            // NULL column without the trigger that fills it.
            let mut statements: Vec<String> =
                triggers.iter().flat_map(|tr| tr.drop.clone()).collect();
            if let Some(d) = default {
                statements.push(env.alter(&format!("ALTER COLUMN {n} SET DEFAULT {d}")));
            }
            statements.push(env.alter(&format!("DROP COLUMN {o}")));
            actions.push(
                action(
                    "drop-old-column",
                    Phase::Contract,
                    Symbol::Remove,
                    format!(
                        "drop sync trigger and column {t}.{from}{}",
                        default
                            .map(|d| format!(", {to} takes the default {d}"))
                            .unwrap_or_default()
                    ),
                    env.sql(
                        statements,
                        postgres::LOCK_CATALOG_ONLY,
                        env.effect_column_absent(from),
                    ),
                )
                .removes(removes),
            );
        }
        EngineKind::Mysql => {
            if let (true, Some(d)) = (col.nullable, default) {
                let (sql, lock) = set_default_sql(env, to, d);
                actions.push(action(
                    "set-default",
                    Phase::Contract,
                    Symbol::Change,
                    format!("set default {d} on {t}.{to}"),
                    env.sql(
                        vec![sql],
                        lock,
                        Effect::ColumnHasDefault {
                            table: t.to_string(),
                            column: to.to_string(),
                        },
                    ),
                ));
            }
            for trigger in &triggers {
                actions.push(drop_trigger_action(env, "drop-sync-trigger", trigger));
            }
            let originals: Vec<&str> = copies.iter().map(|c| c.original.as_str()).collect();
            if let Some(first) = originals.first() {
                actions.push(action(
                    "drop-old-indexes",
                    Phase::Contract,
                    Symbol::Remove,
                    format!(
                        "drop the indexes on {t}.{from} ({}), so the column can go instantly",
                        originals.join(", ")
                    ),
                    env.sql(
                        vec![mysql::alter_table(
                            t,
                            &mysql_drop_indexes_clauses(env, &originals),
                            mysql::Online::InplaceNoLock,
                        )],
                        mysql::LOCK_INPLACE,
                        Effect::IndexAbsent {
                            index: first.to_string(),
                        },
                    ),
                ));
            }
            actions.push(
                action(
                    "drop-old-column",
                    Phase::Contract,
                    Symbol::Remove,
                    format!("drop column {t}.{from}"),
                    env.sql(
                        vec![mysql::alter_table(
                            t,
                            &[format!("DROP COLUMN {o}")],
                            mysql::Online::Instant,
                        )],
                        mysql::LOCK_INSTANT,
                        env.effect_column_absent(from),
                    ),
                )
                .removes([env.column_ref(from)]),
            );
        }
        EngineKind::Sqlite => {
            let mut statements: Vec<String> =
                triggers.iter().flat_map(|tr| tr.drop.clone()).collect();
            statements.extend(
                copies
                    .iter()
                    .map(|c| format!("DROP INDEX {}", env.q(&c.original))),
            );
            statements.push(env.alter(&format!("DROP COLUMN {o}")));
            let nullable_note = if !col.nullable && !sqlite_not_null {
                format!("; {to} stays nullable (SQLite cannot add NOT NULL to a column)")
            } else {
                String::new()
            };
            actions.push(
                action(
                    "drop-old-column",
                    Phase::Contract,
                    Symbol::Remove,
                    format!("drop sync triggers, the indexes on {from} and column {t}.{from}{nullable_note}"),
                    env.sql(statements, sqlite::LOCK_TABLE_REWRITE, env.effect_column_absent(from)),
                )
                .removes(removes),
            );
        }
    }
    for copy in &copies {
        actions.push(rename_index_action(env, copy));
    }
    Ok(Analysis {
        classification,
        actions,
    })
}
