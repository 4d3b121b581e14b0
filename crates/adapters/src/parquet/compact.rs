//! Compaction of the Parquet history (ADR 0007): the daily partitions of M1 and M5 older than a
//! cutoff are merged into one archive object per series and UTC month,
//!
//! ```text
//! {prefix}/archive/ohlcv/symbol=EURUSD/timeframe=M1/month=2025-10/data.parquet
//! ```
//!
//! with the schema and deterministic encoding of every partition ([`codec`]). An
//! archive is a partition of a coarser period than its timeframe's own, so
//! [`object_key`] and [`parse_object_key`] name it, the manifest lists it like any partition
//! (size, md5, rows, first and last bar), and the repository reads, upserts and deletes it
//! like any partition:
//!
//! - Reads fetch the archives and daily partitions the manifest lists, archives first; where
//!   both hold a bar (a writer raced with compaction, or compaction stopped half-way) the daily
//!   partition wins. Both hold the same bar then, so the result does not depend on which wins.
//! - An upsert into a day on or before the last bar of a listed archive merges into the archive
//!   (one read-merge-write per archive, a conditional put); later days get daily partitions,
//!   which the next compaction folds in. Re-running an import changes no object either way.
//! - `delete_range` removes bars from archives and daily partitions alike.
//!
//! [`ParquetOhlcvRepository::compact`] works series by series and month by month:
//!
//! 1. read the month's archive (if any) and the daily partitions the manifest lists for the
//!    month before the cutoff (the originals);
//! 2. merge them (original bars win) and write the archive when its content changes (`Create`
//!    or `Update` with the ETag read);
//! 3. verify: read the archive back; its md5, and every bar, must be what was merged, and every
//!    bar of every original must be in it unchanged;
//! 4. check by HEAD that no original changed meanwhile (else start the month over);
//! 5. commit: one conditional manifest write adds the archive's entry and removes the
//!    originals' entries;
//! 6. delete the originals, and the unlisted daily objects of the month (leftovers of a run
//!    that stopped after step 5) whose every bar the archive holds unchanged.
//!
//! A failure or crash at any point leaves a history that reads the same. Before step 5 the
//! manifest lists the originals, which hold every bar they held and win over the archive; from
//! step 5 on it lists the archive, which holds all their bars, and no longer the originals,
//! which reads then ignore. A later run picks up where this one stopped. Nothing is deleted
//! before the archive holding its bars has been verified and committed.
//!
//! Compaction must not run concurrently with writers of the days it compacts (days older than
//! the cutoff, seven days by default): like `delete_range`, it deletes objects unconditionally.

use std::collections::BTreeMap;

use axia_domain::ports::{ObjectStoreError, PutMode, RepositoryError};
use axia_domain::{OhlcvSeries, SeriesKey, Timeframe};
use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use super::codec;
use super::layout::{DATA_FILE, OHLCV_DIR, Partition, PartitionPeriod, object_key, parse_object_key, series_dir};
use super::manifest::{self, Change, Manifest, backoff};
use super::repo::{ParquetOhlcvRepository, READ_CONCURRENCY, Stored};

/// Directory of the archives under the prefix; below it the layout of `ohlcv/` repeats.
pub const ARCHIVE_DIR: &str = "archive";
/// How old a daily partition must be to be compacted unless told otherwise (ADR 0007).
pub const DEFAULT_KEEP_DAILY: TimeDelta = TimeDelta::days(7);
/// Attempts at one month when originals keep changing under the compaction.
const MAX_ATTEMPTS: u32 = 8;

/// Whether `partition` is a compaction archive of a series of `timeframe`: a month of a
/// timeframe whose own partitions are days.
#[must_use]
pub fn is_archive(timeframe: Timeframe, partition: Partition) -> bool {
    PartitionPeriod::of(timeframe) == PartitionPeriod::Day && partition.period() == PartitionPeriod::Month
}

/// `archive/ohlcv/symbol=EURUSD/timeframe=M1/`: the archives of one series, relative to the
/// prefix.
#[must_use]
pub fn archive_dir(key: &SeriesKey) -> String {
    format!("{ARCHIVE_DIR}/{}", series_dir(key))
}

/// The relative key of an archive (`partition` must be one, see [`is_archive`]).
pub(super) fn archive_key(key: &SeriesKey, partition: Partition) -> String {
    format!("{}{partition}/{DATA_FILE}", archive_dir(key))
}

/// `archive/ohlcv/`: the root of every archive, relative to the prefix.
pub(super) fn archive_root() -> String {
    format!("{ARCHIVE_DIR}/{OHLCV_DIR}/")
}

