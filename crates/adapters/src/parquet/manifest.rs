//! `manifest.json` at the prefix: one entry per partition object (size, md5, rows, first and
//! last open time), so that coverage, listing and `verify` need no Parquet read.
//!
//! ```json
//! {
//!   "version": 1,
//!   "last_updated": "2025-10-16T21:00:00.123Z",
//!   "objects": {
//!     "ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet": {
//!       "size": 51234, "updated_at": "…", "md5": "…", "rows": 1440,
//!       "first_open_time": "2025-10-16T00:00:00Z", "last_open_time": "2025-10-16T23:59:00Z"
//!     }
//!   }
//! }
//! ```
//!
//! Keys are relative to the prefix and kept in a `BTreeMap`, and the JSON is pretty-printed,
//! so the same content always gives the same bytes. The manifest is updated after each object
//! write by a read-modify-write with a conditional put (`Create` when absent, `Update` with the
//! ETag read otherwise), retried on a lost race after re-reading, so concurrent writers never
//! drop each other's entries.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axia_domain::ports::{Coverage, ObjectStore, ObjectStoreError, PutMode, RepositoryError};
use axia_domain::{OhlcvSeries, SeriesKey};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::compact::archive_dir;
use super::layout::{Layout, Partition, parse_object_key, series_dir};
use crate::object_store::md5_hex;

/// The manifest format this code reads and writes.
pub const MANIFEST_VERSION: u32 = 1;

/// How many times a manifest update re-reads and retries after losing a race.
const MAX_ATTEMPTS: u32 = 64;

/// The manifest of a Parquet history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// When the manifest was last written.
    pub last_updated: DateTime<Utc>,
    /// Entries by object key relative to the prefix.
    pub objects: BTreeMap<String, ManifestEntry>,
}

/// What the manifest knows of one partition object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Size in bytes.
    pub size: u64,
    /// When the object was written.
    pub updated_at: DateTime<Utc>,
    /// Hex md5 of the object.
    pub md5: String,
    /// Number of bars.
    pub rows: u64,
    /// Open time of the first bar.
    pub first_open_time: DateTime<Utc>,
    /// Open time of the last bar.
    pub last_open_time: DateTime<Utc>,
}

impl ManifestEntry {
    /// The entry of an object holding `series` encoded as `bytes`, written at `now`; `None`
    /// for an empty series (empty partitions are deleted, not stored).
    #[must_use]
    pub fn describe(series: &OhlcvSeries, bytes: &[u8], now: DateTime<Utc>) -> Option<Self> {
        Some(Self {
            size: bytes.len() as u64,
            updated_at: now.trunc_subsecs(3),
            md5: md5_hex(bytes),
            rows: series.len() as u64,
            first_open_time: series.first()?.open_time(),
            last_open_time: series.last()?.open_time(),
        })
    }

    /// Same object content (everything but `updated_at`).
    #[must_use]
    pub fn same_object(&self, other: &Self) -> bool {
        self.size == other.size
            && self.md5 == other.md5
            && self.rows == other.rows
            && self.first_open_time == other.first_open_time
            && self.last_open_time == other.last_open_time
    }
}

impl Manifest {
    /// A manifest without entries.
    #[must_use]
    pub fn empty(now: DateTime<Utc>) -> Self {
        Self { version: MANIFEST_VERSION, last_updated: now.trunc_subsecs(3), objects: BTreeMap::new() }
    }

