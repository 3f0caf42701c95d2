//! Typed HelpCrunch records. Decoding is lenient: a missing or `null` optional field is `None`
//! (or empty), an enum value the crate does not know is kept as `Unknown(String)`, and fields
//! the model does not know are ignored, so that one odd record never fails a whole page.

mod agent;
mod department;
mod lenient;

pub use agent::AgentRole;
pub use department::{Department, DepartmentAgent};
