//! Plan files and `releases.yaml`: loading, validation with source
//! locations, and the discovery of plan sets on disk.
//!
//! A *plan set* is one directory of plan files (`0002_full_name.yaml`, …)
//! with its `releases.yaml`, and the `schemas/` folder that holds the schema
//! it starts from. `zerodown plan plans/` reads one set, or one set per
//! sub-directory when `plans/` holds no plan file itself.

mod model;
pub mod point;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use model::{
    BackfillEntry, ChangeEntry, FleetGroupEntry, MaxUnavailable, Phase, ReleaseChange,
};
pub use point::{ReleaseRange, SchemaPoint, Stage};

use crate::diagnostic::{from_yaml, Diagnostic, Diagnostics};
use crate::dialect::EngineKind;

/// The name of the project file that maps releases to schema ranges.
pub const RELEASES_FILE: &str = "releases.yaml";

/// Default batch size of a backfill.
pub const DEFAULT_BATCH_SIZE: u32 = 5000;

/// Default timeout of one fleet step.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Where a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub line: u64,
    pub column: u64,
}

impl<T> From<&serde_saphyr::Spanned<T>> for Span {
    fn from(s: &serde_saphyr::Spanned<T>) -> Self {
        Span {
            line: s.referenced.line(),
            column: s.referenced.column(),
        }
    }
}

/// A change of a loaded plan.
#[derive(Clone, Debug)]
pub struct Change {
    /// 1-based, as users count.
    pub index: usize,
    pub span: Span,
    pub entry: ChangeEntry,
}

/// A backfill of a loaded plan.
#[derive(Clone, Debug)]
pub struct Backfill {
    pub index: usize,
    pub span: Span,
    pub table: String,
    pub set: String,
    pub pending: String,
    pub batch_size: u32,
    pub pause: Duration,
}

/// A fleet group of a loaded plan.
#[derive(Clone, Debug)]
pub struct FleetGroup {
    pub span: Span,
    pub name: String,
    pub nodes: Vec<String>,
    pub from_release: String,
    pub to_release: String,
    pub max_unavailable: MaxUnavailable,
    pub after: Vec<String>,
    pub drain: Vec<String>,
    pub upgrade: Vec<String>,
    pub health: Vec<String>,
    pub rollback: Vec<String>,
    pub timeout: Duration,
}

/// One plan file, loaded and validated on its own.
#[derive(Clone, Debug)]
pub struct Plan {
    pub path: PathBuf,
    /// The file's text, for diagnostics that quote it.
    pub source: String,
    /// SHA-256 of the file's bytes: `resume` refuses a plan that changed.
    pub hash: String,
    pub version: u32,
    pub engine: EngineKind,
    pub description: String,
    pub soft_drop: bool,
    pub changes: Vec<Change>,
    pub backfills: Vec<Backfill>,
    pub fleet: Vec<FleetGroup>,
}

impl Plan {
    /// A diagnostic pointing into this plan.
    pub fn diag(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.path, message)
            .at(span.line, span.column)
            .with_source(&self.source)
    }
}

/// `releases.yaml`, loaded.
#[derive(Clone, Debug, Default)]
pub struct Releases {
    pub path: PathBuf,
    pub ranges: BTreeMap<String, (ReleaseRange, Span)>,
}

/// A directory of plans, the schema they start from, and their releases.
#[derive(Clone, Debug)]
pub struct PlanSet {
    pub dir: PathBuf,
    /// Every plan of the directory, in version order.
    pub plans: Vec<Plan>,
    pub releases: Option<Releases>,
    /// The folder with `NNNN.sql` schema snapshots, if one exists.
    pub schema_dir: Option<PathBuf>,
    /// When the user named plan files, the versions they named; otherwise
    /// every pending plan is selected.
    pub selected: Option<BTreeSet<u32>>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. `500ms`, `30s` or `2m`"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The version a file name announces (`0002_full_name.yaml` → 2), if any.
pub fn version_in_file_name(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Load and validate one plan file on its own (its changes are parsed by
/// the planner, which needs the schema).
pub fn load_plan(path: &Path) -> Result<Plan, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::new(path, format!("cannot read the plan: {e}"))
            .help("check the path; `zerodown plan DIR` reads every plan of a directory")
    })?;
    let source = String::from_utf8(bytes.clone())
        .map_err(|_| Diagnostic::new(path, "the plan is not valid UTF-8"))?;
    let options = serde_saphyr::options! { strict_booleans: true };
    let file: model::PlanFile = serde_saphyr::from_str_with_options(&source, options)
        .map_err(|e| from_yaml(path, &source, &e))?;

