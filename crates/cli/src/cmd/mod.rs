//! One module per command group.

pub mod artifacts;
pub mod bench;
pub mod cache;
pub mod collect;
pub mod data;
pub mod fetch;
pub mod init;
pub mod verify;
