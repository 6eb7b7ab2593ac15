//! `zerodown plan --format markdown`: the plan for a pull request. Per plan
//! set and version: a table of the changes, the tasks phase by phase with
//! their SQL, the fleet proof, and the task graph as a Mermaid flowchart.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::{
    detail, ordered, stage_tasks, stage_title, start_point, summary, timeline, Mark, NO_CHANGES,
};
use crate::graph::{Stage, Task, TaskId};
use crate::planner::{CheckedPlan, PlannedVersion};

/// Render plan sets as GitHub-flavoured Markdown.
pub fn markdown(plans: &[CheckedPlan]) -> String {
    if !plans.iter().any(CheckedPlan::has_changes) {
        return format!("{NO_CHANGES}\n");
    }
    let mut out = String::new();
    for plan in plans {
        plan_set(&mut out, plan);
    }
    let _ = writeln!(out, "**{}**", summary(plans).line());
    out
}

fn plan_set(out: &mut String, plan: &CheckedPlan) {
    let _ = writeln!(
        out,
        "## Plan set {} ({})\n",
        code(&plan.dir.display().to_string()),
        plan.engine
    );
    let _ = writeln!(
        out,
        "From schema **{}** ({}).\n",
        plan.base,
        escape(&super::schema_source_text(plan))
    );
    if !plan.has_changes() {
        let _ = writeln!(out, "No changes: the database is at {}.\n", plan.base);
        return;
    }
    for (i, version) in plan.versions.iter().enumerate() {
        write_version(out, plan, i, version);
    }
    if let Some(proof) = &plan.proof {
        let _ = writeln!(out, "### Fleet proof\n");
        let _ = writeln!(out, "| group | release | supports | meets | |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
        for check in super::distinct_checks(proof) {
            let meets = check
                .meets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let (range, ok) = match check.range {
                Some(r) => (r.to_string(), check.meets.iter().all(|pt| r.contains(*pt))),
                None => ("not in releases.yaml".to_string(), false),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                escape(&check.group),
                escape(&check.release),
                escape(&range),
                escape(&meets),
                if ok { "✓" } else { "✗" }
            );
        }
        out.push('\n');
    }
    if let Some(writes) = plan.writes.as_ref().filter(|w| !w.meetings.is_empty()) {
        let _ = writeln!(
            out,
            "### What each release meets that it was not built for\n"
        );
        let _ = writeln!(out, "| release | built for | supports | at | meets |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
        for f in &writes.meetings {
            let (points, what) = super::finding_text(f);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                escape(&f.release),
                f.built_for,
                escape(&f.range.to_string()),
                escape(&points),
                escape(&what)
            );
        }
        out.push('\n');
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out, "### Warnings\n");
        for note in &plan.notes {
            let _ = writeln!(out, "> **Warning:** {}\n", escape(&note.message));
        }
    }
    let _ = writeln!(out, "### Task graph\n");
    let _ = writeln!(out, "```mermaid\n{}```\n", mermaid(plan));
}

