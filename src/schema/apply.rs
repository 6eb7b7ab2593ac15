//! Applying an operation to the model, checking it against what is there.

use crate::ops::Operation;
use crate::schema::Schema;

/// A change that does not fit the schema it will meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    pub message: String,
    pub help: String,
}

impl Schema {
    /// Check `op` against the model and apply it. With `contract_in`, what
    /// the operation removes is kept (marked `drop_at`) until that version's
    /// contract (`finish_contract`).
    pub fn apply(&mut self, op: &Operation, contract_in: Option<u32>) -> Result<(), SchemaError> {
        let _ = (op, contract_in);
        todo!("Schema::apply")
    }

    /// Remove what earlier plans deferred to this version's contract.
    pub fn finish_contract(&mut self, version: u32) {
        let _ = version;
        todo!("Schema::finish_contract")
    }
}
