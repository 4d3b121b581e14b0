//! The Parquet history tier: bars as Hive-partitioned Parquet objects in an
//! [`ObjectStore`](axia_domain::ports::ObjectStore) (a local directory or S3), with a
//! `manifest.json` listing every object.
//!
//! - [`layout`]: where a bar goes (`{prefix}/ohlcv/symbol=…/timeframe=…/date=…/data.parquet`).
//! - [`codec`]: the Parquet schema and deterministic encoding.
//! - [`manifest`]: the manifest format and its conflict-free updates.
//! - [`ParquetOhlcvRepository`]: the [`OhlcvDataRepository`](axia_domain::ports::OhlcvDataRepository)
//!   over them. Upserts rewrite only partitions whose content changes, so re-running an import
//!   changes no object, no md5 and not the manifest.
//! - [`compact`]: old daily partitions of M1 and M5 merged into verified monthly archives.
//! - [`verify`]: objects against the manifest, its repair, and the check of one date's data.

pub mod codec;
pub mod compact;
pub mod layout;
pub mod manifest;
mod repo;
pub mod verify;

pub use crate::object_store::md5_hex;
pub use compact::{CompactReport, DEFAULT_KEEP_DAILY};
pub use layout::{Layout, Partition, PartitionPeriod};
pub use manifest::{MANIFEST_VERSION, Manifest, ManifestEntry};
pub use repo::ParquetOhlcvRepository;
pub use verify::{DateCheck, Problem, ProblemKind, RepairAction, Repaired, VerifyOptions, VerifyReport};