    /// Pretty-printed JSON with a final newline.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising strings, integers and timestamps into a Vec cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Parses and checks the version.
    ///
    /// # Errors
    /// A message when the bytes are not a manifest of a supported version.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(|e| format!("not a valid manifest: {e}"))?;
        if manifest.version != MANIFEST_VERSION {
            return Err(format!("unsupported manifest version {} (expected {MANIFEST_VERSION})", manifest.version));
        }
        Ok(manifest)
    }

    /// The version of a manifest that parses as JSON but was written in another format version
    /// (by a newer axia): such a manifest is not corrupt and must not be rebuilt over.
    #[must_use]
    pub fn other_version(bytes: &[u8]) -> Option<u64> {
        let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        value.get("version")?.as_u64().filter(|v| *v != u64::from(MANIFEST_VERSION))
    }

    /// Coverage of `key` from its entries, `None` when it has none.
    #[must_use]
    pub fn coverage(&self, key: &SeriesKey) -> Option<Coverage> {
        self.entries_of(key).fold(None, |acc, e| {
            Some(match acc {
                None => Coverage { first: e.first_open_time, last: e.last_open_time, rows: e.rows },
                Some(c) => Coverage {
                    first: c.first.min(e.first_open_time),
                    last: c.last.max(e.last_open_time),
                    rows: c.rows + e.rows,
                },
            })
        })
    }

    /// The entries of one series.
    pub fn entries_of<'a>(&'a self, key: &'a SeriesKey) -> impl Iterator<Item = &'a ManifestEntry> + 'a {
        self.objects.iter().filter(move |(k, _)| parse_object_key(k).is_some_and(|(s, _)| s == *key)).map(|(_, e)| e)
    }

    /// The partitions of `key` that have an entry: its compaction archives, then its own
    /// partitions, each oldest first.
    #[must_use]
    pub fn partitions_of(&self, key: &SeriesKey) -> Vec<Partition> {
        [archive_dir(key), series_dir(key)]
            .into_iter()
            .flat_map(|dir| self.objects.range(dir.clone()..).map(|(k, _)| k).take_while(move |k| k.starts_with(&dir)))
            .filter_map(|k| parse_object_key(k))
            .filter(|(s, _)| s == key)
            .map(|(_, p)| p)
            .collect()
    }

    /// Every series with at least one entry, sorted.
    #[must_use]
    pub fn series(&self) -> BTreeSet<SeriesKey> {
        self.objects.keys().filter_map(|k| parse_object_key(k)).map(|(s, _)| s).collect()
    }

    /// Applies `change`; says whether the manifest changed.
    fn apply(&mut self, change: &Change) -> Applied {
        let held =
            |current: Option<&ManifestEntry>, entry: &ManifestEntry| current.is_some_and(|e| e.same_object(entry));
        match change {
            Change::Put(key, entry) => {
                if held(self.objects.get(key), entry) {
                    return Applied::AlreadyHeld;
                }
                self.objects.insert(key.clone(), entry.clone());
                Applied::Changed
            }
            Change::Remove(key) => {
                if self.objects.remove(key).is_some() {
                    Applied::Changed
                } else {
                    Applied::AlreadyHeld
                }
            }
            Change::Repair { key, seen, entry } => {
                let current = self.objects.get(key);
                if held(current, entry) {
                    return Applied::AlreadyHeld;
                }
                let unchanged = match (current, seen) {
                    (None, None) => true,
                    (Some(c), Some(s)) => c.same_object(s),
                    _ => false,
                };
                if !unchanged {
                    return Applied::Stale;
                }
                self.objects.insert(key.clone(), entry.clone());
                Applied::Changed
            }
            Change::Batch(changes) => changes.iter().fold(Applied::AlreadyHeld, |applied, change| {
                if self.apply(change) == Applied::Changed { Applied::Changed } else { applied }
            }),
        }
    }
}

/// One change to the manifest.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Insert or replace the entry of an object (key relative to the prefix).
    Put(String, ManifestEntry),
    /// Remove the entry of a deleted object.
    Remove(String),
    /// Set the entry of `key` to `entry`, read back from the object, but only while the
    /// manifest still holds `seen` (`None`: no entry). A writer that updated the entry since
    /// `seen` was read knows the object better than the repair does.
    Repair {
        /// The object key relative to the prefix.
        key: String,
        /// The entry the repair found wrong or missing.
        seen: Option<ManifestEntry>,
        /// The entry that describes the object now.
        entry: ManifestEntry,
    },
    /// Several puts and removes in one manifest write (compaction: an archive in, its
    /// originals out, ADR 0007).
    Batch(Vec<Change>),
}

