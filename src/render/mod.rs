//! Renderers (placeholder until the render branch lands).

use crate::planner::CheckedPlan;

pub struct TextOptions {
    pub color: bool,
}
pub fn text(_plans: &[CheckedPlan], _opts: &TextOptions) -> String {
    todo!()
}
pub fn json(_plans: &[CheckedPlan]) -> String {
    todo!()
}
pub fn markdown(_plans: &[CheckedPlan]) -> String {
    todo!()
}
pub fn dot(_plans: &[CheckedPlan]) -> String {
    todo!()
}