/// What [`ParquetOhlcvRepository::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CompactReport {
    /// Daily partitions opening before this time were compacted.
    pub cutoff: DateTime<Utc>,
    /// Series that had daily partitions to compact.
    pub series: usize,
    /// Archive objects written (created or rewritten); an archive that already held everything
    /// is verified and committed but not rewritten.
    pub archives_written: usize,
    /// Daily objects deleted after their archive was verified and committed.
    pub originals_deleted: usize,
    /// Unlisted daily objects left in place because the archive does not hold their bars
    /// unchanged (a writer that died before listing them; `verify` reports them).
    pub orphans_kept: usize,
    /// Bars of the compacted daily partitions.
    pub bars: u64,
    /// Bytes of the compacted daily partitions and of the archives they went into, before.
    pub bytes_before: u64,
    /// Bytes of those archives after.
    pub bytes_after: u64,
}

/// The days of one month to compact.
#[derive(Debug, Default)]
struct MonthWork {
    /// Listed in the manifest: folded into the archive.
    listed: Vec<Partition>,
    /// Present but unlisted: deleted only when the archive holds their bars.
    unlisted: Vec<Partition>,
}

impl ParquetOhlcvRepository {
    /// Merges the daily partitions (M1, M5) that end `older_than` or more before `now` into
    /// monthly archives, verifies each archive, commits it to the manifest and then deletes
    /// the daily partitions (see the [module docs](self); [`DEFAULT_KEEP_DAILY`] is the usual
    /// `older_than`). Reads return the same bars before, during and after. Running it again
    /// finishes an interrupted run, and otherwise changes nothing.
    ///
    /// # Errors
    /// - [`RepositoryError::Misconfigured`] when daily partitions exist but the manifest does
    ///   not (rebuild it first: compaction commits through it).
    /// - [`RepositoryError::Corrupt`] when an archive read back differs from what was merged
    ///   (its originals are kept), or a partition cannot be decoded.
    /// - [`RepositoryError::Conflict`] when originals kept changing during the compaction.
    /// - Store errors as usual (a failed archive write leaves the month as it was; a failed
    ///   delete leaves a committed month whose leftovers the next run removes).
    pub async fn compact(&self, older_than: TimeDelta, now: DateTime<Utc>) -> Result<CompactReport, RepositoryError> {
        let cutoff = now.checked_sub_signed(older_than).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut report = CompactReport { cutoff, ..CompactReport::default() };
        let Some(manifest) = manifest::load(self.store().as_ref(), self.layout()).await? else {
            let any = self.store().list(&self.layout().full(&format!("{OHLCV_DIR}/"))).await?;
            if any.is_empty() {
                return Ok(report);
            }
            return Err(RepositoryError::Misconfigured {
                backend: "parquet".into(),
                detail: format!(
                    "{} holds partitions but no manifest; compaction commits through the manifest, so \
                     rebuild it first (verify with repair)",
                    self.store().location()
                ),
            });
        };
        for key in manifest.series() {
            if PartitionPeriod::of(key.timeframe) != PartitionPeriod::Day {
                continue;
            }
            let months = self.months_to_compact(&manifest, &key, cutoff).await?;
            if !months.is_empty() {
                report.series += 1;
            }
            for (month, work) in months {
                self.compact_month(&key, month, &work, &mut report).await?;
            }
        }
        Ok(report)
    }

    /// The months of `key` with daily partitions ending at or before `cutoff`.
    async fn months_to_compact(
        &self,
        manifest: &Manifest,
        key: &SeriesKey,
        cutoff: DateTime<Utc>,
    ) -> Result<BTreeMap<Partition, MonthWork>, RepositoryError> {
        let old = |p: &Partition| p.period() == PartitionPeriod::Day && p.end() <= cutoff;
        let month_of = |p: Partition| Partition::containing(PartitionPeriod::Month, p.start());
        let listed: Vec<Partition> = manifest.partitions_of(key).into_iter().filter(old).collect();
        let mut months: BTreeMap<Partition, MonthWork> = BTreeMap::new();
        for &p in &listed {
            months.entry(month_of(p)).or_default().listed.push(p);
        }
        for p in self.stored_partitions(key).await?.into_iter().filter(old) {
            if !listed.contains(&p) {
                months.entry(month_of(p)).or_default().unlisted.push(p);
            }
        }
        Ok(months)
    }

