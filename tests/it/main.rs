//! Integration tests: contract suites against every adapter, and end-to-end runs of `axia`.

mod memory;
mod object_store;
mod parquet;
mod redis;
