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
//! # Positions and system status
//!
//! Open positions are mirrored in one hash per symbol, `{prefix}positions:{SYMBOL}` (e.g.
//! `axia:positions:{EURUSD}`, the braces again a hash tag), with a field per position id holding
//! the position as JSON (decimals as strings, so exact). `{prefix}positions:index` maps a
//! position id to its symbol so [`RedisPositionRepository`] can find it by id. A save runs a
//! version-checked script on the symbol's hash first, then updates the index (another slot, so a
//! separate command): a closed position's field is removed, then its index entry; an index entry
//! without a field reads as "not open". `{prefix}system:status` ([`RedisSystemStatus`]) holds the
//! kill-switch mirror (`state`, `reason`, `changed_by`, `version`, `updated_at`, written only
//! over an older version) and a `heartbeat:{component}` field per process.
//!
//! These keys never expire: they are state, not cache, and an expired key would read as "no
//! open positions" or "no heartbeat". They are mirrors all the same: the state store (DynamoDB or
//! SQLite) is the system of record, and a lost key is rebuilt from it, never the other way.
//!
//! # Writes
//!
//! An upsert is one Lua script call (`EVALSHA`) per series (per chunk of
//! [`UPSERT_CHUNK`] bars): it reads what is stored over the incoming range once, compares the
//! stored member of each time with the new one (counting inserted / updated / unchanged),
//! removes and adds the changed members in bulk `ZREM` / `ZADD` commands, then trims every
//! bar older than `now - retention` and sets the key TTL ([`TtlPolicy`]). Bars already older
//! than the retention window are not written and count as trimmed. One exception keeps the
//! tier useful for coarse timeframes and over weekends: the newest bar of a series is never
//! trimmed, so `D1`, `W1` and `MN1` keys hold their latest bar and an `M1` key still holds
//! Friday's last bar on Sunday.
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
//! whole keyspace (`SCAN`, `INFO`, `DBSIZE`) run on every primary that `CLUSTER NODES` lists.
//!
//! When a primary dies, calls on its keys are `Unavailable` (the others still work) until the
//! cluster marks it failed; then, unless a replica takes over its slots, the cluster refuses
//! every key (`CLUSTERDOWN`, with the default `cluster-require-full-coverage yes`) and every call
//! is `Unavailable`. Whole-keyspace commands are `Unavailable` as soon as a primary cannot be
//! reached or a slot has no live primary: `list_series` never answers with the series of part
//! of the cluster. The same client and pool recover once the node (or its replica) serves again.
//! The cluster client keeps redis-rs' own connect and response timeouts (1 s, 500 ms), as
//! deadpool-redis does not pass others on; the bounds above apply around them.

mod client;
pub mod codec;
mod config;
mod kill_switch_mirror;
mod ohlcv;
mod positions;
mod stats;
mod status;

pub use client::RedisClient;
pub use config::{DEFAULT_MEMORY_BUDGET_BYTES, NY_CLOSE_MARGIN, RedisConfig, TtlPolicy, redact_url};
pub use ohlcv::{RedisOhlcvDataRepository, UPSERT_CHUNK};
pub use positions::RedisPositionRepository;
pub use stats::{CRITICAL_RATIO, CacheStats, MemoryStatus, SeriesStats, WARNING_RATIO};
pub use status::{RedisSystemStatus, SystemStatus};