    let mut plan = Plan {
        path: path.to_path_buf(),
        hash: sha256_hex(&bytes),
        version: file.version.value,
        engine: file.engine.value,
        description: file.description,
        soft_drop: file.soft_drop,
        changes: Vec::new(),
        backfills: Vec::new(),
        fleet: Vec::new(),
        source,
    };
    let mut errors = Vec::new();

    let version_span = Span::from(&file.version);
    if plan.version == 0 {
        errors.push(plan.diag(version_span, "version must be at least 1").help(
            "the version is the schema version this plan brings the database to; the schema \
             before the first plan is version 0 (or the newest file in schemas/)",
        ));
    }
    if let Some(named) = version_in_file_name(path) {
        if named != plan.version {
            errors.push(
                plan.diag(
                    version_span,
                    format!(
                        "the file name says version {named}, the plan says {}",
                        plan.version
                    ),
                )
                .help("rename the file or fix `version:` so that both agree"),
            );
        }
    }

    if file.changes.is_empty() && file.backfills.is_empty() && file.fleet.is_empty() {
        errors.push(
            Diagnostic::new(
                path,
                "the plan has no changes, backfills or fleet: nothing to do",
            )
            .help("add at least one entry under `changes:`"),
        );
    }

    let mut contract_targets = Vec::new();
    for (i, c) in file.changes.iter().enumerate() {
        let span = Span::from(c);
        if let ChangeEntry::Sql {
            contract_in: Some(target),
            ..
        } = &c.value
        {
            contract_targets.push((i + 1, span, *target));
        }
        plan.changes.push(Change {
            index: i + 1,
            span,
            entry: c.value.clone(),
        });
    }
    for (index, span, target) in contract_targets {
        if target <= plan.version {
            errors.push(
                plan.diag(span, format!("contract_in: {target} is not later than this plan's version {}", plan.version))
                    .change(index)
                    .help("`contract_in` defers the contract to a later plan: name a version above this one"),
            );
        }
    }

    for (i, b) in file.backfills.iter().enumerate() {
        let span = Span::from(b);
        let entry = &b.value;
        let pause = match entry.pause.as_deref().map(parse_duration).transpose() {
            Ok(p) => p.unwrap_or(Duration::ZERO),
            Err(msg) => {
                errors.push(plan.diag(span, format!("backfill #{}: {msg}", i + 1)));
                Duration::ZERO
            }
        };
        let batch_size = entry.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 {
            errors.push(plan.diag(
                span,
                format!("backfill #{}: batch_size must be at least 1", i + 1),
            ));
        }
        for (what, text) in [
            ("set", &entry.set),
            ("where", &entry.pending),
            ("table", &entry.table),
        ] {
            if text.trim().is_empty() {
                errors.push(plan.diag(span, format!("backfill #{}: `{what}` is empty", i + 1)));
            }
        }
        plan.backfills.push(Backfill {
            index: i + 1,
            span,
            table: entry.table.clone(),
            set: entry.set.clone(),
            pending: entry.pending.clone(),
            batch_size,
            pause,
        });
    }