fn write_version(out: &mut String, plan: &CheckedPlan, i: usize, version: &PlannedVersion) {
    let _ = writeln!(
        out,
        "### Version {} ({})\n",
        version.version,
        code(&version.path.display().to_string())
    );
    if !version.description.is_empty() {
        let _ = writeln!(out, "{}\n", escape(&version.description));
    }
    if !version.changes.is_empty() {
        let _ = writeln!(out, "| # | statement | class | rule | lock as written |");
        let _ = writeln!(out, "| ---: | --- | --- | --- | --- |");
        for change in &version.changes {
            let c = &change.classification;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                change.index,
                code(&change.sql),
                c.class.name(),
                code(&c.rule),
                escape(&c.lock)
            );
        }
        out.push('\n');
        for change in &version.changes {
            let c = &change.classification;
            let _ = write!(out, "- **#{}**: {}", change.index, escape(&c.reason));
            if let Some(rewrite) = &c.rewrite {
                let _ = write!(out, " Runs instead: {}.", code(rewrite));
            }
            if let Some(v) = change.contract_in {
                let _ = write!(out, " Contract deferred to version {v}.");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    for mark in timeline(start_point(plan, i), version.version) {
        match mark {
            Mark::Point(point) => {
                let _ = writeln!(out, "_Schema at {point}._\n");
            }
            Mark::Stage(stage) => {
                let tasks = stage_tasks(plan, version.version, stage);
                if tasks.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "#### {}\n", stage_title(stage));
                for task in tasks {
                    write_task(out, task);
                }
                out.push('\n');
            }
        }
    }
}

fn write_task(out: &mut String, task: &Task) {
    let sign = task
        .symbol
        .map(|s| s.sign().to_string())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "- {} {} {}",
        code(&sign),
        code(&task.id.0),
        escape(&task.summary)
    );
    let d = detail(task);
    if !d.sql.is_empty() {
        let body = d.sql.join("\n\n");
        let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
        let _ = writeln!(out, "\n  {fence}sql");
        for line in body.lines() {
            let _ = writeln!(out, "{}", format!("  {line}").trim_end());
        }
        let _ = writeln!(out, "  {fence}");
    }
    for note in &d.notes {
        let _ = writeln!(out, "  - {}", escape(note));
    }
}

