//! Integration tests: contract suites against every adapter, and end-to-end runs of `axia`.

mod collect_sources;
mod compact_artifacts;
mod dynamodb_state;
mod memory;
mod memory_state;
mod mt5_bridge;
mod object_store;
mod paper_broker;
mod parquet;
mod provider_redis_outage;
mod queue;
mod redis;
mod redis_cluster;
mod redis_fault;
mod redis_state;
mod s3;
mod s3_history;
mod s3_outage;
mod sqlite_state;
mod yahoo;
