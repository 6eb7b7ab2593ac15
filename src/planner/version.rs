//! One pending plan through the planner: its changes lowered, analyzed and
//! applied to the model in order, its backfills turned into actions, and
//! the schema at each of its points recorded for the write check.

use std::collections::{BTreeMap, BTreeSet};

use sqlparser::parser::Parser;

use super::{
    change_diag, drops_column, leaving, parse_backfill, parse_fill, raw_id, FleetSummary, Note,
    ParsedBackfill, PlannedBackfill, PlannedChange, PlannedVersion, VersionParts,
};
use crate::compat::writes::{self, Leaving, PointSchema, Relaxed};
use crate::diagnostic::Diagnostic;
use crate::dialect::EngineKind;
use crate::graph::{Origin, SourcedAction, TaskId};
use crate::ops::{Action, BackfillStep, CheckKind, CheckStep, Context, ObjectRef, Operation};
use crate::ops::{Refusal, Step, Symbol};
use crate::parse::lower;
use crate::plan::{Backfill, Change, ChangeEntry, Phase, Plan, SchemaPoint};
use crate::schema::Schema;

/// The planner's state across the pending plans of a set.
pub(super) struct Planning<'a> {
    pub engine: EngineKind,
    /// The model, as each next change finds it.
    pub schema: Schema,
    /// Every version of the set (a `contract_in:` must name one).
    pub all_versions: BTreeSet<u32>,
    /// Which versions this run applies (`--to`, the plans named).
    pub in_run: &'a dyn Fn(u32) -> bool,
    pub errors: Vec<Diagnostic>,
    pub parts: BTreeMap<u32, VersionParts>,
    pub versions: Vec<PlannedVersion>,
    pub notes: Vec<Note>,
    /// The schema at every point of the run, for the write check.
    pub points: Vec<PointSchema>,
}

/// What one version's changes tell the write check about its points.
#[derive(Default)]
struct VersionWrites {
    relaxed: Vec<Relaxed>,
    leaving: Vec<Leaving>,
    swapped_at_contract: Vec<(String, String)>,
}

/// A change lowered to its operation, with its options.
struct Lowered {
    op: Operation,
    sql: String,
    contract_in: Option<u32>,
    soft_drop: Option<bool>,
    fill: Option<String>,
}