/// What [`update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The manifest was rewritten with the change.
    Changed,
    /// The manifest already held the change; nothing was written.
    AlreadyHeld,
    /// A [`Change::Repair`] found another entry than it had seen; nothing was written.
    Stale,
}

/// Reads the manifest; `Ok(None)` when there is none.
pub(crate) async fn load(store: &dyn ObjectStore, layout: &Layout) -> Result<Option<Manifest>, RepositoryError> {
    let key = layout.manifest_key();
    match store.get(&key).await {
        Ok((bytes, _)) => Manifest::from_json(&bytes).map(Some).map_err(|e| RepositoryError::corrupt(key, e)),
        Err(ObjectStoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Applies `change` with a conditional read-modify-write, retrying when another writer got
/// there first. Writes nothing when the manifest already holds the change (or, for a repair,
/// when the entry changed since it was seen).
pub(crate) async fn update(
    store: &dyn ObjectStore,
    layout: &Layout,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<Applied, RepositoryError> {
    let key = layout.manifest_key();
    for attempt in 0..MAX_ATTEMPTS {
        let (mut manifest, mode) = match store.get(&key).await {
            Ok((bytes, meta)) => (
                Manifest::from_json(&bytes).map_err(|e| RepositoryError::corrupt(key.clone(), e))?,
                PutMode::Update { etag: meta.etag },
            ),
            Err(ObjectStoreError::NotFound { .. }) => (Manifest::empty(now), PutMode::Create),
            Err(e) => return Err(e.into()),
        };
        let applied = manifest.apply(change);
        if applied != Applied::Changed {
            return Ok(applied);
        }
        manifest.last_updated = now.trunc_subsecs(3);
        match store.put(&key, manifest.to_json(), mode).await {
            Ok(_) => return Ok(applied),
            // Lost the race (or the manifest vanished meanwhile): re-read and re-apply.
            Err(ObjectStoreError::PreconditionFailed { .. } | ObjectStoreError::NotFound { .. }) => {
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RepositoryError::Conflict {
        what: key,
        detail: format!("the manifest kept changing under {MAX_ATTEMPTS} attempts to update it"),
    })
}

/// A short randomised pause, so that writers that collided do not collide again in lockstep.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let cap_ms = 1u64 << attempt.min(5);
    let jitter = (uuid::Uuid::new_v4().as_u128() % 1_000) as u64;
    Duration::from_micros(cap_ms * jitter)
}

#[cfg(test)]
mod tests {
    use axia_domain::{Symbol, Timeframe};
    use chrono::TimeZone;

    use super::*;
    use crate::object_store::InMemoryObjectStore;

    fn entry(md5: &str, first_hour: u32) -> ManifestEntry {
        let t = |h| Utc.with_ymd_and_hms(2025, 10, 16, h, 0, 0).unwrap();
        ManifestEntry {
            size: 10,
            updated_at: t(23),
            md5: md5.into(),
            rows: 3,
            first_open_time: t(first_hour),
            last_open_time: t(first_hour + 2),
        }
    }

    const M1_KEY: &str = "ohlcv/symbol=EURUSD/timeframe=M1/date=2025-10-16/data.parquet";

    #[test]
    fn json_has_the_documented_shape_and_round_trips() {
        let mut m = Manifest::empty(Utc.with_ymd_and_hms(2025, 10, 16, 21, 0, 0).unwrap());
        m.objects.insert(M1_KEY.into(), entry("abc", 0));
        let text = String::from_utf8(m.to_json()).unwrap();
        assert!(text.starts_with("{\n  \"version\": 1,\n  \"last_updated\": \"2025-10-16T21:00:00Z\",\n"), "{text}");
        assert!(text.contains("\"first_open_time\": \"2025-10-16T00:00:00Z\""), "{text}");
        assert_eq!(Manifest::from_json(text.as_bytes()).unwrap(), m);
        assert!(Manifest::from_json(text.replace("\"version\": 1", "\"version\": 2").as_bytes()).is_err());
        assert!(Manifest::from_json(b"{").is_err());
    }

    #[test]
    fn coverage_and_series_come_from_entries() {
        let mut m = Manifest::empty(Utc::now());
        m.objects.insert(M1_KEY.into(), entry("a", 0));
        m.objects.insert(M1_KEY.replace("16", "17"), entry("b", 5));
        m.objects.insert("notes/readme.txt".into(), entry("c", 1));
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1);
        let c = m.coverage(&key).unwrap();
        assert_eq!((c.first, c.last, c.rows), (entry("a", 0).first_open_time, entry("b", 5).last_open_time, 6));
        assert_eq!(m.series().into_iter().collect::<Vec<_>>(), [key]);
        let other = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1);
        assert_eq!(m.coverage(&other), None);
    }

    #[tokio::test]
    async fn update_creates_then_skips_identical_entries() {
        let store = InMemoryObjectStore::new();
        let layout = Layout::new("p");
        let now = Utc::now();
        update(&store, &layout, &Change::Put(M1_KEY.into(), entry("a", 0)), now).await.unwrap();
        let (first, meta) = store.get("p/manifest.json").await.unwrap();
        // Same object again (only updated_at differs): nothing is written.
        let mut again = entry("a", 0);
        again.updated_at = now;
        update(&store, &layout, &Change::Put(M1_KEY.into(), again), now).await.unwrap();
        assert_eq!(store.head("p/manifest.json").await.unwrap().etag, meta.etag);
        update(&store, &layout, &Change::Remove(M1_KEY.into()), now).await.unwrap();
        let m = load(&store, &layout).await.unwrap().unwrap();
        assert!(m.objects.is_empty());
        assert_ne!(store.get("p/manifest.json").await.unwrap().0, first);
    }

    #[tokio::test]
    async fn a_repair_applies_only_over_the_entry_it_saw() {
        let store = InMemoryObjectStore::new();
        let layout = Layout::new("");
        let now = Utc::now();
        let repair =
            |seen: Option<ManifestEntry>, entry: ManifestEntry| Change::Repair { key: M1_KEY.into(), seen, entry };
        // An orphan: no entry seen, none there.
        assert_eq!(update(&store, &layout, &repair(None, entry("a", 0)), now).await.unwrap(), Applied::Changed);
        // Seen "a", now "a": replaced by "b".
        assert_eq!(
            update(&store, &layout, &repair(Some(entry("a", 0)), entry("b", 0)), now).await.unwrap(),
            Applied::Changed
        );
        // Seen "a" again, but a writer has put "b" meanwhile: left alone.
        assert_eq!(
            update(&store, &layout, &repair(Some(entry("a", 0)), entry("c", 0)), now).await.unwrap(),
            Applied::Stale
        );
        assert_eq!(update(&store, &layout, &repair(None, entry("c", 0)), now).await.unwrap(), Applied::Stale);
        assert_eq!(
            update(&store, &layout, &repair(Some(entry("x", 0)), entry("b", 0)), now).await.unwrap(),
            Applied::AlreadyHeld
        );
        assert_eq!(load(&store, &layout).await.unwrap().unwrap().objects[M1_KEY].md5, "b");
    }

    #[test]
    fn another_version_is_recognised() {
        assert_eq!(Manifest::other_version(br#"{"version": 2, "objects": {}}"#), Some(2));
        assert_eq!(Manifest::other_version(br#"{"version": 1}"#), None);
        assert_eq!(Manifest::other_version(b"garbage"), None);
    }
}
