//! The raw-SQL escape hatch: SQL the classifier does not interpret, run as
//! written in the phase the user chose.

use crate::dialect::EngineKind;
use crate::ops::{Action, Effect, SqlStep, Step, Symbol};
use crate::ops::{Analysis, ChangeClass, Classification, Refusal};
use crate::plan::Phase;

pub(super) fn raw(
    engine: EngineKind,
    id: &str,
    sql: &str,
    phase: &Phase,
) -> Result<Analysis, Refusal> {
    let (class, symbol) = match phase {
        Phase::Expand => (ChangeClass::Additive, Symbol::Add),
        Phase::Migrate => (ChangeClass::Transforming, Symbol::Change),
        Phase::Contract => (ChangeClass::Subtractive, Symbol::Remove),
    };
    // MySQL commits DDL implicitly, and a concurrent index build or drop on
    // PostgreSQL cannot run inside a transaction block.
    let transactional =
        engine != EngineKind::Mysql && !sql.to_ascii_uppercase().contains("CONCURRENTLY");
    let lock = "unknown: raw SQL is not interpreted";
    let action = Action {
        key: "raw".to_string(),
        phase: *phase,
        symbol,
        summary: format!("run raw SQL {id} as written"),
        step: Step::Sql(SqlStep {
            statements: vec![sql.to_string()],
            transactional,
            lock: lock.to_string(),
            effect: Effect::RecordedOnly,
        }),
        creates: Vec::new(),
        needs: Vec::new(),
        removes: Vec::new(),
    };
    Ok(Analysis {
        classification: Classification {
            class,
            rule: format!("raw/{phase}"),
            lock: lock.to_string(),
            reason: format!(
                "raw SQL runs as written in the {phase} phase the user chose; zerodown does not interpret it, so \
                 whether it is safe there is the author's call{}",
                if transactional { ", and it runs in one transaction" } else { ", outside a transaction" }
            ),
            rewrite: None,
        },
        actions: vec![action],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{analyze, Context, Operation};
    use crate::schema::Schema;

    fn ctx() -> Context<'static> {
        Context {
            version: 2,
            soft_drop: false,
            backfill_exprs: &[],
            batch_size: 5000,
            fill: None,
        }
    }

    fn raw(sql: &str, phase: Phase) -> Operation {
        Operation::Raw {
            id: "fix".to_string(),
            sql: sql.to_string(),
            phase,
        }
    }

    #[test]
    fn class_rule_and_transaction_per_engine_and_phase() {
        use EngineKind::*;
        use Phase::*;
        // (engine, sql, phase, class, rule, symbol, transactional)
        let rows = [
            (
                Postgres,
                "UPDATE t SET a = 1",
                Expand,
                ChangeClass::Additive,
                "raw/expand",
                Symbol::Add,
                true,
            ),
            (
                Postgres,
                "UPDATE t SET a = 1",
                Migrate,
                ChangeClass::Transforming,
                "raw/migrate",
                Symbol::Change,
                true,
            ),
            (
                Postgres,
                "DROP INDEX CONCURRENTLY i",
                Contract,
                ChangeClass::Subtractive,
                "raw/contract",
                Symbol::Remove,
                false,
            ),
            (
                Postgres,
                "create index concurrently i on t (a)",
                Expand,
                ChangeClass::Additive,
                "raw/expand",
                Symbol::Add,
                false,
            ),
            (
                Sqlite,
                "UPDATE t SET a = 1",
                Migrate,
                ChangeClass::Transforming,
                "raw/migrate",
                Symbol::Change,
                true,
            ),
            (
                Sqlite,
                "DROP VIEW v",
                Contract,
                ChangeClass::Subtractive,
                "raw/contract",
                Symbol::Remove,
                true,
            ),
            (
                Mysql,
                "OPTIMIZE TABLE t",
                Contract,
                ChangeClass::Subtractive,
                "raw/contract",
                Symbol::Remove,
                false,
            ),
            (
                Mysql,
                "UPDATE t SET a = 1",
                Migrate,
                ChangeClass::Transforming,
                "raw/migrate",
                Symbol::Change,
                false,
            ),
        ];
        for (engine, sql, phase, class, rule, symbol, transactional) in rows {
            let a = analyze(engine, &raw(sql, phase), &Schema::default(), &ctx()).unwrap();
            assert_eq!(a.classification.class, class, "{engine} {sql}");
            assert_eq!(a.classification.rule, rule);
            assert_eq!(a.classification.lock, "unknown: raw SQL is not interpreted");
            assert!(
                a.classification
                    .reason
                    .contains(&format!("in the {phase} phase")),
                "{}",
                a.classification.reason
            );
            assert_eq!(a.actions.len(), 1);
            let action = &a.actions[0];
            assert_eq!(
                (action.key.as_str(), action.phase, action.symbol),
                ("raw", phase, symbol)
            );
            let Step::Sql(step) = &action.step else {
                panic!("raw runs SQL")
            };
            assert_eq!(step.statements, vec![sql.to_string()]);
            assert_eq!(step.transactional, transactional, "{engine} {sql}");
            assert_eq!(step.effect, Effect::RecordedOnly);
        }
    }
}
