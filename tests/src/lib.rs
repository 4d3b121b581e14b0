//! Shared test support: the port contract suites run against every adapter, and helpers for
//! real services.

pub mod broker_contract;
pub mod dynamodb_support;
pub mod fake_mt5_bridge;
pub mod fake_yahoo;
pub mod object_store_contract;
pub mod ohlcv_contract;
pub mod queue_contract;
pub mod redis_raw;
pub mod s3_support;
pub mod state_contract;
