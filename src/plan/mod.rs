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
    BackfillEntry, ChangeEntry, FleetGroupEntry, HooksEntry, MaxUnavailable, Phase, ReleaseChange,
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

/// Default pause between health attempts (`health_interval`).
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// Default time health must pass without a failure (`min_healthy`).
pub const DEFAULT_MIN_HEALTHY: Duration = Duration::from_secs(3);

/// Default time a node has to become healthy after its upgrade
/// (`health_deadline`).
pub const DEFAULT_HEALTH_DEADLINE: Duration = Duration::from_secs(60);

/// Placeholders of a node step (`drain`, `upgrade`, `health`, `rollback`).
pub const NODE_PLACEHOLDERS: &[&str] = &["node", "group", "release", "from_release"];

/// Placeholders of a group's hooks.
pub const GROUP_HOOK_PLACEHOLDERS: &[&str] = &["group", "release", "from_release", "version"];

/// Placeholders of the plan's hooks, which run around every group.
pub const PLAN_HOOK_PLACEHOLDERS: &[&str] = &["version"];

/// Each `{name}` of an argument (name: ASCII letters, digits, `_`) with its
/// byte range; other braces are literal text.
fn placeholder_spans(arg: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while let Some(offset) = arg[i..].find('{') {
        let open = i + offset;
        let rest = &arg[open + 1..];
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 && rest.as_bytes().get(len) == Some(&b'}') {
            spans.push((open..open + len + 2, &rest[..len]));
            i = open + len + 2;
        } else {
            i = open + 1;
        }
    }
    spans
}

/// Replace each known `{name}` of `arg` by its value in one pass, so a value
/// that itself contains `{…}` is never substituted again. Unknown names stay
/// as written (the loader refuses them).
pub fn substitute(arg: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut last = 0;
    for (range, name) in placeholder_spans(arg) {
        if let Some((_, value)) = values.iter().find(|(n, _)| *n == name) {
            out.push_str(&arg[last..range.start]);
            out.push_str(value);
            last = range.end;
        }
    }
    out.push_str(&arg[last..]);
    out
}

/// The placeholders of `argv` that are not in `known`.
fn unknown_placeholders<'a>(argv: &'a [String], known: &[&str]) -> Vec<&'a str> {
    let mut unknown: Vec<&str> = argv
        .iter()
        .flat_map(|a| placeholder_spans(a))
        .map(|(_, name)| name)
        .filter(|name| !known.contains(name))
        .collect();
    unknown.dedup();
    unknown
}