impl Planning<'_> {
    pub fn plan_version(&mut self, plan: &Plan) {
        let v = plan.version;
        let before = self.schema.clone();
        let mut planned = planned_version(plan);
        let mut writes = VersionWrites::default();
        // Backfills first: their expressions feed the decompositions.
        let parsed = self.parse_backfills(plan);
        let backfill_exprs: Vec<(String, String, String)> = plan
            .backfills
            .iter()
            .zip(&parsed)
            .filter_map(|(b, pb)| {
                let (col, expr) = pb.as_ref()?.single.as_ref()?;
                Some((b.table.clone(), col.clone(), expr.clone()))
            })
            .collect();
        let ctx = Context {
            version: v,
            soft_drop: plan.soft_drop,
            backfill_exprs: &backfill_exprs,
            batch_size: crate::plan::DEFAULT_BATCH_SIZE,
            fill: None,
        };
        for change in &plan.changes {
            if let Some(c) = self.plan_change(plan, change, &ctx, &mut writes) {
                planned.changes.push(c);
            }
        }
        // The user's backfills, against the model after the changes.
        for (b, pb) in plan.backfills.iter().zip(parsed) {
            if let Some(b) = pb.and_then(|pb| self.plan_backfill(plan, b, pb)) {
                planned.backfills.push(b);
            }
        }
        self.schema.finish_contract(v);
        self.schema.version = v;
        if (self.in_run)(v) {
            self.record_points(v, &before, writes);
            self.note_no_fleet(plan, &planned);
            self.versions.push(planned);
        }
    }

    fn parse_backfills(&mut self, plan: &Plan) -> Vec<Option<ParsedBackfill>> {
        plan.backfills
            .iter()
            .map(|b| match parse_backfill(b, self.engine) {
                Ok(pb) => Some(pb),
                Err(msg) => {
                    self.errors.push(
                        plan.diag(b.span, format!("backfill #{}: {msg}", b.index))
                            .help("`set` is an assignment list such as `note = ''`, `where` a condition such as `note IS NULL`"),
                    );
                    None
                }
            })
            .collect()
    }

    fn error(
        &mut self,
        plan: &Plan,
        change: &Change,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.errors
            .push(change_diag(plan, change.index, change.span, message, help));
    }

    /// A change's operation, or `None` with its error recorded.
    fn lower_change(&mut self, plan: &Plan, change: &Change) -> Option<Lowered> {
        let engine = self.engine;
        let (sql, contract_in, soft_drop, fill) = match &change.entry {
            ChangeEntry::Raw { id, sql, phase } => {
                let op = Operation::Raw {
                    id: raw_id(id, sql),
                    sql: sql.clone(),
                    phase: *phase,
                };
                let (sql, contract_in, soft_drop, fill) = (sql.clone(), None, None, None);
                return Some(Lowered {
                    op,
                    sql,
                    contract_in,
                    soft_drop,
                    fill,
                });
            }
            ChangeEntry::Sql {
                sql,
                contract_in,
                soft_drop,
                fill,
            } => (sql, *contract_in, *soft_drop, fill),
        };
        if let Err(u) = crate::parse::keywords_dropped_by_the_parser(sql, engine) {
            self.error(plan, change, u.message, u.help);
            return None;
        }
        let stmts = match Parser::parse_sql(&*engine.sql_dialect(), sql) {
            Ok(s) => s,
            Err(e) => {
                self.error(
                    plan,
                    change,
                    format!("cannot parse the statement as {engine} SQL: {e}"),
                    "fix the statement; if it is valid for your server but the parser cannot read it, \
                     use the escape hatch: `- raw: \"...\"` with `phase: expand|migrate|contract`",
                );
                return None;
            }
        };
        let stmt = match stmts.as_slice() {
            [s] => s,
            [] => {
                self.error(
                    plan,
                    change,
                    "the change is empty",
                    "write one SQL statement",
                );
                return None;
            }
            many => {
                self.error(
                    plan,
                    change,
                    format!("the change holds {} statements", many.len()),
                    "write one statement per change, so each is classified and phased on its own",
                );
                return None;
            }
        };
        let fill = match fill
            .as_deref()
            .map(|f| parse_fill(f, drops_column(stmt), engine))
        {
            None => None,
            Some(Ok(fill)) => Some(fill),
            Some(Err((message, help))) => {
                self.error(plan, change, message, help);
                return None;
            }
        };
        match lower(stmt, engine, &self.schema) {
            Ok(op) => Some(Lowered {
                op,
                sql: sql.clone(),
                contract_in,
                soft_drop,
                fill,
            }),
            Err(u) => {
                self.error(plan, change, u.message, u.help);
                None
            }
        }
    }

    /// One change: lowered, analyzed against the model, applied to it, its
    /// actions added to the versions they run in.
    fn plan_change(
        &mut self,
        plan: &Plan,
        change: &Change,
        ctx: &Context<'_>,
        writes: &mut VersionWrites,
    ) -> Option<PlannedChange> {
        let v = plan.version;
        let Lowered {
            op,
            sql,
            contract_in,
            soft_drop,
            fill,
        } = self.lower_change(plan, change)?;
        if let Some(t) = contract_in.filter(|t| !self.all_versions.contains(t)) {
            self.error(
                plan,
                change,
                format!("contract_in: {t}, but there is no plan with version {t}"),
                "add that plan (its contract will run this change's contract actions), or remove `contract_in`",
            );
        }
        let leaves = leaving(&op, &self.schema, fill.as_deref(), v);
        let change_ctx = Context {
            soft_drop: soft_drop.unwrap_or(plan.soft_drop),
            fill,
            ..ctx.clone()
        };
        let analysis =
            crate::ops::analyze(self.engine, &op, &self.schema, &change_ctx).and_then(|a| {
                match unwalkable_backfill(self.engine, &self.schema, &a.actions) {
                    Some(refusal) => Err(refusal),
                    None => Ok(a),
                }
            });
        if let Err(e) = self.schema.apply(&op, contract_in) {
            self.error(plan, change, e.message, e.help);
            return None;
        }
        if let Some((column, relaxation)) = leaves {
            if let Some(r) = relaxation {
                if let Some(col) = self.schema.tables.column_mut(&r.table, &r.column) {
                    col.relax(&r.how); // kept for a later contract: relaxed now
                }
                writes.relaxed.push(r);
            }
            writes.leaving.push(column);
        }
        let analysis = match analysis {
            Ok(a) => a,
            Err(r) => {
                self.error(
                    plan,
                    change,
                    format!("refused ({}): {}", r.rule, r.reason),
                    r.help,
                );
                return None;
            }
        };
        if let Operation::AlterColumnType { table, column, .. } = &op {
            if analysis.actions.iter().any(|a| a.phase == Phase::Contract) {
                writes
                    .swapped_at_contract
                    .push((table.clone(), column.clone()));
            }
        }
        let owner = format!("{}/{}", op.kind_name(), op.subject());
        let origin = Origin::Change {
            version: v,
            index: change.index,
        };
        let mut tasks = Vec::new();
        for action in analysis.actions {
            let target = match (action.phase, contract_in) {
                (Phase::Contract, Some(t)) => t,
                _ => v,
            };
            tasks.push(TaskId(format!(
                "v{target}/{}/{owner}/{}",
                action.phase.name(),
                action.key
            )));
            if let Some(p) = self.parts.get_mut(&target) {
                p.push(SourcedAction {
                    action,
                    origin: origin.clone(),
                    owner: owner.clone(),
                });
            }
        }
        Some(PlannedChange {
            index: change.index,
            line: change.span.line,
            sql,
            operation: op,
            classification: analysis.classification,
            contract_in,
            tasks,
        })
    }

    /// A user backfill: checked against the model after the version's
    /// changes, then its batched backfill (migrate) and its gate (before
    /// contract).
    fn plan_backfill(
        &mut self,
        plan: &Plan,
        b: &Backfill,
        pb: ParsedBackfill,
    ) -> Option<PlannedBackfill> {
        let (engine, v) = (self.engine, plan.version);
        let key = match self.backfill_table(plan, b, &pb) {
            Ok(key) => key,
            Err(d) => {
                self.errors.push(*d);
                return None;
            }
        };
        let owner = match &pb.single {
            Some((col, _)) => format!("backfill/{}.{col}", b.table),
            None => format!("backfill/{}.{}", b.table, pb.columns.join("+")),
        };
        let step = BackfillStep {
            engine,
            table: b.table.clone(),
            key: key.clone(),
            set: pb.set.clone(),
            pending: pb.pending.clone(),
            batch_size: b.batch_size,
            pause_ms: b.pause.as_millis() as u64,
        };
        let keys = engine.quote_list(&key);
        let gate = CheckStep {
            kind: CheckKind::Gate,
            count_sql: step.remaining_sql(),
            sample_sql: Some(format!(
                "SELECT {keys} FROM {} WHERE {} ORDER BY {keys} LIMIT 5",
                engine.quote_ident(&b.table),
                pb.pending
            )),
            guards: format!("no row of {} left un-backfilled ({})", b.table, pb.pending),
        };
        let objects: Vec<ObjectRef> = pb
            .columns
            .iter()
            .map(|c| ObjectRef::column(&b.table, c))
            .collect();
        let origin = Origin::Backfill {
            version: v,
            index: b.index,
        };
        let backfill = Action {
            key: "backfill".into(),
            phase: Phase::Migrate,
            symbol: Symbol::Change,
            summary: format!(
                "backfill {}: SET {} WHERE {} ({} rows per batch)",
                b.table, pb.set, pb.pending, b.batch_size
            ),
            step: Step::Backfill(step),
            creates: Vec::new(),
            needs: objects.clone(),
            removes: Vec::new(),
        };
        let gate = Action {
            key: "gate".into(),
            phase: Phase::Contract,
            symbol: Symbol::Change,
            summary: format!("gate: no row of {} where {}", b.table, pb.pending),
            step: Step::Check(gate),
            creates: Vec::new(),
            needs: objects,
            removes: Vec::new(),
        };
        let tasks = vec![
            TaskId(format!("v{v}/migrate/{owner}/backfill")),
            TaskId(format!("v{v}/contract/{owner}/gate")),
        ];
        let p = self
            .parts
            .get_mut(&v)
            .expect("every pending version has parts");
        p.migrate_user.push(SourcedAction {
            action: backfill,
            origin: origin.clone(),
            owner: owner.clone(),
        });
        p.contract.push(SourcedAction {
            action: gate,
            origin,
            owner,
        });
        Some(PlannedBackfill {
            index: b.index,
            table: b.table.clone(),
            set: pb.set,
            pending: pb.pending,
            batch_size: b.batch_size,
            tasks,
        })
    }

    /// The key a backfill of `b.table` walks, or why it cannot.
    fn backfill_table(
        &self,
        plan: &Plan,
        b: &Backfill,
        pb: &ParsedBackfill,
    ) -> Result<Vec<String>, Box<Diagnostic>> {
        let Some(table) = self.schema.table(&b.table) else {
            return Err(Box::new(
                plan.diag(
                    b.span,
                    format!(
                        "backfill #{}: no table `{}` in the schema at this point",
                        b.index, b.table
                    ),
                )
                .help(
                    "backfills run after the plan's expand changes: the table must exist by then",
                ),
            ));
        };
        if table.primary_key.is_empty() {
            return Err(Box::new(plan
                .diag(b.span, format!("backfill #{}: table `{}` has no primary key", b.index, b.table))
                .help("backfills walk the primary key in batches; add a primary key in an earlier plan")));
        }
        if let Some(r) = crate::ops::unwalkable_key(self.engine, table) {
            return Err(Box::new(
                plan.diag(
                    b.span,
                    format!("backfill #{}: refused ({}): {}", b.index, r.rule, r.reason),
                )
                .help(format!(
                    "write the backfill as a raw change instead (`- raw: \"UPDATE {} SET … WHERE …\"` with `phase: migrate`), which runs in one statement, not in batches, and holds its row locks until it commits; or first give {} a primary key of one of these types, in an earlier plan",
                    b.table, b.table
                )),
            ));
        }
        if let Some(col) = pb.columns.iter().find(|c| table.column(c).is_none()) {
            return Err(Box::new(
                plan.diag(
                    b.span,
                    format!(
                        "backfill #{}: table `{}` has no column `{col}`",
                        b.index, b.table
                    ),
                )
                .help(format!(
                    "columns of {}: {}",
                    b.table,
                    table.column_names().join(", ")
                )),
            ));
        }
        Ok(table.primary_key.clone())
    }

    /// The schema at the version's points: during expand and migrate, and
    /// once contracted.
    fn record_points(&mut self, v: u32, before: &Schema, writes: VersionWrites) {
        let VersionWrites {
            mut relaxed,
            leaving,
            swapped_at_contract,
        } = writes;
        let during = writes::during(before, &self.schema, &leaving, &swapped_at_contract, v);
        for point in [SchemaPoint::expand(v), SchemaPoint::migrate(v)] {
            self.points.push(PointSchema {
                point,
                schema: during.clone(),
                relaxed: relaxed.clone(),
            });
        }
        relaxed.retain(|r| self.schema.column(&r.table, &r.column).is_some());
        self.points.push(PointSchema {
            point: SchemaPoint::complete(v),
            schema: self.schema.clone(),
            relaxed,
        });
    }

    fn note_no_fleet(&mut self, plan: &Plan, planned: &PlannedVersion) {
        let v = plan.version;
        let contracts = planned
            .changes
            .iter()
            .any(|c| c.tasks.iter().any(|t| t.0.contains("/contract/")));
        if plan.fleet.is_empty() && contracts {
            self.notes.push(Note {
                version: Some(v),
                message: format!(
                    "plan {v} has no fleet: `apply` stops before contract unless `--until contract` is given; \
                     first make sure no running release still uses what contract removes"
                ),
            });
        }
    }
}