fn longest_run(text: &str, ch: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in text.chars() {
        run = if c == ch { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Inline code that survives any content: newlines become spaces, the
/// delimiter is longer than any run of backticks inside, and `|` is escaped
/// so a table cell stays one cell.
fn code(text: &str) -> String {
    let flat = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|");
    let ticks = "`".repeat(longest_run(&flat, '`') + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{flat}{pad}{ticks}")
}

/// Text with Markdown's active characters escaped, on one line.
fn escape(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(flat.len());
    for c in flat.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A Mermaid node ID from a task ID: only `[A-Za-z0-9_]`, unique in the
/// diagram (a suffix separates IDs that sanitize alike).
fn node_id(id: &TaskId, used: &mut HashSet<String>) -> String {
    let base: String =
        id.0.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
    let base = if base.starts_with(|c: char| c.is_ascii_alphabetic()) {
        base
    } else {
        format!("t_{base}")
    };
    let mut candidate = base.clone();
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    candidate
}

/// A Mermaid label: quotes and the characters Mermaid reads as markup
/// become entity codes, on one line.
fn label(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(flat.len());
    for c in flat.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            _ => out.push(c),
        }
    }
    out
}

/// The task graph as a Mermaid flowchart: a subgraph per version holding
/// the milestones (stadium shapes) and a subgraph per stage of its tasks.
fn mermaid(plan: &CheckedPlan) -> String {
    let mut used = HashSet::new();
    let ids: HashMap<&TaskId, String> = ordered(plan)
        .map(|(_, t)| (&t.id, node_id(&t.id, &mut used)))
        .collect();
    let mut out = String::from("flowchart TD\n");
    for version in &plan.versions {
        let v = version.version;
        let _ = writeln!(out, "  subgraph version_{v} [\"version {v}\"]");
        for (_, task) in ordered(plan).filter(|(_, t)| t.version == v && t.is_milestone()) {
            let _ = writeln!(out, "    {}([\"{}\"])", ids[&task.id], label(&task.summary));
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
            let _ = writeln!(
                out,
                "    subgraph version_{v}_{} [\"{}\"]",
                stage.name(),
                stage_title(stage)
            );
            for task in tasks {
                let sign = task
                    .symbol
                    .map(|s| format!("{} ", s.sign()))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "      {}[\"{}\"]",
                    ids[&task.id],
                    label(&format!("{sign}{}", task.summary))
                );
            }
            let _ = writeln!(out, "    end");
        }
        let _ = writeln!(out, "  end");
    }
    for (ix, task) in ordered(plan) {
        for dep in plan.graph.dependencies(ix) {
            let _ = writeln!(out, "  {} --> {}", ids[dep], ids[&task.id]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn mermaid_ids_are_sanitized_and_unique() {
        let mut used = HashSet::new();
        let cases = [
            (
                "v2/expand/add-column/orders.note/add-column",
                "v2_expand_add_column_orders_note_add_column",
            ),
            (
                "v2/expand/add-column/orders_note/add-column",
                "v2_expand_add_column_orders_note_add_column_2",
            ),
            ("2/é", "t_2__"),
        ];
        for (id, want) in cases {
            assert_eq!(node_id(&TaskId(id.into()), &mut used), want);
        }
        let diagram = mermaid(&fixture::plan());
        for line in diagram.lines().filter(|l| l.contains("-->")) {
            let ends: Vec<&str> = line.split("-->").map(str::trim).collect();
            assert_eq!(ends.len(), 2, "{line}");
            for end in ends {
                assert!(
                    end.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "unsanitized ID in `{line}`"
                );
            }
        }
    }

    #[test]
    fn mermaid_has_subgraphs_milestones_and_escaped_labels() {
        let diagram = mermaid(&fixture::plan());
        assert!(
            diagram.starts_with("flowchart TD\n  subgraph version_2 [\"version 2\"]\n"),
            "{diagram}"
        );
        assert!(
            diagram.contains("    v2_migrate([\"enter 2.migrate\"])\n"),
            "{diagram}"
        );
        assert!(
            diagram.contains("    subgraph version_2_rollout [\"Rollout\"]\n"),
            "{diagram}"
        );
        assert!(
            diagram.contains("[\"~ gate: no row of orders where #quot;note#quot; IS NULL\"]"),
            "{diagram}"
        );
        assert!(
            diagram.contains("  v2_rollout_api_1 --> v2_rollout_api_2\n"),
            "{diagram}"
        );
        let opens = diagram
            .lines()
            .filter(|l| l.trim_start().starts_with("subgraph "))
            .count();
        let ends = diagram.lines().filter(|l| l.trim() == "end").count();
        assert_eq!(opens, ends);
        assert_eq!(
            label("a \"b\" <c> #1 `d`"),
            "a #quot;b#quot; #lt;c#gt; #35;1 #96;d#96;"
        );
    }

    #[test]
    fn markdown_tables_survive_pipes_and_backticks() {
        assert_eq!(code("a | b"), "`a \\| b`");
        assert_eq!(
            code("ALTER TABLE `t`\n  DROP x"),
            "``ALTER TABLE `t` DROP x``"
        );
        assert_eq!(code("`t`"), "`` `t` ``");
        assert_eq!(escape("a_b | *c*"), "a\\_b \\| \\*c\\*");
        let out = markdown(&[fixture::plan()]);
        assert!(out.contains("| 1 | `ALTER TABLE orders ADD COLUMN note text` | additive | `pg/add-column/nullable` | ACCESS EXCLUSIVE (catalog only, brief) |"), "{out}");
        assert!(out.contains("- **#2**: a \"quoted\" reason \\| with a pipe Runs instead: ``ALTER TABLE `users` DROP COLUMN legacy``."), "{out}");
        assert!(out.contains("- `-` `v2/contract/drop-column/users.legacy/drop-column` drop column users.legacy\n"), "{out}");
        assert!(
            out.contains(
                "\n  ```sql\n  SELECT COUNT(*) FROM \"orders\" WHERE \"note\" IS NULL\n  ```\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("| api | 1.4.0 | 1 ..= 2.migrate | 1, 2.expand, 2.migrate | ✓ |"),
            "{out}"
        );
        assert!(out.contains("```mermaid\nflowchart TD\n"), "{out}");
        assert!(
            out.ends_with("**Plan: 1 expand, 1 migrate, 3 nodes, 1 gate, 1 contract.**\n"),
            "{out}"
        );
        assert_eq!(
            markdown(&[fixture::up_to_date()]),
            "No changes. The database is up to date.\n"
        );
    }
}