fn placeholder_list(known: &[&str]) -> String {
    known
        .iter()
        .map(|k| format!("{{{k}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    pub health_interval: Duration,
    pub min_healthy: Duration,
    pub health_deadline: Duration,
    pub hooks: Hooks,
}

/// Commands run before and after a rollout: the plan's (around every group)
/// or a group's (around its batches).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hooks {
    pub before: Option<Vec<String>>,
    pub after: Option<Vec<String>>,
    pub timeout: Duration,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.before.is_none() && self.after.is_none()
    }
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
    /// The plan's `hooks:`, run around the whole rollout.
    pub hooks: Hooks,
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
        hooks: Hooks::default(),
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
        let mut duration = |key: &str, text: &Option<String>, default: Duration| match text
            .as_deref()
            .map(parse_duration)
            .transpose()
        {
            Ok(d) => d.unwrap_or(default),
            Err(msg) => {
                errors.push(plan.diag(span, format!("fleet group `{}`: {key}: {msg}", e.group)));
                default
            }
        };
        let timeout = duration("timeout", &e.timeout, DEFAULT_STEP_TIMEOUT);
        let health_interval = duration(
            "health_interval",
            &e.health_interval,
            DEFAULT_HEALTH_INTERVAL,
        );
        let min_healthy = duration("min_healthy", &e.min_healthy, DEFAULT_MIN_HEALTHY);
        let health_deadline = duration(
            "health_deadline",
            &e.health_deadline,
            DEFAULT_HEALTH_DEADLINE,
        );
        let hooks_timeout = e
            .hooks
            .as_ref()
            .map(|h| duration("hooks.timeout", &h.timeout, timeout));
        if health_interval.is_zero() {
            errors.push(plan.diag(
                span,
                format!("fleet group `{}`: health_interval must be above 0", e.group),
            ));
        }
        if min_healthy >= health_deadline {
            errors.push(
                plan.diag(
                    span,
                    format!(
                        "fleet group `{}`: min_healthy ({}) is not below health_deadline ({}): no node could ever pass",
                        e.group,
                        humantime::format_duration(min_healthy),
                        humantime::format_duration(health_deadline)
                    ),
                )
                .help("health_deadline is how long a node has, after its upgrade, to pass health for min_healthy in a row"),
            );
        }
        let steps = [
            ("drain", &e.drain),
            ("upgrade", &e.upgrade),
            ("health", &e.health),
            ("rollback", &e.rollback),
        ];
        for (step, argv) in steps {
            for name in unknown_placeholders(argv, NODE_PLACEHOLDERS) {
                errors.push(
                    plan.diag(span, format!("fleet group `{}`: `{step}` uses `{{{name}}}`, which is not a placeholder of a node step", e.group))
                        .help(format!("node steps know {}", placeholder_list(NODE_PLACEHOLDERS))),
                );
            }
        }
        let hooks = match &e.hooks {
            Some(h) => {
                let what = format!("fleet group `{}`: hooks", e.group);
                check_hooks(&plan, span, &what, h, GROUP_HOOK_PLACEHOLDERS, &mut errors);
                Hooks {
                    before: h.before.clone(),
                    after: h.after.clone(),
                    timeout: hooks_timeout.unwrap_or(timeout),
                }
            }
            None => Hooks::default(),
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
            health_interval,
            min_healthy,
            health_deadline,
            hooks,
        });
    }
    if let Some(h) = &file.hooks {
        let span = Span::from(h);
        if file.fleet.is_empty() {
            errors.push(
                plan.diag(
                    span,
                    "`hooks:` run around the fleet rollout, but this plan has no `fleet:`",
                )
                .help("remove `hooks:`, or add the fleet groups they belong to"),
            );
        }
        check_hooks(
            &plan,
            span,
            "hooks",
            &h.value,
            PLAN_HOOK_PLACEHOLDERS,
            &mut errors,
        );
        let timeout = match h.value.timeout.as_deref().map(parse_duration).transpose() {
            Ok(t) => t.unwrap_or(DEFAULT_STEP_TIMEOUT),
            Err(msg) => {
                errors.push(plan.diag(span, format!("hooks: timeout: {msg}")));
                DEFAULT_STEP_TIMEOUT
            }
        };
        plan.hooks = Hooks {
            before: h.value.before.clone(),
            after: h.value.after.clone(),
            timeout,
        };
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

/// Check a `hooks:` map: no empty command, only the placeholders `known`.
fn check_hooks(
    plan: &Plan,
    span: Span,
    what: &str,
    hooks: &HooksEntry,
    known: &[&str],
    errors: &mut Vec<Diagnostic>,
) {
    if hooks.before.is_none() && hooks.after.is_none() {
        errors.push(
            plan.diag(span, format!("{what}: neither `before` nor `after` is given"))
                .help("hooks are argv arrays, e.g. `hooks: {before: [\"./lb.sh\", \"hold\"], after: [\"./lb.sh\", \"release\"]}`"),
        );
    }
    for (when, argv) in [("before", &hooks.before), ("after", &hooks.after)] {
        let Some(argv) = argv else { continue };
        if argv.is_empty() {
            errors.push(
                plan.diag(span, format!("{what}: `{when}` is empty"))
                    .help("a hook is an argv array, e.g. [\"./deploy/rebalance.sh\", \"{group}\"]; leave the key out for no hook"),
            );
        }
        for name in unknown_placeholders(argv, known) {
            errors.push(
                plan.diag(
                    span,
                    format!("{what}: `{when}` uses `{{{name}}}`, which is not a placeholder here"),
                )
                .help(format!("this hook knows {}", placeholder_list(known))),
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Load `text` as a plan file `0002_x.yaml` in a fresh folder.
    fn load(name: &str, text: &str) -> Result<Plan, Diagnostics> {
        let dir = std::env::temp_dir().join(format!("zd-plan-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("0002_x.yaml");
        std::fs::write(&path, text).unwrap();
        let result = load_plan(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    const FLEET: &str = "version: 2
engine: postgres
changes:
  - ALTER TABLE users ADD COLUMN age int
fleet:
  - group: api
    nodes: [api-1, api-2]
    release: {from: \"1\", to: \"2\"}
    upgrade: [./up.sh, \"{node}\", \"{release}\"]
    health: [./health.sh, \"{node}\"]
";

    #[test]
    fn substitution_replaces_known_placeholders_once_and_keeps_other_braces() {
        let values = [("node", "a{release}"), ("release", "2")];
        let cases = [
            ("{node}", "a{release}"),
            ("--to={release}", "--to=2"),
            ("{node}-{release}", "a{release}-2"),
            ("{unknown} {release}", "{unknown} 2"),
            ("{\"json\": {release}}", "{\"json\": 2}"),
            ("{{release}}", "{2}"),
            ("{", "{"),
            ("{release", "{release"),
        ];
        for (arg, want) in cases {
            assert_eq!(substitute(arg, &values), want, "{arg}");
        }
    }

    #[test]
    fn health_timing_has_defaults_and_hooks_are_read() {
        let plan = load("defaults", FLEET).unwrap();
        let g = &plan.fleet[0];
        assert_eq!(
            (g.health_interval, g.min_healthy, g.health_deadline),
            (
                DEFAULT_HEALTH_INTERVAL,
                DEFAULT_MIN_HEALTHY,
                DEFAULT_HEALTH_DEADLINE
            )
        );
        assert!(g.hooks.is_empty() && plan.hooks.is_empty());

        let text = format!(
            "{FLEET}    health_interval: 250ms
    min_healthy: 2s
    health_deadline: 30s
    timeout: 10s
    hooks:
      after: [./rebalance.sh, \"{{group}}\", \"{{release}}\"]
hooks:
  before: [./switch.sh, \"off\", \"{{version}}\"]
  after: [./switch.sh, \"on\"]
  timeout: 5s
"
        );
        let plan = load("hooks", &text).unwrap();
        let g = &plan.fleet[0];
        assert_eq!(
            (g.health_interval, g.min_healthy, g.health_deadline),
            (
                Duration::from_millis(250),
                Duration::from_secs(2),
                Duration::from_secs(30)
            )
        );
        assert_eq!(
            g.hooks,
            Hooks {
                before: None,
                after: Some(vec![
                    "./rebalance.sh".into(),
                    "{group}".into(),
                    "{release}".into()
                ]),
                // A group's hooks default to the group's step timeout.
                timeout: Duration::from_secs(10),
            }
        );
        assert_eq!(
            plan.hooks,
            Hooks {
                before: Some(vec!["./switch.sh".into(), "off".into(), "{version}".into()]),
                after: Some(vec!["./switch.sh".into(), "on".into()]),
                timeout: Duration::from_secs(5),
            }
        );
    }

    #[test]
    fn wrong_hooks_and_health_keys_are_errors_that_say_why() {
        let without_fleet = "version: 2
engine: postgres
changes:
  - ALTER TABLE users ADD COLUMN age int
hooks:
  before: [./switch.sh, \"off\"]
";
        let cases: Vec<(String, &str)> = vec![
            (
                format!("{FLEET}    hooks:\n      befor: [./x.sh]\n"),
                "unknown field `befor`, expected one of before, after, timeout",
            ),
            (
                format!("{FLEET}    hooks:\n      after: [./x.sh, \"{{node}}\"]\n"),
                "fleet group `api`: hooks: `after` uses `{node}`, which is not a placeholder here",
            ),
            (
                format!("{FLEET}hooks:\n  after: [./x.sh, \"{{group}}\"]\n"),
                "hooks: `after` uses `{group}`, which is not a placeholder here",
            ),
            (
                format!("{FLEET}    hooks: {{}}\n"),
                "fleet group `api`: hooks: neither `before` nor `after` is given",
            ),
            (
                format!("{FLEET}hooks:\n  before: []\n"),
                "hooks: `before` is empty",
            ),
            (
                without_fleet.to_string(),
                "`hooks:` run around the fleet rollout, but this plan has no `fleet:`",
            ),
            (
                format!("{FLEET}    min_healthy: 1m\n"),
                "fleet group `api`: min_healthy (1m) is not below health_deadline (1m)",
            ),
            (
                format!("{FLEET}    health_interval: soon\n"),
                "fleet group `api`: health_interval: `soon` is not a duration",
            ),
            (
                format!("{FLEET}    drain: [./drain.sh, \"{{nod}}\"]\n"),
                "fleet group `api`: `drain` uses `{nod}`, which is not a placeholder of a node step",
            ),
        ];
        for (text, want) in cases {
            let err = load("errors", &text).expect_err(want).to_string();
            assert!(err.contains(want), "want {want:?} in:\n{err}");
        }
    }
}
