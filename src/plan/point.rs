//! Schema points (`2`, `2.expand`, `2.migrate`) and release ranges
//! (`1 ..= 2.migrate`).
//!
//! Between version `V-1` and `V` lie, in order: `V.expand` < `V.migrate` < `V`.
//! A point is therefore a version plus a stage, ordered lexicographically.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// Where within a version's upgrade a schema stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Every additive change of the plan is applied.
    Expand,
    /// Backfills are complete and verified.
    Migrate,
    /// Contract is done: the version is complete.
    Complete,
}

/// A point on the schema's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaPoint {
    pub version: u32,
    pub stage: Stage,
}

impl SchemaPoint {
    pub fn complete(version: u32) -> Self {
        SchemaPoint {
            version,
            stage: Stage::Complete,
        }
    }
    pub fn expand(version: u32) -> Self {
        SchemaPoint {
            version,
            stage: Stage::Expand,
        }
    }
    /// The point just before this one on the timeline (`2.migrate` before
    /// `2`, `2.expand` before `2.migrate`, `1` before `2.expand`).
    pub fn previous(self) -> Option<Self> {
        match self.stage {
            Stage::Complete => Some(SchemaPoint::migrate(self.version)),
            Stage::Migrate => Some(SchemaPoint::expand(self.version)),
            Stage::Expand => self.version.checked_sub(1).map(SchemaPoint::complete),
        }
    }

    pub fn migrate(version: u32) -> Self {
        SchemaPoint {
            version,
            stage: Stage::Migrate,
        }
    }
}

impl fmt::Display for SchemaPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            Stage::Complete => write!(f, "{}", self.version),
            Stage::Expand => write!(f, "{}.expand", self.version),
            Stage::Migrate => write!(f, "{}.migrate", self.version),
        }
    }
}

impl Serialize for SchemaPoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for SchemaPoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (num, stage) = match s.split_once('.') {
            None => (s, Stage::Complete),
            Some((num, "expand")) => (num, Stage::Expand),
            Some((num, "migrate")) => (num, Stage::Migrate),
            Some((num, "contract")) => (num, Stage::Complete),
            Some((_, other)) => {
                return Err(format!(
                    "unknown stage `{other}` in `{s}`: write `N`, `N.expand` or `N.migrate`"
                ))
            }
        };
        let version = num.parse::<u32>().map_err(|_| {
            format!("`{s}` is not a schema point: write `N`, `N.expand` or `N.migrate`")
        })?;
        Ok(SchemaPoint { version, stage })
    }
}

/// The schema points a release can run against: `A ..= B`, or `A ..` for a
/// release with no known end yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReleaseRange {
    pub start: SchemaPoint,
    /// `None` means open above.
    pub end: Option<SchemaPoint>,
}

impl ReleaseRange {
    pub fn contains(&self, point: SchemaPoint) -> bool {
        point >= self.start && self.end.is_none_or(|end| point <= end)
    }
}

impl fmt::Display for ReleaseRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Some(end) => write!(f, "{} ..= {}", self.start, end),
            None => write!(f, "{} ..", self.start),
        }
    }
}

impl Serialize for ReleaseRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for ReleaseRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some((a, b)) = s.split_once("..=") {
            let start: SchemaPoint = a.parse()?;
            let end: SchemaPoint = b.parse()?;
            if end < start {
                return Err(format!("range `{s}` ends before it starts"));
            }
            Ok(ReleaseRange {
                start,
                end: Some(end),
            })
        } else if let Some(a) = s.strip_suffix("..") {
            Ok(ReleaseRange {
                start: a.parse()?,
                end: None,
            })
        } else if s.contains("..") {
            Err(format!(
                "range `{s}`: only inclusive ranges are supported: write `A ..= B` or `A ..`"
            ))
        } else {
            Err(format!(
                "`{s}` is not a range: write `A ..= B` (for example `1 ..= 2.migrate`) or `A ..`"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_ordered_along_the_upgrade() {
        let p: Vec<SchemaPoint> = ["1", "2.expand", "2.migrate", "2", "3.expand"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(p[2].to_string(), "2.migrate");
    }

    #[test]
    fn ranges_parse_and_contain() {
        let r: ReleaseRange = "1 ..= 2.migrate".parse().unwrap();
        assert!(r.contains("2.expand".parse().unwrap()));
        assert!(!r.contains(SchemaPoint::complete(2)));
        let open: ReleaseRange = "2.migrate ..".parse().unwrap();
        assert!(open.contains(SchemaPoint::complete(9)));
        assert!("2 ..= 1".parse::<ReleaseRange>().is_err());
        assert!("1 .. 2".parse::<ReleaseRange>().is_err());
        assert!("x".parse::<ReleaseRange>().is_err());
    }
}
