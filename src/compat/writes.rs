//! The write half of the proof: every release can insert, naming only the
//! columns it knows, at every schema point its range claims.
//!
//! A release knows the columns of the schema it was built for: the version
//! at the top of a closed range (`0 ..= 1.migrate` was built for 0, the
//! version whose upgrade it still serves; `1 ..= 2` for 2), the version its
//! range starts in when open (`1.expand ..` was built for 1). At a point it
//! may meet, a column it does not know must take a value without it: be
//! nullable, have a default, or be on its way out (the old column of a
//! rename, kept in step by sync triggers; a dropped column, which its
//! version's expand makes writable: `Column::until_dropped`).
//!
//! The planner gives the schema at each point (`during` builds the one of
//! a version's expand and migrate); `check` finds what each release cannot
//! write (a refusal) and what it meets that it was not built for (shown in
//! the plan, for a reviewer to weigh).

use serde::Serialize;

use crate::plan::{ReleaseRange, Releases, SchemaPoint, Stage};
use crate::schema::{Column, Schema, UntilDropped};

/// The schema as a writer meets it at one point.
#[derive(Clone, Debug)]
pub struct PointSchema {
    pub point: SchemaPoint,
    pub schema: Schema,
    /// Columns kept writable for their drop at this point.
    pub relaxed: Vec<Relaxed>,
}

/// A dropped column made writable by releases that no longer write it,
/// from its version's expand until the contract that drops it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relaxed {
    pub table: String,
    pub column: String,
    pub how: UntilDropped,
}

/// What the write check found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Writes {
    /// Columns a release cannot leave out where it may run: the plan is
    /// refused.
    pub conflicts: Vec<Finding>,
    /// What releases meet that they were not built for, and can live with.
    pub meetings: Vec<Finding>,
}

/// One release, one table, one thing, at the points where it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub release: String,
    pub range: ReleaseRange,
    /// The version whose schema the release knows.
    pub built_for: u32,
    pub table: String,
    #[serde(flatten)]
    pub what: Meets,
    pub points: Vec<SchemaPoint>,
}

/// What a release meets in a table it knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Meets {
    /// A column it does not write that is NOT NULL without a default: its
    /// inserts fail.
    CannotLeaveOut { column: String },
    /// A column it does not write, which takes `gets` without it.
    LeavesOut { column: String, gets: String },
    /// A column it reads, which releases that no longer write it leave
    /// NULL (or `fill`) until contract drops it.
    ReadsRelaxed { column: String, how: UntilDropped },
    /// A constraint it was not built for, which checks its writes.
    NewConstraint { constraint: String },
    /// A column it writes, of another type than it was built for.
    OtherType {
        column: String,
        built_for_type: String,
        here: String,
    },
    /// A column it was built to write NULL into, NOT NULL here.
    NotNullHere { column: String },
}

/// The version a release was built for (see the module comment).
pub fn built_for(range: &ReleaseRange) -> u32 {
    match range.end {
        Some(end) if end.stage == Stage::Complete => end.version,
        Some(end) => end
            .version
            .saturating_sub(1)
            .max(range.start.version.min(end.version)),
        None => range.start.version,
    }
}

/// A column a version drops or renames away, as writers meet it from the
/// version's expand until its contract: as it was just before the change,
/// relaxed for its drop (`Column::until_dropped`), or marked `drop_at`
/// when sync triggers fill it (a rename's old name).
#[derive(Clone, Debug)]
pub struct Leaving {
    pub table: String,
    pub column: Column,
}

/// The schema writers meet from a version's expand to its contract, given
/// the schema `before` it and `after` its contract, the columns it drops
/// or renames away, and the `(table, column)` whose type changes through a
/// twin column swapped in at contract (they keep the old type until then).
/// Everything of both schemas is there. A column of both takes a value
/// where either schema gives it one (NOT NULL and default changes wait for
/// contract or are catalog-only in expand); a
/// column only in `before` is as `leaving` says, else as it was; a column
/// only in `after` is added nullable or with its constant default until
/// contract enforces more, or is a rename's new name, filled by the sync
/// triggers.
pub fn during(
    before: &Schema,
    after: &Schema,
    leaving: &[Leaving],
    swapped_at_contract: &[(String, String)],
    version: u32,
) -> Schema {
    let mut mid = after.clone();
    for (name, old) in before.tables.iter() {
        let Some(mut table) = mid.tables.get_mut(name) else {
            let mut kept = old.clone();
            kept.drop_at.get_or_insert(version);
            mid.tables.insert(name.clone(), kept);
            continue;
        };
        for old_col in &old.columns {
            match table.column_mut(&old_col.name) {
                Some(col) => {
                    let swapped = (name.clone(), col.name.clone());
                    if swapped_at_contract.contains(&swapped) {
                        col.data_type = old_col.data_type.clone();
                    }
                    col.nullable |= old_col.nullable;
                    if col.default.is_none() {
                        col.default = old_col.default.clone();
                    }
                }
                None => table.columns.push(
                    leaving
                        .iter()
                        .find(|l| l.table == *name && l.column.name == old_col.name)
                        .map_or_else(|| old_col.clone(), |l| l.column.clone()),
                ),
            }
        }
        for col in table.columns.iter_mut() {
            if old.column(&col.name).is_none() {
                col.nullable = true;
            }
        }
    }
    mid
}

