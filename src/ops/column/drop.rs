//! DROP COLUMN: kept (writable by the releases that no longer write it)
//! until contract drops it with what uses it.

use super::*;

pub(in crate::ops) fn drop_column(env: &Env<'_>, column: &str) -> Result<Analysis, Refusal> {
    let t = env.name();
    env.column(column)?;
    let deps = dependents(env, column);
    if deps.primary_key {
        return Err(env.refuse(
            "primary-key",
            format!("{t}.{column} is (part of) the primary key"),
            "replace the primary key first, or drop the whole table".to_string(),
        ));
    }
    if !deps.referenced_by.is_empty() {
        return Err(env.refuse(
            "referenced",
            format!(
                "{t}.{column} is referenced by foreign key {}",
                deps.referenced_by.join(", ")
            ),
            "drop the foreign key first, in an earlier change".to_string(),
        ));
    }
    let indexes: Vec<&Index> = env
        .schema
        .indexes
        .on_table(t)
        .filter(|i| index_uses(env.engine, i, column))
        .collect();
    let mut removes = vec![env.column_ref(column)];
    removes.extend(indexes.iter().map(|i| ObjectRef::Index {
        name: i.name.clone(),
    }));
    let col = env.column(column)?;
    let reason = match col.until_dropped(env.ctx.fill.as_deref()) {
        None => format!("old code may still read or write {column}: it is dropped in contract, once no release that uses it runs"),
        Some(UntilDropped::AllowNull) => format!("old code may still read or write {column}: it is dropped in contract, once no release that uses it runs; until then it allows NULL, so new code can insert without it (old code may read NULL there; give the change a `fill:` for a value instead)"),
        Some(UntilDropped::Fill(fill)) => format!("old code may still read or write {column}: it is dropped in contract, once no release that uses it runs; until then it defaults to {fill} (the change's fill:), so new code can insert without it"),
    };
    let mut actions: Vec<Action> = writable_until_dropped(env, col).into_iter().collect();
    let lock = match env.engine {
        EngineKind::Postgres => {
            actions.push(action(
                "drop-column",
                Phase::Contract,
                Symbol::Remove,
                format!("drop column {t}.{column} (with the indexes and constraints that use it)"),
                env.sql(
                    vec![env.alter(&format!("DROP COLUMN {}", env.q(column)))],
                    postgres::LOCK_CATALOG_ONLY,
                    env.effect_column_absent(column),
                ),
            ));
            postgres::LOCK_CATALOG_ONLY
        }
        EngineKind::Mysql => {
            let mut clauses: Vec<String> = deps
                .constraints
                .iter()
                .map(
                    |name| match env.table.constraints.get(name).map(|c| &c.kind) {
                        Some(ConstraintKind::ForeignKey { .. }) => {
                            format!("DROP FOREIGN KEY {}", env.q(name))
                        }
                        _ => format!("DROP CONSTRAINT {}", env.q(name)),
                    },
                )
                .collect();
            let mut index_names: Vec<&str> = indexes.iter().map(|i| i.name.as_str()).collect();
            index_names.extend(
                deps.uniques
                    .iter()
                    .map(String::as_str)
                    .filter(|u| !env.schema.indexes.contains_key(*u)),
            );
            clauses.extend(mysql_drop_indexes_clauses(env, &index_names));
            let effect = match (deps.constraints.first(), index_names.first()) {
                (Some(name), _) => Some(Effect::ConstraintAbsent {
                    table: t.to_string(),
                    constraint: name.clone(),
                }),
                (None, Some(index)) => Some(Effect::IndexAbsent {
                    index: index.to_string(),
                }),
                (None, None) => None,
            };
            if let Some(effect) = effect {
                actions.push(action(
                    "drop-dependents",
                    Phase::Contract,
                    Symbol::Remove,
                    format!(
                        "drop what uses {t}.{column} ({}), so the column can go instantly",
                        clauses.join(", ")
                    ),
                    env.sql(
                        vec![mysql::alter_table(
                            t,
                            &clauses,
                            mysql::Online::InplaceNoLock,
                        )],
                        mysql::LOCK_INPLACE,
                        effect,
                    ),
                ));
            }
            actions.push(action(
                "drop-column",
                Phase::Contract,
                Symbol::Remove,
                format!("drop column {t}.{column}"),
                env.sql(
                    vec![mysql::alter_table(
                        t,
                        &[format!("DROP COLUMN {}", env.q(column))],
                        mysql::Online::Instant,
                    )],
                    mysql::LOCK_INSTANT,
                    env.effect_column_absent(column),
                ),
            ));
            mysql::LOCK_INSTANT
        }
        EngineKind::Sqlite => {
            if !deps.constraints.is_empty() || !deps.uniques.is_empty() {
                // DROP COLUMN refuses a column a constraint uses: the table
                // is rebuilt without both.
                let mut used_by = deps.constraints.clone();
                used_by.extend(deps.uniques.iter().cloned());
                actions.push(action(
                    "drop-column",
                    Phase::Contract,
                    Symbol::Remove,
                    format!(
                        "rebuild {t} without column {column} and constraint {} (and the indexes that use it)",
                        used_by.join(", ")
                    ),
                    crate::ops::sqlite_rebuild(
                        t,
                        vec![RebuildEdit::DropColumn {
                            column: column.to_string(),
                        }],
                    ),
                ));
                if let Some(last) = actions.last_mut() {
                    last.removes = removes;
                }
                return Ok(Analysis {
                    classification: env.classify(
                        ChangeClass::Subtractive,
                        "rebuild",
                        sqlite::LOCK_TABLE_REBUILD,
                        format!(
                            "{reason}; SQLite's DROP COLUMN refuses a column that constraint {} uses, so the table is rebuilt without both (one transaction, every row copied)",
                            used_by.join(", ")
                        ),
                    ),
                    actions,
                });
            }
            let mut statements: Vec<String> = indexes
                .iter()
                .map(|i| format!("DROP INDEX {}", env.q(&i.name)))
                .collect();
            statements.push(env.alter(&format!("DROP COLUMN {}", env.q(column))));
            actions.push(action(
                "drop-column",
                Phase::Contract,
                Symbol::Remove,
                format!("drop column {t}.{column} (and the indexes that use it)"),
                env.sql(
                    statements,
                    sqlite::LOCK_TABLE_REWRITE,
                    env.effect_column_absent(column),
                ),
            ));
            sqlite::LOCK_TABLE_REWRITE
        }
    };
    if let Some(last) = actions.last_mut() {
        last.removes = removes;
    }
    let variant = match env.engine {
        EngineKind::Postgres => "catalog-only",
        EngineKind::Mysql => "instant",
        EngineKind::Sqlite => "rewrite",
    };
    Ok(Analysis {
        classification: env.classify(ChangeClass::Subtractive, variant, lock, reason),
        actions,
    })
}

