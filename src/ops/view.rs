//! Actions for this kind of operation (being written).

use crate::classify::{Analysis, Context, Refusal};
use crate::dialect::EngineKind;
use crate::ops::Operation;
use crate::schema::Schema;

pub fn analyze(engine: EngineKind, op: &Operation, schema: &Schema, ctx: &Context<'_>) -> Result<Analysis, Refusal> {
    let _ = (engine, op, schema, ctx);
    todo!()
}