/// Every release of `releases` against the point schemas of a run.
/// Releases built for a version outside the run are checked with the
/// nearest complete schema the run has.
pub fn check(points: &[PointSchema], releases: &Releases) -> Writes {
    let mut writes = Writes::default();
    for (release, (range, _)) in &releases.ranges {
        let version = built_for(range);
        let Some(known) = known_schema(points, version) else {
            continue;
        };
        for at in points.iter().filter(|p| range.contains(p.point)) {
            for (table, what) in meets(known, at) {
                let list = match what {
                    Meets::CannotLeaveOut { .. } => &mut writes.conflicts,
                    _ => &mut writes.meetings,
                };
                match list
                    .iter_mut()
                    .find(|f| f.release == *release && f.table == table && f.what == what)
                {
                    Some(f) => f.points.push(at.point),
                    None => list.push(Finding {
                        release: release.clone(),
                        range: *range,
                        built_for: version,
                        table,
                        what,
                        points: vec![at.point],
                    }),
                }
            }
        }
    }
    writes
}

/// The complete schema of `version`, or the nearest one the run has.
fn known_schema(points: &[PointSchema], version: u32) -> Option<&Schema> {
    let complete = || points.iter().filter(|p| p.point.stage == Stage::Complete);
    complete()
        .find(|p| p.point.version == version)
        .or_else(|| match complete().next() {
            Some(first) if version < first.point.version => Some(first),
            _ => complete().next_back(),
        })
        .map(|p| &p.schema)
}

