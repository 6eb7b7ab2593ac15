//! ADD COLUMN: in place when old code can insert without it (nullable, or a
//! constant default), else nullable with a fill trigger, a backfill and NOT
//! NULL enforced once the data is there.

use super::*;

pub(in crate::ops) fn add_column(env: &Env<'_>, spec: &ColumnSpec) -> Result<Analysis, Refusal> {
    check_column_options(env, spec)?;
    let (t, c) = (env.name(), spec.name.as_str());
    let default_sql = spec.default.as_ref().map(|d| d.sql.as_str());
    let per_row_default = spec.default.as_ref().is_some_and(|d| {
        d.volatile || (env.engine == EngineKind::Sqlite && !sqlite::is_constant_default(&d.sql))
    });

    if !per_row_default && (spec.nullable || default_sql.is_some()) {
        let definition = column_definition(
            env.engine,
            c,
            &spec.data_type,
            &spec.extra,
            spec.nullable,
            default_sql,
        );
        let (sql, lock) = add_column_sql(env, &definition);
        let (variant, reason) = match (default_sql, env.engine) {
            (None, EngineKind::Sqlite) => ("nullable", "SQLite adds a nullable column in place (a schema change only); old code does not see it"),
            (None, _) => ("nullable", "a nullable column is added in the catalog without touching a row; old code does not see it"),
            (Some(_), EngineKind::Postgres) => ("constant-default", "a constant default is stored in the catalog (PostgreSQL 11+): no row is rewritten, and old code's inserts get the default"),
            (Some(_), EngineKind::Mysql) => ("constant-default", "InnoDB adds a column with a constant default instantly; old code's inserts get the default"),
            (Some(_), EngineKind::Sqlite) => ("constant-default", "SQLite adds a column with a constant default in place; old code's inserts get the default"),
        };
        let classification = env.classify(ChangeClass::Additive, variant, lock, reason.to_string());
        let mut summary = format!("add column {t}.{c} {}", spec.data_type);
        if let Some(d) = default_sql {
            summary.push_str(&format!(" DEFAULT {d}"));
        }
        if !spec.nullable {
            summary.push_str(" NOT NULL");
        }
        let add = action(
            "add-column",
            Phase::Expand,
            Symbol::Add,
            summary,
            env.sql(vec![sql], lock, env.effect_column_exists(c)),
        )
        .creates(env.column_ref(c))
        .needs(ObjectRef::table(t));
        return Ok(Analysis {
            classification,
            actions: vec![add],
        });
    }

    let backfill_help = || {
        format!(
            "add a backfill that gives existing rows a value:\n  backfills:\n    - table: {t}\n      set: \"{c} = <value>\"\n      where: \"{c} IS NULL\"\nor give the column a DEFAULT"
        )
    };
    // Expand: the column, nullable and without default, so that adding it
    // touches no row.
    let nullable_definition =
        column_definition(env.engine, c, &spec.data_type, &spec.extra, true, None);
    let (sql, lock) = add_column_sql(env, &nullable_definition);
    let mut actions = vec![action(
        "add-column",
        Phase::Expand,
        Symbol::Add,
        format!(
            "add column {t}.{c} {}, nullable until it is filled",
            spec.data_type
        ),
        env.sql(vec![sql], lock, env.effect_column_exists(c)),
    )
    .creates(env.column_ref(c))
    .needs(ObjectRef::table(t))];

    let classification;
    let mut contract = Vec::new();
    if let Some(DefaultExpr { sql: expr, .. }) = &spec.default {
        classification = env.classify(
            ChangeClass::Transforming,
            "volatile-default",
            match env.engine {
                EngineKind::Mysql => mysql::LOCK_COPY,
                EngineKind::Sqlite => sqlite::LOCK_TABLE_REBUILD,
                EngineKind::Postgres => postgres::LOCK_TABLE_REWRITE,
            },
            format!(
                "the default {expr} is evaluated for every existing row: {}; instead new rows get it from the default and existing rows from a batched backfill",
                match env.engine {
                    EngineKind::Mysql => "InnoDB copies the table",
                    EngineKind::Sqlite => "SQLite's ADD COLUMN refuses such a default, and setting it needs the table rebuilt, which holds the write lock while every row is copied",
                    EngineKind::Postgres => "PostgreSQL rewrites the table under ACCESS EXCLUSIVE",
                }
            ),
        );
        let step = if env.engine == EngineKind::Sqlite {
            crate::ops::sqlite_rebuild(
                t,
                vec![RebuildEdit::SetDefault {
                    column: c.to_string(),
                    default: expr.clone(),
                }],
            )
        } else {
            let (sql, lock) = set_default_sql(env, c, expr);
            env.sql(
                vec![sql],
                lock,
                Effect::ColumnHasDefault {
                    table: t.to_string(),
                    column: c.to_string(),
                },
            )
        };
        let summary = if env.engine == EngineKind::Sqlite {
            format!("rebuild {t} with default {expr} on {c} (new rows)")
        } else {
            format!("set default {expr} on {t}.{c} (new rows)")
        };
        actions.push(
            action("set-default", Phase::Expand, Symbol::Change, summary, step)
                .needs(env.column_ref(c)),
        );
        let col = env.q(c);
        actions.push(
            action(
                "backfill",
                Phase::Migrate,
                Symbol::Change,
                format!("backfill {t}.{c} = {expr} where NULL"),
                env.backfill(format!("{col} = {expr}"), format!("{col} IS NULL"))?,
            )
            .needs(env.column_ref(c)),
        );
    } else {
        let Some(expr) = env.ctx.backfill_expr(t, c) else {
            return Err(env.refuse(
                "not-null-without-default",
                format!(
                    "old code inserts rows without {c}, which a NOT NULL column without default rejects; zerodown fills such rows with the value of the plan's backfill for {t}.{c}, and the plan has none"
                ),
                backfill_help(),
            ));
        };
        classification = env.classify(
            ChangeClass::Transforming,
            "not-null-without-default",
            match env.engine {
                EngineKind::Mysql => mysql::LOCK_INSTANT,
                EngineKind::Sqlite => sqlite::LOCK_TABLE_REBUILD,
                EngineKind::Postgres => postgres::LOCK_CATALOG_ONLY,
            },
            format!(
                "old code inserts rows without {c}, which a NOT NULL column without default rejects{}; instead the column is added nullable, a trigger fills it from the backfill's expression for rows old code writes, and NOT NULL is enforced after the backfill{}",
                match env.engine {
                    EngineKind::Mysql => " (and existing rows would get the type's implicit default, not the backfill's value)",
                    EngineKind::Sqlite => " (and SQLite's ADD COLUMN refuses it)",
                    EngineKind::Postgres => " (and PostgreSQL refuses to add it to a table that has rows)",
                },
                if env.engine == EngineKind::Sqlite {
                    " — in contract, once no old release inserts rows without it (SQLite checks NOT NULL before its fill trigger runs), by rebuilding the table"
                } else {
                    ""
                }
            ),
        );
        let triggers = sync::fill_triggers(env.engine, env.table, c, expr)
            .map_err(|e| env.refuse("fill-expression", e, backfill_help()))?;
        for trigger in &triggers {
            actions.push(create_trigger_action(
                env,
                "fill-trigger",
                trigger,
                format!("fill {t}.{c} from {expr} when a write leaves it NULL"),
                c,
            ));
            contract.push(drop_trigger_action(env, "drop-fill-trigger", trigger));
        }
    }
    if !spec.nullable {
        let definition =
            mysql::column_definition(c, &spec.data_type, &spec.extra, false, default_sql);
        // SQLite checks NOT NULL before an AFTER trigger could fill the
        // column: enforced once no old release inserts without it.
        let phase = if env.engine == EngineKind::Sqlite {
            Phase::Contract
        } else {
            Phase::Migrate
        };
        actions.extend(not_null_actions(env, c, phase, definition)?);
    }
    actions.extend(contract);
    Ok(Analysis {
        classification,
        actions,
    })
}
