//! [`ParquetOhlcvRepository`]: the history tier as Parquet partitions in an [`ObjectStore`].

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use axia_domain::ports::{
    Coverage, ObjectStore, ObjectStoreError, OhlcvDataRepository, PutMode, RepositoryError, WriteSummary,
};
use axia_domain::{Clock, MergeStats, OhlcvSeries, SeriesKey, SystemClock, TimeRange};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::codec;
use super::compact::{archive_root, archives_first, route_to_archives};
use super::layout::{Layout, OHLCV_DIR, Partition, object_key, parse_object_key, series_dir};
use super::manifest::{self, Change, Manifest, ManifestEntry, backoff};

const NAME: &str = "parquet";
/// Partitions fetched at once by range reads.
pub(super) const READ_CONCURRENCY: usize = 8;
/// Partitions merged and written at once by upserts and deletes.
const WRITE_CONCURRENCY: usize = 4;
/// Attempts of a partition read-merge-write that loses races with other writers.
const MAX_ATTEMPTS: u32 = 16;

/// Bars as Parquet objects under `{prefix}/ohlcv/…` in an object store, with a
/// `{prefix}/manifest.json` (see the [module docs](super)).
///
/// The manifest is the commit record of the history: an object is written first and listed
/// second, so an entry means "this partition is complete". Reads follow it:
///
/// - `coverage` and `list_series` read only the manifest, and `get_range` fetches only the
///   partitions the manifest lists for the series that overlap the range (one GET per
///   partition holding bars, none for empty days or weekends). A listed partition whose object
///   is gone reads as empty.
/// - Without a manifest (nothing written yet, or lost) they list the series' objects instead
///   (coverage reads them too), and the next write recreates it.
/// - A manifest that lags behind the objects (a writer died between the object write and the
///   manifest update) hides the orphan partition from reads and coverage alike, so the two
///   agree: it is the write that did not finish. The next upsert of that partition (the
///   collector refetches from the last covered bar) merges into the orphan and lists it, and
///   `verify` with `repair` lists it too (see [`Self::verify`]). An entry whose object was
///   rewritten but not re-listed is read from the object as it is.
/// - Upserts and `delete_range` work on the objects themselves (the merge reads the current
///   object, the delete lists the series), never trusting the manifest for existence.
/// - Monthly compaction archives of M1 and M5 ([`Self::compact`], ADR 0007) are partitions
///   too: reads merge them first and listed daily partitions over them; upserts into a day an
///   archive holds merge into the archive.
///
/// `delete_range` removes an emptied partition unconditionally, so it must not run
/// concurrently with upserts of the same series; upserts of the same or different series may
/// run concurrently (conditional puts, retried).
#[derive(Debug, Clone)]
pub struct ParquetOhlcvRepository {
    store: Arc<dyn ObjectStore>,
    layout: Layout,
    clock: Arc<dyn Clock>,
}

/// A partition object as read.
pub(super) struct Stored {
    /// The bars.
    pub(super) series: OhlcvSeries,
    /// The ETag read with them.
    pub(super) etag: String,
    /// The manifest entry that describes the object (`None` when it holds no bar).
    pub(super) entry: Option<ManifestEntry>,
}

