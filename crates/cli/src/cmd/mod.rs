//! One module per command group.

pub mod collect;
pub mod data;
pub mod fetch;
