//! One module per command group.

pub mod artifacts;
pub mod bench;
pub mod cache;
pub mod chart;
pub mod collect;
pub mod config;
pub mod daemon;
pub mod data;
pub mod fetch;
pub mod init;
pub mod kill_switch;
pub mod orders;
pub mod positions;
pub mod verify;
pub mod warmup;
