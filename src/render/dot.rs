//! `zerodown plan --format dot`: the task graph for Graphviz
//! (`zerodown plan --format dot | dot -Tsvg > plan.svg`).
//!
//! One cluster per plan set, per version within it and per stage within
//! that; milestones are ellipses, actions boxes, rollouts hexagons.

use std::fmt::Write as _;

use super::{ordered, stage_tasks, stage_title};
use crate::graph::{Stage, Task, TaskId, TaskKind};
use crate::ops::Symbol;
use crate::planner::CheckedPlan;

/// A DOT quoted string: one line, `\` and `"` escaped.
fn quote(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(flat.len() + 2);
    out.push('"');
    for c in flat.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The node of a task. Task IDs are unique within a plan set; with several
/// sets, the set's position keeps them apart.
fn node(set: Option<usize>, id: &TaskId) -> String {
    match set {
        Some(i) => quote(&format!("{i}:{id}")),
        None => quote(&id.0),
    }
}

fn attributes(task: &Task) -> String {
    let shape = match task.kind {
        TaskKind::Milestone(_) => "ellipse",
        TaskKind::Action { .. } => "box",
        TaskKind::Rollout(_) => "hexagon",
        TaskKind::Hook(_) => "cds",
    };
    let text = match task.symbol {
        Some(s) => format!("{} {}", s.sign(), task.summary),
        None => task.summary.clone(),
    };
    let color = match task.symbol {
        None => "gray40",
        Some(Symbol::Add) => "darkgreen",
        Some(Symbol::Change) => "darkorange3",
        Some(Symbol::Remove) => "red3",
    };
    format!(
        "[shape={shape}, color={color}, label={}, tooltip={}]",
        quote(&text),
        quote(&task.id.0)
    )
}

/// Render the task graphs of plan sets as one DOT digraph.
pub fn dot(plans: &[CheckedPlan]) -> String {
    let several = plans.len() > 1;
    let mut out = String::from(
        "digraph zerodown {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (i, plan) in plans.iter().enumerate() {
        let set = several.then_some(i);
        let _ = writeln!(out, "  subgraph cluster_{i} {{");
        let _ = writeln!(
            out,
            "    label={};",
            quote(&format!("{} ({})", plan.dir.display(), plan.engine))
        );
        for version in &plan.versions {
            let v = version.version;
            let _ = writeln!(out, "    subgraph cluster_{i}_v{v} {{");
            let _ = writeln!(
                out,
                "      label={};",
                quote(&format!("version {v}: {}", version.path.display()))
            );
            for (_, task) in ordered(plan).filter(|(_, t)| t.version == v && t.is_milestone()) {
                let _ = writeln!(out, "      {} {};", node(set, &task.id), attributes(task));
            }
            for stage in [
                Stage::Expand,
                Stage::Migrate,
                Stage::Rollout,
                Stage::Gate,
                Stage::Contract,
            ] {
                let tasks = stage_tasks(plan, v, stage);
                if tasks.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "      subgraph cluster_{i}_v{v}_{} {{", stage.name());
                let _ = writeln!(out, "        label={};", quote(stage_title(stage)));
                for task in tasks {
                    let _ = writeln!(out, "        {} {};", node(set, &task.id), attributes(task));
                }
                let _ = writeln!(out, "      }}");
            }
            let _ = writeln!(out, "    }}");
        }
        let _ = writeln!(out, "  }}");
        for (ix, task) in ordered(plan) {
            for dep in plan.graph.dependencies(ix) {
                let _ = writeln!(out, "  {} -> {};", node(set, dep), node(set, &task.id));
            }
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    /// Braces outside quoted strings, as DOT reads them.
    fn structural_braces(dot: &str) -> (usize, usize) {
        let (mut open, mut close, mut quoted, mut escaped) = (0, 0, false, false);
        for c in dot.chars() {
            match (quoted, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (_, false, '"') => quoted = !quoted,
                (false, _, '{') => open += 1,
                (false, _, '}') => close += 1,
                _ => {}
            }
        }
        (open, close)
    }

    #[test]
    fn every_task_is_a_node_in_balanced_clusters() {
        let plan = fixture::plan();
        let out = dot(std::slice::from_ref(&plan));
        assert!(
            out.starts_with("digraph zerodown {\n  rankdir=LR;\n"),
            "{out}"
        );
        assert!(out.ends_with("}\n"));
        let (open, close) = structural_braces(&out);
        assert_eq!(open, close, "{out}");
        // The set, the version and its five non-empty stages, plus the digraph.
        assert_eq!(open, 1 + 1 + 1 + 5, "{out}");
        for task in plan.graph.tasks() {
            assert!(
                out.contains(&format!("\n      {} [shape=", quote(&task.id.0)))
                    || out.contains(&format!("\n        {} [shape=", quote(&task.id.0))),
                "{} missing:\n{out}",
                task.id
            );
        }
        assert!(out.contains(r#""v2/expand" [shape=ellipse, color=gray40, label="enter 2.expand", tooltip="v2/expand"];"#), "{out}");
        assert!(out.contains(r#""v2/rollout/api/1" [shape=hexagon, color=darkorange3, label="~ roll api-1, api-2 from 1.4.0 to 1.5.0""#), "{out}");
        assert!(
            out.contains(r#"label="~ gate: no row of orders where \"note\" IS NULL""#),
            "{out}"
        );
        assert!(
            out.contains("  \"v2/rollout/api/1\" -> \"v2/rollout/api/2\";\n"),
            "{out}"
        );
        let edges = out.lines().filter(|l| l.contains(" -> ")).count();
        assert_eq!(edges, plan.graph.graph.edge_count());
    }

    #[test]
    fn several_plan_sets_keep_their_nodes_apart() {
        let out = dot(&[fixture::plan(), fixture::plan()]);
        assert!(out.contains("\"0:v2/expand\" -> "), "{out}");
        assert!(out.contains("\"1:v2/expand\" -> "), "{out}");
        let (open, close) = structural_braces(&out);
        assert_eq!(open, close);
        assert_eq!(quote("a \\ \"b\"\nc"), r#""a \\ \"b\" c""#);
    }
}
