//! The serde model of plan files and of `releases.yaml`.
//!
//! Every struct denies unknown keys: a misspelt key is an error with its
//! line, never silently ignored.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_saphyr::Spanned;

use crate::dialect::EngineKind;

/// The phases an action belongs to, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Expand,
    Migrate,
    Contract,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Migrate => "migrate",
            Phase::Contract => "contract",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One plan file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub version: Spanned<u32>,
    pub engine: Spanned<EngineKind>,
    #[serde(default)]
    pub description: String,
    /// Move dropped tables to the trash schema instead of dropping them.
    #[serde(default)]
    pub soft_drop: bool,
    #[serde(default)]
    pub changes: Vec<Spanned<ChangeEntry>>,
    #[serde(default)]
    pub backfills: Vec<Spanned<BackfillEntry>>,
    #[serde(default)]
    pub fleet: Vec<Spanned<FleetGroupEntry>>,
    /// Commands run around the whole rollout of `fleet`.
    pub hooks: Option<Spanned<HooksEntry>>,
}

/// A change: a plain SQL string, or a map for the options.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeEntry {
    /// A statement the planner parses and classifies.
    Sql {
        sql: String,
        /// Run this change's contract actions in the contract of that later
        /// version instead of this plan's (the N → N+2 policy).
        contract_in: Option<u32>,
        soft_drop: Option<bool>,
        /// For `DROP COLUMN`: the default the column takes from expand
        /// until contract drops it, so releases that no longer write it can
        /// insert and those that still read it see a value.
        fill: Option<String>,
    },
    /// The escape hatch: SQL the planner does not interpret.
    Raw {
        id: Option<String>,
        sql: String,
        phase: super::Phase,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeMap {
    sql: Option<String>,
    raw: Option<String>,
    phase: Option<Phase>,
    id: Option<String>,
    contract_in: Option<u32>,
    soft_drop: Option<bool>,
    fill: Option<String>,
}

impl<'de> Deserialize<'de> for ChangeEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChangeVisitor;
        impl<'de> Visitor<'de> for ChangeVisitor {
            type Value = ChangeEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a SQL statement, or a map with `sql:` (and optionally `contract_in:`, \
                     `soft_drop:`, `fill:`) or `raw:` with `phase:`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChangeEntry, E> {
                Ok(ChangeEntry::Sql {
                    sql: v.to_string(),
                    contract_in: None,
                    soft_drop: None,
                    fill: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ChangeEntry, A::Error> {
                let m = ChangeMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (m.sql, m.raw) {
                    (Some(sql), None) => {
                        if m.phase.is_some() || m.id.is_some() {
                            return Err(de::Error::custom(
                                "`phase:` and `id:` belong to `raw:` changes; a `sql:` change is \
                                 classified by the planner, which picks its phases",
                            ));
                        }
                        Ok(ChangeEntry::Sql {
                            sql,
                            contract_in: m.contract_in,
                            soft_drop: m.soft_drop,
                            fill: m.fill,
                        })
                    }
                    (None, Some(sql)) => {
                        let phase = m.phase.ok_or_else(|| {
                            de::Error::custom(
                                "a `raw:` change needs `phase: expand|migrate|contract`: the \
                                 planner does not interpret raw SQL, so you say when it is safe",
                            )
                        })?;
                        if m.contract_in.is_some() {
                            return Err(de::Error::custom(
                                "`contract_in:` does not apply to `raw:` changes: give the raw \
                                 change `phase: contract` in the later plan instead",
                            ));
                        }
                        if m.fill.is_some() {
                            return Err(de::Error::custom(
                                "`fill:` does not apply to `raw:` changes: it belongs to a \
                                 `sql:` change that drops a column",
                            ));
                        }
                        Ok(ChangeEntry::Raw { id: m.id, sql, phase })
                    }
                    (Some(_), Some(_)) => Err(de::Error::custom(
                        "a change has either `sql:` (classified) or `raw:` (escape hatch), not both",
                    )),
                    (None, None) => Err(de::Error::custom("a change needs `sql:` or `raw:`")),
                }
            }
        }
        deserializer.deserialize_any(ChangeVisitor)
    }
}

/// A data migration in the migrate phase.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillEntry {
    pub table: String,
    /// The `SET` clause, e.g. `note = ''`.
    pub set: String,
    /// Rows that still need it, e.g. `note IS NULL`. The backfill is done
    /// when none match; this is also the gate before contract.
    #[serde(rename = "where")]
    pub pending: String,
    pub batch_size: Option<u32>,
    /// Pause between batches, e.g. `50ms`.
    pub pause: Option<String>,
}

/// `release: {from, to}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseChange {
    pub from: String,
    pub to: String,
}

