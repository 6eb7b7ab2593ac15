//! `zerodown plan --format json`: the checked plan for tools.
//!
//! The schema is stable: fields are only added, never renamed or removed,
//! within one `format_version`. Objects keep the key order shown here.
//!
//! ```text
//! {
//!   "format_version": 1,
//!   "plan_sets": [
//!     {
//!       "dir": "plans",                      // as given on the command line
//!       "engine": "postgres",                // postgres | mysql | sqlite
//!       "base": "1",                         // schema point the run starts from
//!       "schema_source": {"type": "file", "path": "plans/schemas/0001.sql"}
//!                                            // or {"type": "empty"}
//!       "versions": [                        // empty: nothing to do
//!         {
//!           "version": 2,
//!           "path": "plans/0002_note.yaml",
//!           "hash": "…",                     // SHA-256 of the plan file
//!           "description": "…",
//!           "changes": [
//!             {
//!               "index": 1, "line": 5,       // 1-based entry of `changes:`, its line
//!               "sql": "…",                  // as written
//!               "operation": {"kind": "add_column", …},
//!               "classification": {"class": "additive" | "subtractive" |
//!                   "transforming" | "unsafe", "rule": "pg/add-column/…",
//!                   "lock": "…",             // the lock as written
//!                   "reason": "…", "rewrite": "…" | null},
//!               "contract_in": 3 | null,     // deferred contract
//!               "tasks": ["v2/expand/…"]     // the task IDs it became
//!             }
//!           ],
//!           "backfills": [{"index", "table", "set", "pending", "batch_size", "tasks"}],
//!           "fleet": [{"group", "nodes", "from_release", "to_release",
//!                      "batch_size", "after"}]
//!         }
//!       ],
//!       "tasks": [                           // every task, in execution order
//!         {
//!           "id": "v2/expand/add-column/orders.note/add-column",
//!           "version": 2,
//!           "stage": "expand" | "migrate" | "rollout" | "gate" | "contract",
//!           "symbol": "add" | "change" | "remove" | null,   // null: milestone
//!           "summary": "…",
//!           "kind": "milestone" | "action" | "rollout" | "hook",
//!           "depends_on": ["v2/expand"],     // IDs of the tasks it waits for
//!           "done": false,                   // already done (`plan --database`)
//!           // kind "milestone":
//!           "point": "2.expand" | null,      // the schema point it enters; null: a barrier
//!           // kind "action":
//!           "step": {"type": "sql", "statements": […], "transactional": true,
//!                    "lock": "…", "effect": {"check": "column_exists", …}}
//!                 | {"type": "backfill", "engine", "table", "key": […], "set",
//!                    "pending", "batch_size", "pause_ms",
//!                    "update_sql": "…",      // one batch: lower key $1, upper key $2
//!                    "remaining_sql": "…"}   // rows still to do
//!                 | {"type": "check", "kind": "gate" | "violations",
//!                    "count_sql", "sample_sql", "guards"},
//!           // kind "rollout":
//!           "rollout": {"group", "batch", "batches", "nodes": […],
//!                       "from_release", "to_release", "drain": [argv],
//!                       "upgrade": [argv], "health": [argv], "rollback": [argv],
//!                       "timeout": 120.0,    // seconds, as are the three below
//!                       "health_interval": 1.0, "min_healthy": 3.0,
//!                       "health_deadline": 60.0},
//!           // kind "hook":
//!           "hook": {"group": "api" | null,   // null: the plan's hook
//!                    "when": "before" | "after", "argv": [argv],
//!                    "from_release": "1.4.0" | null, "to_release": "1.5.0" | null,
//!                    "timeout": 120.0},
//!           "origin": {"type": "change" | "backfill" | "fleet" | "hooks", "version": 2, …} | null
//!         }
//!       ],
//!       "proof": null | {                    // null: the plans roll no fleet
//!         "checks": [{"group", "release", "range": "1 ..= 2.migrate" | null,
//!                     "meets": ["1", "2.expand"], "from_task": id | null,
//!                     "until_task": id | null}],
//!         "conflicts": [], "unknown": []     // empty in a checked plan
//!       },
//!       "writes": null | {                   // null: no releases.yaml
//!         "conflicts": [],                   // empty in a checked plan
//!         "meetings": [{"release", "range": "0 ..= 1.migrate", "built_for": 0,
//!                       "table", "points": ["1.expand", "1.migrate"],
//!                       "kind": "leaves_out", "column", "gets": "NULL"
//!                     | "kind": "reads_relaxed", "column", "how": "allow_null" | {"fill": "0"}
//!                     | "kind": "new_constraint", "constraint"
//!                     | "kind": "other_type", "column", "built_for_type", "here"
//!                     | "kind": "not_null_here", "column"}]
//!       },
//!       "notes": [{"version": 2 | null, "message": "…"}],
//!       "tables": [{"table", "rows": 1000 | null, "backfill_seconds": 0.02 | null,
//!                   "rebuild_seconds": 0.01 | null}]
//!                                            // with --database: tables backfilled or rebuilt
//!     }
//!   ],
//!   "summary": {"expand": 1, "migrate": 1, "nodes": 3, "gates": 1, "contract": 1}
//! }
//! ```

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{ordered, summary};
use crate::graph::{Milestone, Task, TaskKind};
use crate::ops::Step;
use crate::planner::{CheckedPlan, PlannedVersion};
use crate::snapshot::SchemaSource;