    let mut seen_groups = BTreeSet::new();
    let mut seen_nodes: BTreeMap<String, String> = BTreeMap::new();
    for g in &file.fleet {
        let span = Span::from(g);
        let e = &g.value;
        if !seen_groups.insert(e.group.clone()) {
            errors.push(
                plan.diag(span, format!("fleet group `{}` is declared twice", e.group))
                    .help("give each group a unique name"),
            );
        }
        if e.nodes.is_empty() {
            errors.push(plan.diag(span, format!("fleet group `{}` has no nodes", e.group)));
        }
        for node in &e.nodes {
            if let Some(other) = seen_nodes.insert(node.clone(), e.group.clone()) {
                errors.push(
                    plan.diag(
                        span,
                        format!("node `{node}` is in groups `{other}` and `{}`", e.group),
                    )
                    .help("a node runs one release at a time: list it in one group"),
                );
            }
        }
        if e.release.from == e.release.to {
            errors.push(plan.diag(
                span,
                format!(
                    "fleet group `{}` rolls from {} to the same release",
                    e.group, e.release.from
                ),
            ));
        }
        for (step, argv) in [("upgrade", &e.upgrade), ("health", &e.health)] {
            if argv.is_empty() {
                errors.push(
                    plan.diag(span, format!("fleet group `{}`: `{step}` is empty", e.group))
                        .help("steps are argv arrays, e.g. [\"./deploy/upgrade.sh\", \"{node}\", \"{release}\"]"),
                );
            }
        }
        let timeout = match e.timeout.as_deref().map(parse_duration).transpose() {
            Ok(t) => t.unwrap_or(DEFAULT_STEP_TIMEOUT),
            Err(msg) => {
                errors.push(plan.diag(span, format!("fleet group `{}`: timeout: {msg}", e.group)));
                DEFAULT_STEP_TIMEOUT
            }
        };
        plan.fleet.push(FleetGroup {
            span,
            name: e.group.clone(),
            nodes: e.nodes.clone(),
            from_release: e.release.from.clone(),
            to_release: e.release.to.clone(),
            max_unavailable: e.max_unavailable,
            after: e.after.clone(),
            drain: e.drain.clone(),
            upgrade: e.upgrade.clone(),
            health: e.health.clone(),
            rollback: e.rollback.clone(),
            timeout,
        });
    }
    for g in &plan.fleet {
        for dep in &g.after {
            if !seen_groups.contains(dep) {
                errors.push(
                    plan.diag(g.span, format!("fleet group `{}` runs after `{dep}`, which is not a group of this plan", g.name))
                        .help(format!("known groups: {}", seen_groups.iter().cloned().collect::<Vec<_>>().join(", "))),
                );
            }
        }
    }

    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(Diagnostics(errors))
    }
}

/// Load `releases.yaml`.
pub fn load_releases(path: &Path) -> Result<Releases, Diagnostics> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::new(path, format!("cannot read the releases file: {e}")))?;
    let options = serde_saphyr::options! { strict_booleans: true };
    let file: model::ReleasesFile = serde_saphyr::from_str_with_options(&source, options)
        .map_err(|e| from_yaml(path, &source, &e))?;
    let mut ranges = BTreeMap::new();
    let mut errors = Vec::new();
    for (release, range) in file.releases {
        let span = Span::from(&range);
        match range.value.parse::<ReleaseRange>() {
            Ok(r) => {
                ranges.insert(release, (r, span));
            }
            Err(msg) => errors.push(
                Diagnostic::new(path, format!("release {release}: {msg}"))
                    .at(span.line, span.column)
                    .with_source(&source)
                    .help("a range reads `FIRST ..= LAST` with points like `2`, `2.expand`, `2.migrate`, or `FIRST ..` when open"),
            ),
        }
    }
    if errors.is_empty() {
        Ok(Releases {
            path: path.to_path_buf(),
            ranges,
        })
    } else {
        Err(Diagnostics(errors))
    }
}