/// `max_unavailable: 1` or `max_unavailable: 25%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MaxUnavailable {
    Count(u32),
    Percent(u32),
}

impl<'de> Deserialize<'de> for MaxUnavailable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MaxUnavailable;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count of nodes (e.g. `1`) or a percentage (e.g. `25%`)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MaxUnavailable, E> {
                match u32::try_from(v) {
                    Ok(n) if n > 0 => Ok(MaxUnavailable::Count(n)),
                    _ => Err(E::custom("max_unavailable must be at least 1")),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MaxUnavailable, E> {
                if v < 1 {
                    return Err(E::custom("max_unavailable must be at least 1"));
                }
                self.visit_u64(v as u64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaxUnavailable, E> {
                let pct = v
                    .trim()
                    .strip_suffix('%')
                    .and_then(|n| n.trim().parse::<u32>().ok())
                    .ok_or_else(|| {
                        E::custom(format!(
                            "`{v}` is neither a count nor a percentage like `25%`"
                        ))
                    })?;
                if pct == 0 || pct > 100 {
                    return Err(E::custom(
                        "a max_unavailable percentage must be between 1% and 100%",
                    ));
                }
                Ok(MaxUnavailable::Percent(pct))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl MaxUnavailable {
    /// Nodes per batch for a group of `nodes` nodes (at least one).
    pub fn batch_size(self, nodes: usize) -> usize {
        match self {
            MaxUnavailable::Count(n) => n as usize,
            MaxUnavailable::Percent(p) => (nodes * p as usize / 100).max(1),
        }
    }
}

/// A group of application nodes rolled together.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetGroupEntry {
    pub group: String,
    pub nodes: Vec<String>,
    pub release: ReleaseChange,
    #[serde(default = "one_unavailable")]
    pub max_unavailable: MaxUnavailable,
    /// Groups that must be fully rolled before this one starts.
    #[serde(default)]
    pub after: Vec<String>,
    #[serde(default)]
    pub drain: Vec<String>,
    pub upgrade: Vec<String>,
    pub health: Vec<String>,
    #[serde(default)]
    pub rollback: Vec<String>,
    /// Per step, e.g. `120s`, `2m`.
    pub timeout: Option<String>,
    /// Pause between health attempts, e.g. `1s`.
    pub health_interval: Option<String>,
    /// How long health must pass without a failure before a node counts
    /// as healthy, e.g. `3s`.
    pub min_healthy: Option<String>,
    /// How long a node has to become healthy (for `min_healthy`) after its
    /// upgrade before it is rolled back, e.g. `60s`.
    pub health_deadline: Option<String>,
    /// Commands run before the group's first batch and after its last.
    pub hooks: Option<HooksEntry>,
}

/// `hooks: {before: [argv], after: [argv], timeout: 2m}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksEntry {
    pub before: Option<Vec<String>>,
    pub after: Option<Vec<String>>,
    /// Per hook; the group's `timeout` (or the default step timeout) when absent.
    pub timeout: Option<String>,
}

fn one_unavailable() -> MaxUnavailable {
    MaxUnavailable::Count(1)
}

/// `releases.yaml`: release → the schema points it supports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasesFile {
    pub releases: BTreeMap<String, Spanned<String>>,
}