/// The expand step that keeps a dropped column writable by releases that
/// no longer write it, until contract drops it (`Column::until_dropped`).
fn writable_until_dropped(env: &Env<'_>, col: &Column) -> Option<Action> {
    let (t, column) = (env.name(), col.name.as_str());
    let (key, summary, step) = match col.until_dropped(env.ctx.fill.as_deref())? {
        UntilDropped::Fill(fill) => {
            let step = if env.engine == EngineKind::Sqlite {
                crate::ops::sqlite_rebuild(
                    t,
                    vec![RebuildEdit::SetDefault {
                        column: column.to_string(),
                        default: fill.clone(),
                    }],
                )
            } else {
                let (sql, lock) = set_default_sql(env, column, &fill);
                env.sql(vec![sql], lock, Effect::Rerunnable)
            };
            let summary = format!(
                "set default {fill} on {t}.{column} (the change's fill:), so releases that no longer write it can insert until contract drops it"
            );
            ("fill-until-dropped", summary, step)
        }
        UntilDropped::AllowNull => {
            let (_, step, lock) = allow_null_step(env, col);
            let summary = format!(
                "allow NULL in {t}.{column} ({lock}), so releases that no longer write it can insert until contract drops it"
            );
            ("allow-null-until-dropped", summary, step)
        }
    };
    Some(action(key, Phase::Expand, Symbol::Change, summary, step).needs(env.column_ref(column)))
}
