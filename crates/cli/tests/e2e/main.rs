//! End-to-end tests of the `axia` binary on the embedded defaults: each test runs the real
//! binary in its own empty directory.

mod bad_input;
mod bench;
mod chart;
mod collect;
mod config;
mod import;
mod kill_switch;
mod maintenance;
mod metrics;
mod orders;
mod orders_mt5;
mod provider;
mod redis;
mod s3;
mod secrets;
mod sources;
mod support;