impl ParquetOhlcvRepository {
    /// A repository under `prefix` of `store` (`""` for the store's root).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: impl Into<String>) -> Self {
        Self { store, layout: Layout::new(&prefix.into()), clock: Arc::new(SystemClock) }
    }

    /// The same repository taking `updated_at` and `last_updated` times from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The object store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Where the objects live (prefix and key names).
    #[must_use]
    pub const fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The current manifest.
    ///
    /// # Errors
    /// [`RepositoryError::NotFound`] when there is no manifest (nothing written yet);
    /// [`RepositoryError::Corrupt`] when it cannot be parsed; store errors as usual.
    pub async fn manifest(&self) -> Result<Manifest, RepositoryError> {
        manifest::load(self.store.as_ref(), &self.layout)
            .await?
            .ok_or_else(|| RepositoryError::NotFound { what: self.layout.manifest_key() })
    }

    /// The time the clock says, for `updated_at` and `last_updated`.
    pub(super) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Reads and decodes one partition; `None` when absent.
    ///
    /// # Errors
    /// [`RepositoryError::Corrupt`] naming the object when it cannot be decoded or holds a bar
    /// outside its partition; store errors as usual.
    pub(super) async fn read(&self, key: &SeriesKey, partition: Partition) -> Result<Option<Stored>, RepositoryError> {
        let full = self.layout.object_key(key, partition);
        let (bytes, meta) = match self.store.get(&full).await {
            Ok(found) => found,
            Err(ObjectStoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (series_key, what) = (key.clone(), full.clone());
        let (series, bytes) = tokio::task::spawn_blocking(move || {
            let decoded = codec::decode(&bytes, &series_key);
            (decoded, bytes)
        })
        .await
        .map_err(|e| RepositoryError::corrupt(what, format!("decoding failed: {e}")))?;
        let series = series.map_err(|e| RepositoryError::corrupt(full.clone(), e))?;
        let span = partition.range();
        if let Some(bar) = series.bars().iter().find(|b| !span.contains(b.open_time())) {
            let detail = format!("bar at {} lies outside partition {partition}", bar.open_time());
            return Err(RepositoryError::corrupt(full, detail));
        }
        let entry = ManifestEntry::describe(&series, &bytes, self.clock.now());
        Ok(Some(Stored { series, etag: meta.etag, entry }))
    }

    pub(super) async fn encode(&self, series: OhlcvSeries) -> Result<Vec<u8>, RepositoryError> {
        let what = series.key().to_string();
        tokio::task::spawn_blocking(move || codec::encode(&series))
            .await
            .map_err(|e| RepositoryError::Invalid { detail: format!("encoding {what} failed: {e}") })?
            .map_err(|e| RepositoryError::Invalid { detail: format!("cannot encode {what}: {e}") })
    }

    async fn update_manifest(&self, change: Change) -> Result<(), RepositoryError> {
        manifest::update(self.store.as_ref(), &self.layout, &change, self.clock.now()).await.map(|_| ())
    }

    /// The partitions of `key` a range read fetches (see the type's docs): those the manifest
    /// lists, or without a manifest those a listing of the series finds; only those overlapping
    /// `range`.
    async fn partitions_to_read(&self, key: &SeriesKey, range: TimeRange) -> Result<Vec<Partition>, RepositoryError> {
        let partitions = match manifest::load(self.store.as_ref(), &self.layout).await? {
            Some(manifest) => manifest.partitions_of(key),
            None => self.stored_partitions(key).await?,
        };
        Ok(partitions.into_iter().filter(|p| p.range().overlaps(&range)).collect())
    }

    /// The partitions of `key` that exist in the store (compaction archives included), oldest
    /// first.
    pub(super) async fn stored_partitions(&self, key: &SeriesKey) -> Result<Vec<Partition>, RepositoryError> {
        let listed = self.store.list(&self.layout.full(&series_dir(key))).await?;
        let mut found: Vec<Partition> = listed
            .iter()
            .filter_map(|m| self.layout.relative(&m.key).and_then(parse_object_key))
            .filter(|(k, _)| k == key)
            .map(|(_, p)| p)
            .collect();
        found.extend(self.stored_archives(key).await?);
        found.sort();
        Ok(found)
    }

    /// Merges `part` into its partition and writes the result when it changed anything.
    async fn upsert_partition(
        &self,
        partition: Partition,
        part: OhlcvSeries,
        manifest: Option<&Manifest>,
    ) -> Result<MergeStats, RepositoryError> {
        let key = part.key().clone();
        let relative = object_key(&key, partition);
        // A partition the manifest does not list is most likely new: try to create it without a
        // GET first (the put is conditional, so an orphan or a racing writer makes it fail and
        // the loop reads and merges as usual).
        let mut assume_absent = manifest.is_some_and(|m| !m.objects.contains_key(&relative));
        for attempt in 0..MAX_ATTEMPTS {
            let guessed = std::mem::take(&mut assume_absent);
            let stored = if guessed { None } else { self.read(&key, partition).await? };
            let (mut merged, mode, entry) = match stored {
                Some(s) => (s.series, PutMode::Update { etag: s.etag }, s.entry),
                None => (OhlcvSeries::empty(key.clone()), PutMode::Create, None),
            };
            let stats = merged.merge(&part).map_err(|e| RepositoryError::Invalid { detail: e.to_string() })?;
            if stats.is_noop() {
                // Nothing to write; repair the manifest if an earlier writer died before it.
                let listed = manifest.and_then(|m| m.objects.get(&relative));
                if let Some(entry) = entry.filter(|e| !listed.is_some_and(|l| l.same_object(e))) {
                    self.update_manifest(Change::Put(relative, entry)).await?;
                }
                return Ok(stats);
            }
            let bytes = self.encode(merged.clone()).await?;
            let entry = ManifestEntry::describe(&merged, &bytes, self.clock.now());
            match self.store.put(&self.layout.full(&relative), bytes, mode).await {
                Ok(_) => {
                    if let Some(entry) = entry {
                        self.update_manifest(Change::Put(relative, entry)).await?;
                    }
                    return Ok(stats);
                }
                Err(ObjectStoreError::PreconditionFailed { .. } | ObjectStoreError::NotFound { .. }) => {
                    if !guessed {
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(lost_race(&self.layout.full(&relative)))
    }

    /// Removes the bars of `range` from one partition; returns how many were removed.
    async fn delete_in_partition(
        &self,
        key: &SeriesKey,
        partition: Partition,
        range: TimeRange,
    ) -> Result<u64, RepositoryError> {
        let relative = object_key(key, partition);
        let full = self.layout.full(&relative);
        for attempt in 0..MAX_ATTEMPTS {
            let Some(stored) = self.read(key, partition).await? else { return Ok(0) };
            let before = stored.series.len();
            let kept: Vec<_> =
                stored.series.bars().iter().filter(|b| !range.contains(b.open_time())).copied().collect();
            let removed = (before - kept.len()) as u64;
            if removed == 0 {
                return Ok(0);
            }
            if kept.is_empty() {
                self.store.delete(&full).await?;
                self.update_manifest(Change::Remove(relative)).await?;
                return Ok(removed);
            }
            let kept = OhlcvSeries::new(key.clone(), kept).map_err(|e| RepositoryError::corrupt(full.clone(), e))?;
            let bytes = self.encode(kept.clone()).await?;
            let entry = ManifestEntry::describe(&kept, &bytes, self.clock.now());
            match self.store.put(&full, bytes, PutMode::Update { etag: stored.etag }).await {
                Ok(_) => {
                    if let Some(entry) = entry {
                        self.update_manifest(Change::Put(relative, entry)).await?;
                    }
                    return Ok(removed);
                }
                Err(ObjectStoreError::PreconditionFailed { .. } | ObjectStoreError::NotFound { .. }) => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(lost_race(&full))
    }
}

fn lost_race(what: &str) -> RepositoryError {
    RepositoryError::Conflict {
        what: what.to_string(),
        detail: format!("other writers kept changing the object over {MAX_ATTEMPTS} attempts"),
    }
}

/// Splits a series into its partitions, oldest first.
fn split(series: &OhlcvSeries) -> Vec<(Partition, OhlcvSeries)> {
    let mut out = Vec::new();
    let mut next = 0;
    while let Some(bar) = series.bars().get(next) {
        let partition = Partition::of_bar(series.timeframe(), bar.open_time());
        let part = series.slice(partition.range());
        // Every earlier bar opens before this partition, so `part` starts at `next` (and holds it).
        next += part.len().max(1);
        out.push((partition, part));
    }
    out
}

#[async_trait]
impl OhlcvDataRepository for ParquetOhlcvRepository {
    fn name(&self) -> &str {
        NAME
    }

    async fn get_range(&self, key: &SeriesKey, range: TimeRange) -> Result<OhlcvSeries, RepositoryError> {
        if range.is_empty() {
            return Ok(OhlcvSeries::empty(key.clone()));
        }
        let mut partitions = self.partitions_to_read(key, range).await?;
        // Compaction archives first, so that a daily partition holding the same bar wins (ADR 0007).
        archives_first(key.timeframe, &mut partitions);
        let parts: Vec<Option<Stored>> =
            stream::iter(partitions).map(|p| self.read(key, p)).buffered(READ_CONCURRENCY).try_collect().await?;
        let mut series = OhlcvSeries::empty(key.clone());
        for part in parts.into_iter().flatten() {
            let what = || self.layout.full(&series_dir(key));
            series.merge(&part.series.slice(range)).map_err(|e| RepositoryError::corrupt(what(), e))?;
        }
        Ok(series)
    }

    async fn upsert(&self, series: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
        if series.calendar() != series.key().default_calendar() {
            return Err(RepositoryError::Invalid {
                detail: format!(
                    "the parquet tier stores {} on its default calendar {:?}, not {:?}",
                    series.key(),
                    series.key().default_calendar(),
                    series.calendar()
                ),
            });
        }
        if series.is_empty() {
            return Ok(WriteSummary::default());
        }
        let manifest = manifest::load(self.store.as_ref(), &self.layout).await?;
        let stats: Vec<MergeStats> = stream::iter(route_to_archives(split(series), manifest.as_ref())?)
            .map(|(p, part)| self.upsert_partition(p, part, manifest.as_ref()))
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        let mut summary = WriteSummary::default();
        for s in stats {
            summary.absorb(WriteSummary {
                inserted: s.inserted as u64,
                updated: s.updated as u64,
                unchanged: s.unchanged as u64,
                trimmed: 0,
            });
        }
        Ok(summary)
    }

    async fn delete_range(&self, key: &SeriesKey, range: TimeRange) -> Result<u64, RepositoryError> {
        if range.is_empty() {
            return Ok(0);
        }
        // The objects themselves, not the manifest: an orphan partition must lose its bars too,
        // or a later repair would bring them back.
        let partitions: Vec<Partition> =
            self.stored_partitions(key).await?.into_iter().filter(|p| p.range().overlaps(&range)).collect();
        let removed: Vec<u64> = stream::iter(partitions)
            .map(|p| self.delete_in_partition(key, p, range))
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(removed.into_iter().sum())
    }

    async fn coverage(&self, key: &SeriesKey) -> Result<Option<Coverage>, RepositoryError> {
        if let Some(manifest) = manifest::load(self.store.as_ref(), &self.layout).await? {
            return Ok(manifest.coverage(key));
        }
        // No manifest (never written, or lost): read the objects themselves.
        let partitions = self.stored_partitions(key).await?;
        let entries: Vec<Option<(String, ManifestEntry)>> = stream::iter(partitions)
            .map(|p| async move {
                let stored = self.read(key, p).await?;
                Ok::<_, RepositoryError>(stored.and_then(|s| s.entry).map(|e| (object_key(key, p), e)))
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut fallback = Manifest::empty(self.clock.now());
        fallback.objects.extend(entries.into_iter().flatten());
        Ok(fallback.coverage(key))
    }

    async fn list_series(&self) -> Result<Vec<SeriesKey>, RepositoryError> {
        if let Some(manifest) = manifest::load(self.store.as_ref(), &self.layout).await? {
            return Ok(manifest.series().into_iter().collect());
        }
        let mut listed = self.store.list(&self.layout.full(&format!("{OHLCV_DIR}/"))).await?;
        listed.extend(self.store.list(&self.layout.full(&archive_root())).await?);
        let found: BTreeSet<SeriesKey> = listed
            .iter()
            .filter_map(|m| self.layout.relative(&m.key).and_then(parse_object_key))
            .map(|(k, _)| k)
            .collect();
        Ok(found.into_iter().collect())
    }
}