    /// The archives of `key` in the store, oldest first (none, without a request, for
    /// timeframes that are not compacted).
    pub(super) async fn stored_archives(&self, key: &SeriesKey) -> Result<Vec<Partition>, RepositoryError> {
        if PartitionPeriod::of(key.timeframe) != PartitionPeriod::Day {
            return Ok(Vec::new());
        }
        let listed = self.store().list(&self.layout().full(&archive_dir(key))).await?;
        let mut found: Vec<Partition> = listed
            .iter()
            .filter_map(|m| self.layout().relative(&m.key).and_then(parse_object_key))
            .filter(|(k, p)| k == key && is_archive(k.timeframe, *p))
            .map(|(_, p)| p)
            .collect();
        found.sort();
        Ok(found)
    }

    /// Steps 1 to 6 of the module docs for one month.
    async fn compact_month(
        &self,
        key: &SeriesKey,
        month: Partition,
        work: &MonthWork,
        report: &mut CompactReport,
    ) -> Result<(), RepositoryError> {
        let full = self.layout().object_key(key, month);
        for attempt in 0..MAX_ATTEMPTS {
            let archive = self.read(key, month).await?;
            let originals: Vec<(Partition, Stored)> = stream::iter(work.listed.iter().copied())
                .map(|p| async move { Ok::<_, RepositoryError>(self.read(key, p).await?.map(|s| (p, s))) })
                .buffered(READ_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await?
                .into_iter()
                .flatten()
                .collect();
            if originals.is_empty() && work.unlisted.is_empty() {
                return Ok(());
            }
            let mut merged = archive.as_ref().map_or_else(|| OhlcvSeries::empty(key.clone()), |a| a.series.clone());
            for (_, original) in &originals {
                merged.merge(&original.series).map_err(|e| RepositoryError::corrupt(full.clone(), e))?;
            }
            let mut written = false;
            if !merged.is_empty() && archive.as_ref().is_none_or(|a| a.series != merged) {
                let bytes = self.encode(merged.clone()).await?;
                // The put replaces the previous archive: make sure the bytes hold the bars first.
                decodes_to(&full, &bytes, &merged).await?;
                let mode = archive.as_ref().map_or(PutMode::Create, |a| PutMode::Update { etag: a.etag.clone() });
                match self.store().put(&full, bytes, mode).await {
                    Ok(_) => written = true,
                    Err(ObjectStoreError::PreconditionFailed { .. } | ObjectStoreError::NotFound { .. }) => {
                        tokio::time::sleep(backoff(attempt)).await;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let Some(entry) = self.verify_archive(key, month, &merged, &originals).await? else {
                // No archive and no original with bars: only unlisted objects, which are not
                // compaction's to judge without an archive (`verify` reports them).
                return Ok(());
            };
            if !self.originals_unchanged(key, &originals).await? {
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            let mut changes = vec![Change::Put(archive_key(key, month), entry.clone())];
            // Entries of listed objects that are gone stay, so that `verify` keeps reporting the loss.
            changes.extend(originals.iter().map(|(p, _)| Change::Remove(object_key(key, *p))));
            manifest::update(self.store().as_ref(), self.layout(), &Change::Batch(changes), self.now()).await?;

            report.archives_written += usize::from(written);
            report.bars += originals.iter().map(|(_, s)| s.series.len() as u64).sum::<u64>();
            let size = |s: &Stored| s.entry.as_ref().map_or(0, |e| e.size);
            report.bytes_before +=
                originals.iter().map(|(_, s)| size(s)).sum::<u64>() + archive.as_ref().map_or(0, size);
            report.bytes_after += entry.size;
            for (p, _) in &originals {
                self.store().delete(&self.layout().object_key(key, *p)).await?;
                report.originals_deleted += 1;
            }
            return self.drop_leftovers(key, &merged, &work.unlisted, report).await;
        }
        Err(RepositoryError::Conflict {
            what: full,
            detail: format!("its daily partitions kept changing over {MAX_ATTEMPTS} compaction attempts"),
        })
    }

    /// Step 3: reads the archive back and checks it against what was merged and against every
    /// original; returns its manifest entry (`None` when there is no archive and nothing to put
    /// in one).
    async fn verify_archive(
        &self,
        key: &SeriesKey,
        month: Partition,
        merged: &OhlcvSeries,
        originals: &[(Partition, Stored)],
    ) -> Result<Option<manifest::ManifestEntry>, RepositoryError> {
        let full = self.layout().object_key(key, month);
        let Some(stored) = self.read(key, month).await? else {
            if merged.is_empty() {
                return Ok(None);
            }
            return Err(RepositoryError::corrupt(full, "the archive is missing right after it was written"));
        };
        if stored.series != *merged {
            return Err(RepositoryError::corrupt(full, "the archive read back differs from the bars merged into it"));
        }
        for (p, original) in originals {
            if !holds_unchanged(&stored.series, &original.series) {
                let detail = format!("the archive lacks or alters bars of {p}");
                return Err(RepositoryError::corrupt(full, detail));
            }
        }
        // `read` described the object from the bytes it fetched: size and md5 of the stored object.
        stored.entry.map(Some).ok_or_else(|| RepositoryError::corrupt(full, "the archive holds no bar"))
    }

    /// Step 4: whether every original still has the ETag it was read with.
    async fn originals_unchanged(
        &self,
        key: &SeriesKey,
        originals: &[(Partition, Stored)],
    ) -> Result<bool, RepositoryError> {
        for (p, original) in originals {
            match self.store().head(&self.layout().object_key(key, *p)).await {
                Ok(meta) if meta.etag == original.etag => {}
                Ok(_) | Err(ObjectStoreError::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// Step 6 for unlisted daily objects: deletes those whose every bar `archive` holds.
    async fn drop_leftovers(
        &self,
        key: &SeriesKey,
        archive: &OhlcvSeries,
        unlisted: &[Partition],
        report: &mut CompactReport,
    ) -> Result<(), RepositoryError> {
        for &p in unlisted {
            let Some(stored) = self.read(key, p).await? else { continue };
            if holds_unchanged(archive, &stored.series) {
                self.store().delete(&self.layout().object_key(key, p)).await?;
                report.originals_deleted += 1;
            } else {
                tracing::warn!(series = %key, partition = %p, "unlisted daily partition differs from its archive; kept");
                report.orphans_kept += 1;
            }
        }
        Ok(())
    }
}

/// Checks that `bytes` decode to `series` before they replace an archive.
async fn decodes_to(what: &str, bytes: &[u8], series: &OhlcvSeries) -> Result<(), RepositoryError> {
    let (bytes, expected) = (bytes.to_vec(), series.clone());
    let same = tokio::task::spawn_blocking(move || codec::decode(&bytes, expected.key()).is_ok_and(|d| d == expected))
        .await
        .unwrap_or(false);
    if same {
        Ok(())
    } else {
        Err(RepositoryError::corrupt(what, "the encoded archive does not decode to the merged bars"))
    }
}

/// Whether every bar of `part` is in `archive` with the same values.
fn holds_unchanged(archive: &OhlcvSeries, part: &OhlcvSeries) -> bool {
    let bars = archive.bars();
    part.bars()
        .iter()
        .all(|bar| bars.binary_search_by_key(&bar.open_time(), |b| b.open_time()).is_ok_and(|i| bars[i] == *bar))
}

/// Points the upsert parts of days that lie in a listed archive (on or before its last bar) at
/// that archive, one part per archive; the other parts keep their daily partition. `parts` are
/// in time order, as [`split`](super::repo) makes them.
pub(super) fn route_to_archives(
    parts: Vec<(Partition, OhlcvSeries)>,
    manifest: Option<&Manifest>,
) -> Result<Vec<(Partition, OhlcvSeries)>, RepositoryError> {
    let Some(manifest) = manifest else { return Ok(parts) };
    let mut routed: Vec<(Partition, OhlcvSeries)> = Vec::with_capacity(parts.len());
    for (partition, part) in parts {
        let target = archive_holding(manifest, part.key(), partition).unwrap_or(partition);
        match routed.last_mut() {
            Some((last, acc)) if *last == target && is_archive(part.key().timeframe, target) => {
                acc.merge(&part).map_err(|e| RepositoryError::Invalid { detail: e.to_string() })?;
            }
            _ => routed.push((target, part)),
        }
    }
    Ok(routed)
}

/// The listed archive that holds the day `partition` of `key`, if any.
fn archive_holding(manifest: &Manifest, key: &SeriesKey, partition: Partition) -> Option<Partition> {
    if PartitionPeriod::of(key.timeframe) != PartitionPeriod::Day || partition.period() != PartitionPeriod::Day {
        return None;
    }
    let month = Partition::containing(PartitionPeriod::Month, partition.start());
    let entry = manifest.objects.get(&archive_key(key, month))?;
    (partition.start() <= entry.last_open_time).then_some(month)
}

/// Orders partitions to read so that archives come first: a daily partition merged after its
/// archive wins where both hold a bar.
pub(super) fn archives_first(timeframe: Timeframe, partitions: &mut [Partition]) {
    partitions.sort_by_key(|p| (!is_archive(timeframe, *p), *p));
}

#[cfg(test)]
mod tests;
