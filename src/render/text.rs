//! The terminal output of `zerodown plan`, read like `terraform plan`: what
//! each change is and why, then every task phase by phase with the SQL it
//! runs, the fleet proof, warnings and a one-line summary.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{detail, stage_tasks, stage_title, start_point, summary, timeline, Mark, NO_CHANGES};
use crate::ops::Symbol;
use crate::planner::{CheckedPlan, PlannedChange};

/// How to print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// ANSI colours and bold; off for pipes, files and `NO_COLOR`.
    pub color: bool,
}

/// Wraps text in styles when colour is on, and leaves it alone otherwise.
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }

    fn fg(&self, color: AnsiColor, text: &str) -> String {
        self.paint(Style::new().fg_color(Some(color.into())), text)
    }

    fn symbol(&self, symbol: Symbol) -> String {
        let color = match symbol {
            Symbol::Add => AnsiColor::Green,
            Symbol::Change => AnsiColor::Yellow,
            Symbol::Remove => AnsiColor::Red,
        };
        self.paint(
            Style::new().fg_color(Some(color.into())).bold(),
            &symbol.sign().to_string(),
        )
    }
}

/// Every line of `text` after the first, indented by `indent`.
fn indent_lines(text: &str, indent: &str) -> String {
    text.lines()
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// Render plan sets for a terminal.
pub fn text(plans: &[CheckedPlan], opts: &TextOptions) -> String {
    let p = Painter { color: opts.color };
    if !plans.iter().any(CheckedPlan::has_changes) {
        return format!("{NO_CHANGES}\n");
    }
    let mut out = String::new();
    for plan in plans {
        plan_set(&mut out, &p, plan);
        out.push('\n');
    }
    let _ = writeln!(out, "{}", p.bold(&summary(plans).line()));
    out
}

fn plan_set(out: &mut String, p: &Painter, plan: &CheckedPlan) {
    let _ = writeln!(
        out,
        "{}",
        p.bold(&format!(
            "Plan set {} ({})",
            plan.dir.display(),
            plan.engine
        ))
    );
    let _ = writeln!(
        out,
        "  from schema {} ({})",
        plan.base,
        super::schema_source_text(plan)
    );
    if !plan.has_changes() {
        let _ = writeln!(out, "  No changes: the database is at {}.", plan.base);
        return;
    }
    for (i, version) in plan.versions.iter().enumerate() {
        out.push('\n');
        let _ = writeln!(
            out,
            "{}",
            p.bold(&format!(
                "Version {} ({})",
                version.version,
                version.path.display()
            ))
        );
        if !version.description.is_empty() {
            let _ = writeln!(out, "  {}", indent_lines(&version.description, "  "));
        }
        let done = plan
            .done
            .iter()
            .filter(|t| t.0.starts_with(&format!("v{}/", version.version)))
            .count();
        if done > 0 {
            let _ = writeln!(
                out,
                "  {}",
                p.dim(&format!(
                    "{done} tasks already done (the database's history); the rest follows"
                ))
            );
        }
        if !version.changes.is_empty() {
            out.push('\n');
            let _ = writeln!(out, "  {}", p.bold("Changes"));
            for change in &version.changes {
                write_change(out, p, change);
            }
        }
        out.push('\n');
        for mark in timeline(start_point(plan, i), version.version) {
            match mark {
                Mark::Point(point) => {
                    let _ = writeln!(out, "  {}", p.dim(&format!("── schema at {point} ──")));
                }
                Mark::Stage(stage) => {
                    let tasks = stage_tasks(plan, version.version, stage);
                    if tasks.is_empty() {
                        continue;
                    }
                    let _ = writeln!(out, "  {}", p.bold(stage_title(stage)));
                    for task in tasks {
                        let sign = task
                            .symbol
                            .map(|s| p.symbol(s))
                            .unwrap_or_else(|| " ".to_string());
                        let _ = writeln!(out, "    {sign} {}", task.id);
                        let _ =
                            writeln!(out, "        {}", indent_lines(&task.summary, "        "));
                        let d = detail(task);
                        for sql in &d.sql {
                            let _ = writeln!(out, "          {}", indent_lines(sql, "          "));
                        }
                        for note in &d.notes {
                            let _ = writeln!(out, "          {}", p.dim(note));
                        }
                    }
                }
            }
        }
    }
    if !plan.tables.is_empty() {
        out.push('\n');
        let rebuilt = plan.tables.iter().any(|t| t.rebuild_seconds.is_some());
        let _ = writeln!(
            out,
            "{}",
            p.bold(if rebuilt {
                "Tables backfilled or rebuilt"
            } else {
                "Tables backfilled"
            })
        );
        for t in &plan.tables {
            let rows = t
                .rows
                .map(|r| format!("~{r} rows"))
                .unwrap_or_else(|| "size unknown (never analysed)".to_string());
            let time = t
                .backfill_seconds
                .map(|s| {
                    format!(
                        ", backfill ~{s:.0} s at {:.0} rows/s",
                        crate::planner::BACKFILL_ROWS_PER_SEC
                    )
                })
                .unwrap_or_default();
            let rebuild = t
                .rebuild_seconds
                .map(|s| {
                    format!(
                        ", rebuild ~{s:.1} s holding the database write lock (at {:.0} rows/s, a rate measured on a 2-core machine)",
                        crate::planner::REBUILD_ROWS_PER_SEC
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(out, "  {}: {rows}{time}{rebuild}", t.table);
        }
    }
    if let Some(proof) = &plan.proof {
        out.push('\n');
        let _ = writeln!(out, "{}", p.bold("Fleet proof"));
        for check in super::distinct_checks(proof) {
            let meets = check
                .meets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let (mark, range) = match check.range {
                Some(r) if check.meets.iter().all(|pt| r.contains(*pt)) => {
                    (p.fg(AnsiColor::Green, "✓"), r.to_string())
                }
                Some(r) => (p.fg(AnsiColor::Red, "✗"), r.to_string()),
                None => (
                    p.fg(AnsiColor::Red, "✗"),
                    "not in releases.yaml".to_string(),
                ),
            };
            let _ = writeln!(
                out,
                "  {mark} {} {} (supports {range}) meets {meets}",
                check.group, check.release
            );
        }
    }
    if let Some(writes) = plan.writes.as_ref().filter(|w| !w.meetings.is_empty()) {
        out.push('\n');
        let _ = writeln!(
            out,
            "{}",
            p.bold("What each release meets that it was not built for")
        );
        for f in &writes.meetings {
            let (points, what) = super::finding_text(f);
            let _ = writeln!(
                out,
                "  {} (built for {}, supports {}) at {points}:\n    {what}",
                f.release, f.built_for, f.range
            );
        }
    }
    if !plan.notes.is_empty() {
        out.push('\n');
        for note in &plan.notes {
            let _ = writeln!(
                out,
                "{} {}",
                p.fg(AnsiColor::Yellow, "Warning:"),
                indent_lines(&note.message, "  ")
            );
        }
    }
}

fn write_change(out: &mut String, p: &Painter, change: &PlannedChange) {
    let c = &change.classification;
    let _ = writeln!(
        out,
        "    #{} {}",
        change.index,
        indent_lines(change.sql.trim(), "       ")
    );
    let _ = writeln!(out, "       {} · {}", c.class.name(), c.rule);
    let _ = writeln!(out, "       lock as written: {}", c.lock);
    let _ = writeln!(out, "       {}", p.dim(&indent_lines(&c.reason, "       ")));
    if let Some(rewrite) = &c.rewrite {
        let _ = writeln!(
            out,
            "       runs instead: {}",
            indent_lines(rewrite, "         ")
        );
    }
    if let Some(v) = change.contract_in {
        let _ = writeln!(out, "       contract deferred to version {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn plain_text_has_no_escape_codes_and_colour_has_some() {
        let plans = [fixture::plan()];
        let plain = text(&plans, &TextOptions { color: false });
        assert!(!plain.contains('\x1b'), "{plain}");
        let colored = text(&plans, &TextOptions { color: true });
        assert!(
            colored.contains("\x1b[32m"),
            "green `+` expected: {colored}"
        );
        assert!(colored.contains("\x1b[31m"), "red `-` expected: {colored}");
    }

    #[test]
    fn prints_phases_in_order_with_points_between() {
        let out = text(&[fixture::plan()], &TextOptions { color: false });
        let at = |needle: &str| {
            out.find(needle)
                .unwrap_or_else(|| panic!("`{needle}` missing from:\n{out}"))
        };
        let sequence = [
            "Plan set plans (postgres)",
            "from schema 1 (plans/schemas/0001.sql)",
            "Version 2 (plans/0002_note.yaml)",
            "#1 ALTER TABLE orders ADD COLUMN note text",
            "additive · pg/add-column/nullable",
            "runs instead: ALTER TABLE `users` DROP COLUMN legacy",
            "── schema at 1 ──",
            "Expand",
            "+ v2/expand/add-column/orders.note/add-column",
            r#"ALTER TABLE "orders" ADD COLUMN "note" text"#,
            "── schema at 2.expand ──",
            "Migrate",
            r#"UPDATE "orders" SET "note" = '' WHERE "id" > $1 AND "id" <= $2 AND ("note" IS NULL)"#,
            "in batches of 5000 rows",
            "── schema at 2.migrate ──",
            "Rollout",
            "~ v2/rollout/api/1",
            "nodes: api-1, api-2 (group api, batch 1 of 2)",
            "~ v2/rollout/api/2",
            "Gates",
            r#"SELECT COUNT(*) FROM "orders" WHERE "note" IS NULL"#,
            "Contract",
            "- v2/contract/drop-column/users.legacy/drop-column",
            "── schema at 2 ──",
            "Fleet proof",
            "✓ api 1.4.0 (supports 1 ..= 2.migrate) meets 1, 2.expand, 2.migrate",
            "Warning: something to know",
            "Plan: 1 expand, 1 migrate, 3 nodes, 1 gate, 1 contract.",
        ];
        let positions: Vec<usize> = sequence.iter().map(|s| at(s)).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "out of order:\n{out}"
        );
        assert!(out.ends_with("Plan: 1 expand, 1 migrate, 3 nodes, 1 gate, 1 contract.\n"));
        assert!(
            !out.contains("v2/expanded"),
            "milestones are not listed as tasks:\n{out}"
        );
    }

    #[test]
    fn nothing_to_do() {
        let out = text(&[fixture::up_to_date()], &TextOptions { color: true });
        assert_eq!(out, "No changes. The database is up to date.\n");
        let mixed = text(
            &[fixture::plan(), fixture::up_to_date()],
            &TextOptions { color: false },
        );
        assert!(mixed.contains("Plan set plans/billing (sqlite)\n  from schema 3 (an empty database)\n  No changes: the database is at 3.\n"));
    }
}
