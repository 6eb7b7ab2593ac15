//! Rules for sqlite.

use crate::classify::{Analysis, Context, Refusal};
use crate::ops::Operation;
use crate::schema::Schema;

pub fn analyze(op: &Operation, schema: &Schema, ctx: &Context<'_>) -> Result<Analysis, Refusal> {
    let _ = (op, schema, ctx);
    todo!("sqlite rules")
}