fn is_plan_file(path: &Path) -> bool {
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    is_yaml && name != RELEASES_FILE && name != "releases.yml"
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Box::new(Diagnostic::new(
            dir,
            format!("cannot read the directory: {e}"),
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    Ok(paths)
}

/// The schema folder of a plan directory: the same path with its `plans`
/// component replaced by `schemas` (`plans/shop` → `schemas/shop`), else a
/// `schemas/` inside or beside the directory.
pub fn schema_dir_for(dir: &Path) -> Option<PathBuf> {
    let components: Vec<Component> = dir.components().collect();
    if let Some(pos) = components.iter().rposition(|c| c.as_os_str() == "plans") {
        let mut p = PathBuf::new();
        for (i, c) in components.iter().enumerate() {
            if i == pos {
                p.push("schemas");
            } else {
                p.push(c.as_os_str());
            }
        }
        if p.is_dir() {
            return Some(p);
        }
    }
    [dir.join("schemas"), dir.join("..").join("schemas")]
        .into_iter()
        .find(|p| p.is_dir())
}

/// Load one directory as a plan set.
fn load_set(dir: &Path, selected: Option<BTreeSet<u32>>) -> Result<PlanSet, Diagnostics> {
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for path in read_dir_sorted(dir).map_err(|d| Diagnostics(vec![*d]))? {
        if path.is_file() && is_plan_file(&path) {
            match load_plan(&path) {
                Ok(p) => plans.push(p),
                Err(d) => errors.extend(d.0),
            }
        }
    }
    plans.sort_by_key(|p| p.version);
    for pair in plans.windows(2) {
        if pair[0].version == pair[1].version {
            errors.push(
                Diagnostic::new(
                    &pair[1].path,
                    format!(
                        "version {} is also the version of {}",
                        pair[1].version,
                        pair[0].path.display()
                    ),
                )
                .help("each plan brings the schema to its own version: renumber one of them"),
            );
        }
        if pair[0].engine != pair[1].engine {
            errors.push(
                Diagnostic::new(&pair[1].path, format!("engine {} differs from {} in {}", pair[1].engine, pair[0].engine, pair[0].path.display()))
                    .help("a directory of plans targets one database; put plans for another engine in their own directory"),
            );
        }
    }
    let releases_path = dir.join(RELEASES_FILE);
    let releases = if releases_path.is_file() {
        match load_releases(&releases_path) {
            Ok(r) => Some(r),
            Err(d) => {
                errors.extend(d.0);
                None
            }
        }
    } else {
        None
    };
    if let Some(sel) = &selected {
        for v in sel {
            if !plans.iter().any(|p| p.version == *v) {
                errors.push(Diagnostic::new(
                    dir,
                    format!("no plan with version {v} in this directory"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(PlanSet {
            dir: dir.to_path_buf(),
            plans,
            releases,
            schema_dir: schema_dir_for(dir),
            selected,
        })
    } else {
        Err(Diagnostics(errors))
    }
}

/// Find the plan sets the user named: plan files (grouped by directory), a
/// directory of plans, or a directory whose sub-directories hold plans.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PlanSet>, Diagnostics> {
    let mut sets: Vec<PlanSet> = Vec::new();
    let mut errors = Vec::new();
    let mut files_by_dir: BTreeMap<PathBuf, BTreeSet<u32>> = BTreeMap::new();
    for path in paths {
        if path.is_file() {
            match load_plan(path) {
                Ok(p) => {
                    let dir = path
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| PathBuf::from("."));
                    let dir = if dir.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        dir
                    };
                    files_by_dir.entry(dir).or_default().insert(p.version);
                }
                Err(d) => errors.extend(d.0),
            }
        } else if path.is_dir() {
            let children = match read_dir_sorted(path) {
                Ok(c) => c,
                Err(d) => {
                    errors.push(*d);
                    continue;
                }
            };
            if children.iter().any(|c| c.is_file() && is_plan_file(c)) {
                match load_set(path, None) {
                    Ok(s) => sets.push(s),
                    Err(d) => errors.extend(d.0),
                }
            } else {
                let mut found = false;
                for child in children.iter().filter(|c| c.is_dir()) {
                    let has_plans = read_dir_sorted(child)
                        .map(|cs| cs.iter().any(|c| c.is_file() && is_plan_file(c)))
                        .unwrap_or(false);
                    if has_plans {
                        found = true;
                        match load_set(child, None) {
                            Ok(s) => sets.push(s),
                            Err(d) => errors.extend(d.0),
                        }
                    }
                }
                if !found {
                    errors.push(
                        Diagnostic::new(path, "no plan files here (NNNN_name.yaml), nor in its sub-directories")
                            .help("point zerodown at a plan file or at the directory that holds the plans"),
                    );
                }
            }
        } else {
            errors.push(Diagnostic::new(path, "no such file or directory"));
        }
    }
    for (dir, versions) in files_by_dir {
        match load_set(&dir, Some(versions)) {
            Ok(s) => sets.push(s),
            Err(d) => errors.extend(d.0),
        }
    }
    if errors.is_empty() {
        Ok(sets)
    } else {
        Err(Diagnostics(errors))
    }
}
