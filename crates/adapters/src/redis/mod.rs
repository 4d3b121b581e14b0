//! The L2 Redis tier: the last day of bars of every series, shared by all processes.
//!
//! # Key layout
//!
//! One sorted set per series, at `{prefix}ohlcv:{SYMBOL:TF}`, e.g. `axia:ohlcv:{EURUSD:M1}`.
//! The braces are a Redis Cluster hash tag: every key of one series hashes to one slot, so a
//! series can grow companion keys without cross-slot errors. The prefix must not hold braces.
//!
//! Each member is one bar in the compact binary encoding of [`codec`] (49 to 61 bytes), scored
//! by its open time in epoch seconds. The encoding starts with the open time, and an upsert
//! first removes whatever is stored at that score, so a series never holds two bars of one time.
//!
//! # Writes
//!
//! An upsert is one Lua script call (`EVALSHA`) per series (per chunk of
//! [`UPSERT_CHUNK`] bars): for every bar it compares the stored member of that time with the new
//! one (counting inserted / updated / unchanged), replaces it when different, then trims every
//! bar older than `now - retention` and sets the key TTL ([`TtlPolicy`]). Bars already older
//! than the retention window are not written and count as trimmed.
//!
//! # Failures
//!
//! Every call is bounded (pool wait including connect by `connect_timeout`, the command by
//! `command_timeout`). Timeouts, refused connections and pool errors become
//! [`axia_domain::ports::RepositoryError::Unavailable`] naming the URL to check (without its
//! password); undecodable members become `Corrupt` naming the key.
//!
//! # Deployments
//!
//! [`RedisClient`] talks to a single node (or a non-clustered endpoint, as ElastiCache with
//! cluster mode disabled) or, with [`RedisConfig::cluster`], to a Redis Cluster through one seed
//! URL. Every multi-key operation addresses keys of one hash tag; commands that concern the
//! whole keyspace (`SCAN`, `INFO`, `DBSIZE`) run on every primary.

mod client;
pub mod codec;
mod config;
mod ohlcv;

pub use client::RedisClient;
pub use config::{DEFAULT_MEMORY_BUDGET_BYTES, NY_CLOSE_MARGIN, RedisConfig, TtlPolicy, redact_url};
pub use ohlcv::{RedisOhlcvDataRepository, UPSERT_CHUNK};
