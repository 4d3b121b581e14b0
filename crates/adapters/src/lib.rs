//! axia adapters: the implementations of the domain ports over real technology (local files,
//! Parquet, in-process caches, Redis, S3, DynamoDB, SQLite, SQS, SNS, market-data sources and
//! brokers).
//!
//! Every adapter keeps its SDK's errors private and maps them to the port's error at the
//! boundary.

pub mod artifacts;
mod aws;
pub mod csv_import;
pub mod dynamodb;
pub mod events;
pub mod memory;
pub mod mt5_bridge;
pub mod object_store;
pub mod paper;
pub mod parquet;
pub mod queue;
pub mod redis;
pub mod sample;
pub mod sqlite;
mod state_rules;
pub mod synthetic;
pub mod yahoo;
