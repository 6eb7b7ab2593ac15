//! zerodown: upgrade a database and the application fleet that uses it
//! without downtime. See ARCHITECTURE.md for the map.

pub mod cli;
pub mod compat;
pub mod diagnostic;
pub mod dialect;
pub mod engine;
pub mod exec;
pub mod failpoint;
pub mod graph;
pub mod operation;
pub mod ops;
pub mod parse;
pub mod plan;
pub mod planner;
pub mod render;
pub mod schema;
pub mod snapshot;