/// The version of the schema above; bumped only on an incompatible change.
const FORMAT_VERSION: u32 = 1;

/// Plan data has string keys only and no paths (paths are written with
/// `display()` here), so turning it into a `Value` cannot fail.
fn value<T: Serialize>(data: &T) -> Value {
    serde_json::to_value(data).expect("plan data serializes to JSON")
}

/// Render plan sets as pretty JSON, ending with a newline.
pub fn json(plans: &[CheckedPlan]) -> String {
    let s = summary(plans);
    let doc = json!({
        "format_version": FORMAT_VERSION,
        "plan_sets": plans.iter().map(plan_set).collect::<Vec<_>>(),
        "summary": {
            "expand": s.expand,
            "migrate": s.migrate,
            "nodes": s.nodes,
            "gates": s.gates,
            "contract": s.contract,
        },
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("a JSON value prints");
    out.push('\n');
    out
}

fn plan_set(plan: &CheckedPlan) -> Value {
    let schema_source = match &plan.schema_source {
        SchemaSource::Empty => json!({"type": "empty"}),
        SchemaSource::File { path } => json!({"type": "file", "path": path.display().to_string()}),
        SchemaSource::Database => json!({"type": "database"}),
    };
    json!({
        "dir": plan.dir.display().to_string(),
        "engine": plan.engine.name(),
        "base": plan.base,
        "schema_source": schema_source,
        "versions": plan.versions.iter().map(version).collect::<Vec<_>>(),
        "tasks": ordered(plan).map(|(ix, task)| {
            let deps = plan.graph.dependencies(ix).into_iter().map(|d| d.0.clone()).collect();
            task_value(task, deps, plan.done.contains(&task.id))
        }).collect::<Vec<_>>(),
        "proof": plan.proof.as_ref().map(value),
        "writes": plan.writes.as_ref().map(value),
        "notes": value(&plan.notes),
        "tables": value(&plan.tables),
    })
}

fn version(v: &PlannedVersion) -> Value {
    json!({
        "version": v.version,
        "path": v.path.display().to_string(),
        "hash": v.hash,
        "description": v.description,
        "changes": value(&v.changes),
        "backfills": value(&v.backfills),
        "fleet": value(&v.fleet_summary),
    })
}

fn task_value(task: &Task, depends_on: Vec<String>, done: bool) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), json!(task.id.0));
    obj.insert("version".into(), json!(task.version));
    obj.insert("stage".into(), value(&task.stage));
    obj.insert("symbol".into(), value(&task.symbol));
    obj.insert("summary".into(), json!(task.summary));
    let kind = match &task.kind {
        TaskKind::Milestone(_) => "milestone",
        TaskKind::Action { .. } => "action",
        TaskKind::Rollout(_) => "rollout",
        TaskKind::Hook(_) => "hook",
    };
    obj.insert("kind".into(), json!(kind));
    obj.insert("depends_on".into(), json!(depends_on));
    obj.insert("done".into(), json!(done));
    match &task.kind {
        TaskKind::Milestone(Milestone::Enter { point }) => {
            obj.insert("point".into(), value(point));
        }
        TaskKind::Milestone(Milestone::Barrier) => {
            obj.insert("point".into(), Value::Null);
        }
        TaskKind::Action { step } => {
            let mut step_value = value(step);
            if let (Step::Backfill(b), Value::Object(fields)) = (step, &mut step_value) {
                fields.insert("update_sql".into(), json!(b.update_sql(true, true)));
                fields.insert("remaining_sql".into(), json!(b.remaining_sql()));
            }
            obj.insert("step".into(), step_value);
        }
        TaskKind::Rollout(r) => {
            obj.insert("rollout".into(), value(r));
        }
        TaskKind::Hook(h) => {
            obj.insert("hook".into(), value(h));
        }
    }
    obj.insert("origin".into(), value(&task.origin));
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    fn parsed() -> Value {
        let out = json(&[fixture::plan(), fixture::up_to_date()]);
        assert!(out.ends_with("}\n"));
        serde_json::from_str(&out).expect("the output is valid JSON")
    }

    fn task<'a>(doc: &'a Value, id: &str) -> &'a Value {
        doc["plan_sets"][0]["tasks"]
            .as_array()
            .expect("tasks is an array")
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no task {id}"))
    }

    #[test]
    fn round_trips_with_the_documented_shape() {
        let doc = parsed();
        assert_eq!(doc["format_version"], 1);
        let set = &doc["plan_sets"][0];
        assert_eq!(set["dir"], "plans");
        assert_eq!(set["engine"], "postgres");
        assert_eq!(set["base"], "1");
        assert_eq!(
            set["schema_source"],
            json!({"type": "file", "path": "plans/schemas/0001.sql"})
        );
        let v = &set["versions"][0];
        assert_eq!(v["path"], "plans/0002_note.yaml");
        assert_eq!(v["changes"][1]["classification"]["class"], "subtractive");
        assert_eq!(v["fleet"][0]["group"], "api");
        assert_eq!(set["proof"]["checks"][0]["range"], "1 ..= 2.migrate");
        assert_eq!(set["notes"][0]["message"], "something to know");
        assert_eq!(
            doc["plan_sets"][1]["schema_source"],
            json!({"type": "empty"})
        );
        assert_eq!(doc["plan_sets"][1]["proof"], Value::Null);
        assert_eq!(
            doc["summary"],
            json!({"expand": 1, "migrate": 1, "nodes": 3, "gates": 1, "contract": 1})
        );
    }

    #[test]
    fn tasks_carry_dependencies_and_their_step() {
        let doc = parsed();
        let tasks = doc["plan_sets"][0]["tasks"]
            .as_array()
            .expect("tasks is an array");
        assert_eq!(tasks[0]["id"], "v2/expand");
        assert_eq!(tasks[0]["kind"], "milestone");
        assert_eq!(tasks[0]["point"], "2.expand");
        assert_eq!(tasks[0]["depends_on"], json!([]));

        let add = task(&doc, "v2/expand/add-column/orders.note/add-column");
        assert_eq!(add["depends_on"], json!(["v2/expand"]));
        assert_eq!(add["symbol"], "add");
        assert_eq!(add["step"]["type"], "sql");

        let backfill = task(&doc, "v2/migrate/backfill/orders.note/backfill");
        assert_eq!(
            backfill["step"]["update_sql"],
            r#"UPDATE "orders" SET "note" = '' WHERE "id" > $1 AND "id" <= $2 AND ("note" IS NULL)"#
        );
        assert_eq!(
            backfill["origin"],
            json!({"type": "backfill", "version": 2, "index": 1})
        );

        let gate = task(&doc, "v2/contract/backfill/orders.note/gate");
        assert_eq!(gate["stage"], "gate");
        assert_eq!(
            gate["depends_on"],
            json!([
                "v2/rollout/api/2",
                "v2/expand/add-column/orders.note/add-column"
            ])
        );

        let rollout = task(&doc, "v2/rollout/api/2");
        assert_eq!(rollout["kind"], "rollout");
        assert_eq!(rollout["rollout"]["nodes"], json!(["api-3"]));
        assert_eq!(rollout["depends_on"], json!(["v2/rollout/api/1"]));

        // Execution order: every dependency comes earlier.
        for (i, t) in tasks.iter().enumerate() {
            for dep in t["depends_on"].as_array().expect("depends_on is an array") {
                assert!(
                    tasks[..i].iter().any(|e| &e["id"] == dep),
                    "{dep} is not before {}",
                    t["id"]
                );
            }
        }
    }
}