/// What an insert or read knowing only `known` meets at `at`, by table.
fn meets(known: &Schema, at: &PointSchema) -> Vec<(String, Meets)> {
    let mut out = Vec::new();
    for (name, table) in at.schema.tables.iter() {
        let Some(known_table) = known.table(name) else {
            continue; // a table the release does not know, it does not use
        };
        for column in &table.columns {
            let column_name = column.name.clone();
            if let Some(known_col) = known_table.column(&column.name) {
                if !known_col.data_type.eq_ignore_ascii_case(&column.data_type) {
                    out.push((
                        name.clone(),
                        Meets::OtherType {
                            column: column_name.clone(),
                            built_for_type: known_col.data_type.clone(),
                            here: column.data_type.clone(),
                        },
                    ));
                }
                if known_col.nullable && !column.nullable {
                    let column = column_name.clone();
                    out.push((name.clone(), Meets::NotNullHere { column }));
                }
                if let Some(r) = at
                    .relaxed
                    .iter()
                    .find(|r| r.table == *name && r.column == column.name)
                {
                    let how = r.how.clone();
                    out.push((
                        name.clone(),
                        Meets::ReadsRelaxed {
                            column: column_name,
                            how,
                        },
                    ));
                }
                continue;
            }
            let what = match (&column.default, column.can_be_left_out()) {
                (_, false) => Meets::CannotLeaveOut {
                    column: column_name,
                },
                (Some(d), true) => Meets::LeavesOut {
                    column: column_name,
                    gets: format!("its default {d}"),
                },
                (None, true) if column.nullable => Meets::LeavesOut {
                    column: column_name,
                    gets: "NULL".to_string(),
                },
                (None, true) => Meets::LeavesOut {
                    column: column_name,
                    gets: "a value from zerodown's sync trigger, until contract".to_string(),
                },
            };
            out.push((name.clone(), what));
        }
        for constraint in table.constraints.keys() {
            if !known_table.constraints.contains_key(constraint) {
                out.push((
                    name.clone(),
                    Meets::NewConstraint {
                        constraint: constraint.clone(),
                    },
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Table;

    fn range(s: &str) -> ReleaseRange {
        s.parse().unwrap()
    }

    fn column(name: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            data_type: "int".into(),
            nullable,
            default: None,
            drop_at: None,
        }
    }

    fn schema(version: u32, columns: Vec<Column>) -> Schema {
        let mut t = Table::new("t");
        t.columns = columns;
        let mut s = Schema {
            version,
            ..Schema::default()
        };
        s.tables.insert("t".into(), t);
        s
    }

    #[test]
    fn a_release_is_built_for_the_version_its_range_serves_last_or_starts_in() {
        assert_eq!(built_for(&range("0 ..= 1.migrate")), 0);
        assert_eq!(built_for(&range("1 ..= 2.expand")), 1);
        assert_eq!(built_for(&range("1 ..= 2")), 2);
        assert_eq!(built_for(&range("1.expand ..")), 1);
        assert_eq!(built_for(&range("2.migrate ..")), 2);
        assert_eq!(built_for(&range("2.migrate ..= 2.migrate")), 2);
    }

    /// The point schemas of `t (id, a NOT NULL)` → `t (id)`, with `a`
    /// relaxed (or not) during the version.
    fn drop_a(relaxed: &[Relaxed]) -> Vec<PointSchema> {
        let before = schema(0, vec![column("id", false), column("a", false)]);
        let after = schema(1, vec![column("id", false)]);
        let mut a = column("a", false);
        relaxed.iter().for_each(|r| a.relax(&r.how));
        let leaving = [Leaving {
            table: "t".into(),
            column: a,
        }];
        let mid = during(&before, &after, &leaving, &[], 1);
        let at = |point, schema: &Schema, relaxed: &[Relaxed]| PointSchema {
            point,
            schema: schema.clone(),
            relaxed: relaxed.to_vec(),
        };
        vec![
            at(SchemaPoint::complete(0), &before, &[]),
            at(SchemaPoint::expand(1), &mid, relaxed),
            at(SchemaPoint::migrate(1), &mid, relaxed),
            at(SchemaPoint::complete(1), &after, &[]),
        ]
    }

    fn releases(ranges: &[(&str, &str)]) -> Releases {
        Releases {
            path: "releases.yaml".into(),
            ranges: ranges
                .iter()
                .map(|(r, s)| {
                    (
                        r.to_string(),
                        (range(s), crate::plan::Span { line: 1, column: 1 }),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_dropped_not_null_column_blocks_the_new_release_unless_relaxed() {
        let fleet = releases(&[("1.0", "0 ..= 1.migrate"), ("2.0", "1.expand ..")]);
        let writes = check(&drop_a(&[]), &fleet);
        let conflicts: Vec<_> = writes
            .conflicts
            .iter()
            .map(|f| (f.release.as_str(), f.built_for, f.points.clone()))
            .collect();
        let mid = vec![SchemaPoint::expand(1), SchemaPoint::migrate(1)];
        assert_eq!(conflicts, [("2.0", 1, mid)]);

        let relaxed = [Relaxed {
            table: "t".into(),
            column: "a".into(),
            how: UntilDropped::AllowNull,
        }];
        let writes = check(&drop_a(&relaxed), &fleet);
        assert!(writes.conflicts.is_empty(), "{writes:?}");
        let reads: Vec<_> = writes
            .meetings
            .iter()
            .filter(|f| matches!(f.what, Meets::ReadsRelaxed { .. }))
            .map(|f| (f.release.as_str(), f.points.len()))
            .collect();
        assert_eq!(reads, [("1.0", 2)]);
    }

    #[test]
    fn a_not_null_column_a_release_does_not_know_is_a_conflict_where_it_runs() {
        // Version 1 adds `b NOT NULL` (no default): nullable until its
        // contract enforces it; release 1.0 (built for 0) claims 1 too.
        let before = schema(0, vec![column("id", false)]);
        let after = schema(1, vec![column("id", false), column("b", false)]);
        let mid = during(&before, &after, &[], &[], 1);
        let at = |point, schema: &Schema| PointSchema {
            point,
            schema: schema.clone(),
            relaxed: Vec::new(),
        };
        let points = [
            at(SchemaPoint::complete(0), &before),
            at(SchemaPoint::expand(1), &mid),
            at(SchemaPoint::migrate(1), &mid),
            at(SchemaPoint::complete(1), &after),
        ];
        let writes = check(&points, &releases(&[("1.0", "0 ..= 1.migrate")]));
        assert!(writes.conflicts.is_empty(), "{writes:?}");
        let writes = check(
            &points,
            &releases(&[("0.9", "0 .."), ("1.0", "0 ..= 1.migrate")]),
        );
        assert_eq!(writes.conflicts.len(), 1, "{writes:?}");
        let c = &writes.conflicts[0];
        assert_eq!(
            (c.release.as_str(), c.points.as_slice()),
            ("0.9", &[SchemaPoint::complete(1)][..])
        );
    }

    #[test]
    fn a_type_swapped_in_at_contract_is_the_old_type_until_then() {
        let before = schema(0, vec![column("id", false), column("a", false)]);
        let mut after = before.clone();
        after.version = 1;
        after.tables.column_mut("t", "a").unwrap().data_type = "bigint".into();
        let swapped = [("t".to_string(), "a".to_string())];
        let mid = during(&before, &after, &[], &swapped, 1);
        assert_eq!(mid.column("t", "a").unwrap().data_type, "int");
        let mid = during(&before, &after, &[], &[], 1);
        assert_eq!(mid.column("t", "a").unwrap().data_type, "bigint");
        // A release built for 1 meets the old type at 1.migrate.
        let at = PointSchema {
            point: SchemaPoint::migrate(1),
            schema: during(&before, &after, &[], &swapped, 1),
            relaxed: Vec::new(),
        };
        let found = meets(&after, &at);
        assert!(
            found
                .iter()
                .any(|(_, m)| matches!(m, Meets::OtherType { here, .. } if here == "int")),
            "{found:?}"
        );
    }
}