/// A plan as the output shows it, before its changes are planned.
fn planned_version(plan: &Plan) -> PlannedVersion {
    PlannedVersion {
        version: plan.version,
        path: plan.path.clone(),
        hash: plan.hash.clone(),
        description: plan.description.clone(),
        changes: Vec::new(),
        backfills: Vec::new(),
        fleet: plan.fleet.clone(),
        hooks: plan.hooks.clone(),
        fleet_summary: plan
            .fleet
            .iter()
            .map(|g| FleetSummary {
                group: g.name.clone(),
                nodes: g.nodes.clone(),
                from_release: g.from_release.clone(),
                to_release: g.to_release.clone(),
                batch_size: g.max_unavailable.batch_size(g.nodes.len()),
                after: g.after.clone(),
            })
            .collect(),
    }
}

/// The refusal of the first backfill among `actions` whose table's key the
/// engine cannot walk (see [`crate::ops::unwalkable_key`]), against the
/// model the change finds: every action whose step is a backfill, whichever
/// decomposition made it.
fn unwalkable_backfill(engine: EngineKind, schema: &Schema, actions: &[Action]) -> Option<Refusal> {
    actions.iter().find_map(|a| match &a.step {
        Step::Backfill(b) => schema
            .table(&b.table)
            .and_then(|t| crate::ops::unwalkable_key(engine, t)),
        _ => None,
    })
}
