//! [`ParquetOhlcvRepository::verify`]: the history against its manifest (SPEC §4 S3), optionally
//! repaired, and seed 001's backup check of one date.
//!
//! 1. **Integrity.** Every manifest entry must name an object of the recorded size and md5, and
//!    every partition object under `{prefix}/ohlcv/` must have an entry. Sizes come from one
//!    listing; md5s from that listing when the store reports them (the local directory), else
//!    from a HEAD (S3 records the md5 as object metadata, and a plain single-part ETag is one),
//!    and only when neither knows it from a download. Other objects under `ohlcv/` are reported
//!    too: Hive readers (Athena, DuckDB, pyarrow) would read them as data.
//! 2. **Confirmation.** A writer running meanwhile (the cron collector) makes an object and its
//!    entry differ for a moment. Every problem found is checked again with a HEAD against a
//!    freshly read manifest; only those that persist are reported.
//! 3. **Repair** (optional). Orphans (a crash between the object write and the manifest update)
//!    and objects whose size or md5 differ from their entry are read, decoded and validated like
//!    a range read does. A valid object's entry is written by a conditional manifest update that
//!    applies only while the manifest still holds the entry found wrong, so a concurrent
//!    writer's newer entry wins. A corrupt object is reported and never listed. A missing or
//!    corrupt manifest is rebuilt from the objects (a corrupt one is kept aside as
//!    `manifest.corrupt-<time>.json`); a manifest of another format version is left alone.
//!    Entries of missing objects stay, so the loss stays visible until the data is restored or
//!    collected again.
//! 4. **Date** (optional). Every series whose coverage spans the UTC date must hold a bar
//!    opening that day when its calendar expects one within its coverage (FX weekends and
//!    holidays expect none). A day partition answers from its manifest entry; a month or year
//!    partition from its entry's first and last bar when one falls on the date, else it is read.
//!    A date that no series covers is a problem too: the data checked for is not there.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use axia_domain::TimeRange;
use axia_domain::ports::{ObjectMeta, ObjectStoreError, PutMode, RepositoryError};
use chrono::{NaiveDate, NaiveTime, TimeDelta};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::ParquetOhlcvRepository;
use super::compact::{archive_root, is_archive};
use super::layout::{OHLCV_DIR, Partition, PartitionPeriod, object_key, parse_object_key};
use super::manifest::{self, Applied, Change, MANIFEST_VERSION, Manifest, ManifestEntry};
use super::repo::{READ_CONCURRENCY, Stored};
use crate::object_store::md5_hex;

mod report;

pub use report::{DateCheck, Problem, ProblemKind, RepairAction, Repaired, VerifyOptions, VerifyReport};

const NAME: &str = "parquet";
/// HEAD requests in flight at once.
const HEAD_CONCURRENCY: usize = 16;

/// The manifest as found.
enum Found {
    Parsed(Manifest),
    Missing,
    Corrupt { detail: String, etag: String, bytes: Vec<u8> },
}

/// One verification in progress.
struct Run<'a> {
    repo: &'a ParquetOhlcvRepository,
    heads: AtomicUsize,
    downloads: AtomicUsize,
}

impl ParquetOhlcvRepository {
    /// Checks the objects against the manifest, optionally repairs the manifest and checks one
    /// date (see the [module docs](self)).
    ///
    /// # Errors
    /// Store errors ([`RepositoryError::Unavailable`], [`RepositoryError::Misconfigured`] for a
    /// missing bucket or refused credentials); [`RepositoryError::Misconfigured`] for a manifest
    /// of another format version; [`RepositoryError::Conflict`] when the manifest was replaced
    /// while the repair rebuilt it. Problems with the data are in the report, not errors.
    pub async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport, RepositoryError> {
        Run { repo: self, heads: AtomicUsize::new(0), downloads: AtomicUsize::new(0) }.verify(options).await
    }
}

impl Run<'_> {
    async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport, RepositoryError> {
        let layout = self.repo.layout();
        let found = self.load().await?;
        let (objects, foreign) = self.list().await?;
        let mut problems: BTreeMap<String, ProblemKind> =
            foreign.into_iter().map(|key| (key, ProblemKind::Foreign)).collect();
        let mut repaired = Vec::new();
        let entries;
        let manifest = match found {
            Found::Parsed(manifest) => {
                entries = manifest.objects.len();
                self.check_all(&manifest, &objects, &mut problems).await?;
                let mut manifest = self.confirm(manifest, &mut problems).await?;
                if options.repair {
                    self.repair(&mut problems, &mut repaired).await?;
                    if !repaired.is_empty() {
                        manifest = self.load_parsed().await?.unwrap_or(manifest);
                    }
                }
                Some(manifest)
            }
            Found::Missing if objects.is_empty() => {
                entries = 0;
                Some(Manifest::empty(self.repo.now()))
            }
            broken => {
                entries = 0;
                let (problem, replace) = match broken {
                    Found::Corrupt { detail, etag, bytes } => {
                        (ProblemKind::CorruptManifest { detail }, Some((etag, bytes)))
                    }
                    _ => (ProblemKind::MissingManifest { objects: objects.len() }, None),
                };
                if options.repair {
                    let rebuilt = self.rebuild(&objects, replace, &mut problems).await?;
                    repaired.push(Repaired { key: layout.manifest_key(), action: RepairAction::Rebuilt });
                    Some(rebuilt)
                } else {
                    problems.insert(layout.manifest_key(), problem);
                    None
                }
            }
        };
        let date = match (options.date, manifest.as_ref()) {
            (Some(date), Some(manifest)) => Some(self.check_date(manifest, date, &mut problems).await?),
            _ => None,
        };
        Ok(VerifyReport {
            location: self.repo.store().location(),
            manifest_key: layout.manifest_key(),
            entries,
            objects: objects.len(),
            heads: self.heads.load(Ordering::Relaxed),
            downloads: self.downloads.load(Ordering::Relaxed),
            date,
            problems: problems.into_iter().map(|(key, kind)| Problem { key, kind }).collect(),
            repaired,
        })
    }

    async fn load(&self) -> Result<Found, RepositoryError> {
        let key = self.repo.layout().manifest_key();
        match self.repo.store().get(&key).await {
            Ok((bytes, meta)) => match Manifest::from_json(&bytes) {
                Ok(manifest) => Ok(Found::Parsed(manifest)),
                Err(detail) => {
                    if let Some(version) = Manifest::other_version(&bytes) {
                        return Err(RepositoryError::Misconfigured {
                            backend: NAME.into(),
                            detail: format!(
                                "{key} is in manifest format version {version} and this axia reads version \
                                 {MANIFEST_VERSION}: use the axia release that wrote it"
                            ),
                        });
                    }
                    Ok(Found::Corrupt { detail, etag: meta.etag, bytes })
                }
            },
            Err(ObjectStoreError::NotFound { .. }) => Ok(Found::Missing),
            Err(e) => Err(e.into()),
        }
    }

    async fn load_parsed(&self) -> Result<Option<Manifest>, RepositoryError> {
        Ok(match self.load().await? {
            Found::Parsed(manifest) => Some(manifest),
            Found::Missing | Found::Corrupt { .. } => None,
        })
    }

    /// Partition objects (by key relative to the prefix; compaction archives included) and the
    /// store keys of other objects under `ohlcv/` and `archive/ohlcv/`.
    async fn list(&self) -> Result<(BTreeMap<String, ObjectMeta>, Vec<String>), RepositoryError> {
        let (store, layout) = (self.repo.store(), self.repo.layout());
        let mut listed = store.list(&layout.full(&format!("{OHLCV_DIR}/"))).await?;
        listed.extend(store.list(&layout.full(&archive_root())).await?);
        let mut objects = BTreeMap::new();
        let mut foreign = Vec::new();
        for meta in listed {
            match layout.relative(&meta.key).filter(|r| parse_object_key(r).is_some()) {
                Some(relative) => {
                    objects.insert(relative.to_string(), meta);
                }
                None => foreign.push(meta.key),
            }
        }
        Ok((objects, foreign))
    }

    /// Every entry against the listing, and every listed object against the manifest.
    async fn check_all(
        &self,
        manifest: &Manifest,
        objects: &BTreeMap<String, ObjectMeta>,
        problems: &mut BTreeMap<String, ProblemKind>,
    ) -> Result<(), RepositoryError> {
        let found: Vec<(String, Option<ProblemKind>)> = stream::iter(&manifest.objects)
            .map(|(relative, entry)| async move {
                let problem = self.check(Some(entry), objects.get(relative).cloned(), false).await?;
                Ok::<_, RepositoryError>((relative.clone(), problem))
            })
            .buffered(HEAD_CONCURRENCY)
            .try_collect()
            .await?;
        let orphans = objects
            .keys()
            .filter(|k| !manifest.objects.contains_key(*k))
            .map(|k| (k.clone(), Some(ProblemKind::Orphan)));
        let layout = self.repo.layout();
        for (relative, problem) in found.into_iter().chain(orphans) {
            if let Some(problem) = problem {
                problems.insert(layout.full(&relative), problem);
            }
        }
        Ok(())
    }

    /// Checks the mismatches again against a fresh manifest, with a HEAD each; returns that
    /// manifest (or `manifest` when nothing needed checking).
    async fn confirm(
        &self,
        manifest: Manifest,
        problems: &mut BTreeMap<String, ProblemKind>,
    ) -> Result<Manifest, RepositoryError> {
        let suspects: Vec<String> = problems.iter().filter(|(_, p)| p.is_mismatch()).map(|(k, _)| k.clone()).collect();
        if suspects.is_empty() {
            return Ok(manifest);
        }
        let Some(fresh) = self.load_parsed().await? else { return Ok(manifest) };
        let layout = self.repo.layout();
        let rechecked: Vec<(String, Option<ProblemKind>)> = stream::iter(suspects)
            .map(|key| {
                let fresh = &fresh;
                async move {
                    let relative = layout.relative(&key).unwrap_or(&key).to_string();
                    let meta = self.head(&key).await?;
                    let problem = self.check(fresh.objects.get(&relative), meta, true).await?;
                    Ok::<_, RepositoryError>((key, problem))
                }
            })
            .buffered(HEAD_CONCURRENCY)
            .try_collect()
            .await?;
        for (key, problem) in rechecked {
            match problem {
                Some(problem) => problems.insert(key, problem),
                None => problems.remove(&key),
            };
        }
        Ok(fresh)
    }

    /// The problem of one object against its entry; `None` when they agree. `meta` comes from
    /// a HEAD when `headed`, else from the listing.
    async fn check(
        &self,
        entry: Option<&ManifestEntry>,
        meta: Option<ObjectMeta>,
        headed: bool,
    ) -> Result<Option<ProblemKind>, RepositoryError> {
        let (entry, meta) = match (entry, meta) {
            (None, None) => return Ok(None),
            (None, Some(_)) => return Ok(Some(ProblemKind::Orphan)),
            (Some(_), None) => return Ok(Some(ProblemKind::MissingObject)),
            (Some(entry), Some(meta)) => (entry, meta),
        };
        if meta.size != entry.size {
            return Ok(Some(ProblemKind::SizeMismatch { manifest: entry.size, object: meta.size }));
        }
        let Some(md5) = self.md5_of(meta, headed).await? else { return Ok(Some(ProblemKind::MissingObject)) };
        Ok((md5 != entry.md5).then(|| ProblemKind::Md5Mismatch { manifest: entry.md5.clone(), object: md5 }))
    }

    /// The md5 of the object: as the store reports it, else from a HEAD, else from a download;
    /// `None` when the object vanished meanwhile.
    async fn md5_of(&self, meta: ObjectMeta, headed: bool) -> Result<Option<String>, RepositoryError> {
        if let Some(md5) = meta.md5 {
            return Ok(Some(md5));
        }
        if !headed {
            match self.head(&meta.key).await? {
                Some(ObjectMeta { md5: Some(md5), .. }) => return Ok(Some(md5)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
        self.downloads.fetch_add(1, Ordering::Relaxed);
        match self.repo.store().get(&meta.key).await {
            Ok((bytes, _)) => Ok(Some(md5_hex(&bytes))),
            Err(ObjectStoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, RepositoryError> {
        self.heads.fetch_add(1, Ordering::Relaxed);
        match self.repo.store().head(key).await {
            Ok(meta) => Ok(Some(meta)),
            Err(ObjectStoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads one partition object; `Err` holds the problem when it is corrupt.
    async fn read(&self, relative: &str) -> Result<Result<Option<Stored>, String>, RepositoryError> {
        let Some((series, partition)) = parse_object_key(relative) else { return Ok(Ok(None)) };
        self.downloads.fetch_add(1, Ordering::Relaxed);
        match self.repo.read(&series, partition).await {
            Ok(stored) => Ok(Ok(stored)),
            Err(RepositoryError::Corrupt { detail, .. }) => Ok(Err(detail)),
            Err(e) => Err(e),
        }
    }

    /// Lists orphans and fixes mismatched entries, one conditional manifest update each.
    async fn repair(
        &self,
        problems: &mut BTreeMap<String, ProblemKind>,
        repaired: &mut Vec<Repaired>,
    ) -> Result<(), RepositoryError> {
        let layout = self.repo.layout();
        let fixable: Vec<String> = problems
            .iter()
            .filter(|(_, p)| {
                matches!(p, ProblemKind::Orphan | ProblemKind::SizeMismatch { .. } | ProblemKind::Md5Mismatch { .. })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in fixable {
            let relative = layout.relative(&key).unwrap_or(&key).to_string();
            let seen = self.load_parsed().await?.and_then(|m| m.objects.get(&relative).cloned());
            let listed = seen.is_some();
            let entry = match self.read(&relative).await? {
                Ok(Some(Stored { entry: Some(entry), .. })) => entry,
                Ok(Some(Stored { entry: None, .. })) => {
                    let detail = "a Parquet file without bars".to_string();
                    problems.insert(key, ProblemKind::Corrupt { detail, listed });
                    continue;
                }
                Ok(None) => {
                    // Deleted meanwhile: whatever the manifest says now is checked again.
                    self.recheck(&key, problems).await?;
                    continue;
                }
                Err(detail) => {
                    problems.insert(key, ProblemKind::Corrupt { detail, listed });
                    continue;
                }
            };
            let change = Change::Repair { key: relative, seen, entry };
            match manifest::update(self.repo.store().as_ref(), layout, &change, self.repo.now()).await? {
                Applied::Changed => {
                    let action = if listed { RepairAction::Updated } else { RepairAction::Listed };
                    problems.remove(&key);
                    repaired.push(Repaired { key, action });
                }
                Applied::AlreadyHeld => {
                    problems.remove(&key);
                }
                // A writer changed the entry since: check what it wrote.
                Applied::Stale => self.recheck(&key, problems).await?,
            }
        }
        Ok(())
    }

    async fn recheck(&self, key: &str, problems: &mut BTreeMap<String, ProblemKind>) -> Result<(), RepositoryError> {
        let relative = self.repo.layout().relative(key).unwrap_or(key).to_string();
        let manifest = self.load_parsed().await?;
        let entry = manifest.as_ref().and_then(|m| m.objects.get(&relative));
        let meta = self.head(key).await?;
        match self.check(entry, meta, true).await? {
            Some(problem) => problems.insert(key.to_string(), problem),
            None => problems.remove(key),
        };
        Ok(())
    }

    /// Builds a manifest from every valid object and writes it over the missing (`replace`
    /// `None`) or corrupt one (its ETag and bytes, kept aside first).
    async fn rebuild(
        &self,
        objects: &BTreeMap<String, ObjectMeta>,
        replace: Option<(String, Vec<u8>)>,
        problems: &mut BTreeMap<String, ProblemKind>,
    ) -> Result<Manifest, RepositoryError> {
        let (store, layout) = (self.repo.store(), self.repo.layout());
        let read: Vec<(String, Result<Option<Stored>, String>)> = stream::iter(objects.keys())
            .map(|relative| async move { Ok::<_, RepositoryError>((relative.clone(), self.read(relative).await?)) })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let now = self.repo.now();
        let mut manifest = Manifest::empty(now);
        for (relative, stored) in read {
            match stored {
                Ok(Some(Stored { entry: Some(entry), .. })) => {
                    manifest.objects.insert(relative, entry);
                }
                Ok(Some(Stored { entry: None, .. })) => {
                    let detail = "a Parquet file without bars".to_string();
                    problems.insert(layout.full(&relative), ProblemKind::Corrupt { detail, listed: false });
                }
                Ok(None) => {}
                Err(detail) => {
                    problems.insert(layout.full(&relative), ProblemKind::Corrupt { detail, listed: false });
                }
            }
        }
        let key = layout.manifest_key();
        let mode = match replace {
            Some((etag, bytes)) => {
                let aside = layout.full(&format!("manifest.corrupt-{}.json", now.format("%Y%m%dT%H%M%S%.3fZ")));
                store.put(&aside, bytes, PutMode::Create).await?;
                PutMode::Update { etag }
            }
            None => PutMode::Create,
        };
        match store.put(&key, manifest.to_json(), mode).await {
            Ok(_) => Ok(manifest),
            Err(ObjectStoreError::PreconditionFailed { .. } | ObjectStoreError::NotFound { .. }) => {
                Err(RepositoryError::Conflict {
                    what: key,
                    detail: "another writer replaced the manifest while it was being rebuilt: verify again".into(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Seed 001's backup check of one UTC date (see the module docs).
    async fn check_date(
        &self,
        manifest: &Manifest,
        date: NaiveDate,
        problems: &mut BTreeMap<String, ProblemKind>,
    ) -> Result<DateCheck, RepositoryError> {
        let layout = self.repo.layout();
        let start = date.and_time(NaiveTime::MIN).and_utc();
        let end = start + TimeDelta::days(1);
        let day = TimeRange::new(start, end).map_err(|e| RepositoryError::Invalid { detail: e.to_string() })?;
        let mut check = DateCheck { date, series: 0, with_bars: 0, closed: 0 };
        for series in manifest.series() {
            let Some(coverage) = manifest.coverage(&series) else { continue };
            if coverage.first >= end || coverage.last < start {
                continue;
            }
            check.series += 1;
            // Only the part of the day inside the coverage: a series collected up to 03:00 owes
            // no bar opening at 21:00.
            let (from, to) = (coverage.first.max(start), (coverage.last + TimeDelta::seconds(1)).min(end));
            let calendar = series.default_calendar();
            if calendar.trading_opens(from, to, series.timeframe).next().is_none() {
                check.closed += 1;
                continue;
            }
            // The day's own partition, and for M1 / M5 the month's compaction archive.
            let own = Partition::of_bar(series.timeframe, start);
            let archive = Partition::containing(PartitionPeriod::Month, start);
            let mut candidates = vec![own];
            if is_archive(series.timeframe, archive) {
                candidates.push(archive);
            }
            let mut present = false;
            for partition in candidates {
                let relative = object_key(&series, partition);
                match self.holds_bars(manifest, &relative, day).await? {
                    Ok(found) => present = found,
                    Err(detail) => {
                        problems.insert(layout.full(&relative), ProblemKind::Corrupt { detail, listed: true });
                    }
                }
                if present {
                    break;
                }
            }
            if present {
                check.with_bars += 1;
            } else {
                let relative = object_key(&series, own);
                problems
                    .entry(layout.full(&relative))
                    .or_insert(ProblemKind::NoBarsOnDate { series: series.to_string(), date });
            }
        }
        if check.series == 0 {
            problems.insert(layout.manifest_key(), ProblemKind::DateNotCovered { date });
        }
        Ok(check)
    }

    /// Whether the listed partition `relative` holds a bar in `day`: from its entry's first and
    /// last bar when that settles it, else by reading it (`Err` when it is corrupt).
    async fn holds_bars(
        &self,
        manifest: &Manifest,
        relative: &str,
        day: TimeRange,
    ) -> Result<Result<bool, String>, RepositoryError> {
        Ok(match manifest.objects.get(relative) {
            None => Ok(false),
            Some(e) if day.contains(e.first_open_time) || day.contains(e.last_open_time) => Ok(true),
            Some(e) if e.last_open_time < day.start() || e.first_open_time >= day.end() => Ok(false),
            Some(_) => self.read(relative).await?.map(|s| s.is_some_and(|s| !s.series.slice(day).is_empty())),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axia_domain::ports::{ObjectStore, OhlcvDataRepository};
    use axia_domain::{Bar, OhlcvSeries, SeriesKey, Symbol, Timeframe};
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::object_store::InMemoryObjectStore;

    fn series() -> OhlcvSeries {
        let key = SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::H1);
        let start = Utc.with_ymd_and_hms(2025, 10, 16, 0, 0, 0).unwrap();
        let bars = (0..30).map(|i| Bar::new(start + TimeDelta::hours(i), 1.1, 1.2, 1.0, 1.15, 10).unwrap()).collect();
        OhlcvSeries::new(key, bars).unwrap()
    }

    #[tokio::test]
    async fn problems_serialise_with_their_kind_and_read_as_one_line() {
        let store = Arc::new(InMemoryObjectStore::new());
        let repo = ParquetOhlcvRepository::new(Arc::clone(&store) as Arc<dyn ObjectStore>, "");
        repo.upsert(&series()).await.unwrap();
        let key = "ohlcv/symbol=EURUSD/timeframe=H1/month=2025-10/data.parquet";
        store.put(key, b"0123".to_vec(), PutMode::Overwrite).await.unwrap();
        let report = repo.verify(&VerifyOptions::default()).await.unwrap();
        assert_eq!(report.problems.len(), 1, "{report:?}");
        let json = serde_json::to_value(&report.problems[0]).unwrap();
        assert_eq!(json["key"], key);
        assert_eq!(json["problem"], "size_mismatch");
        assert_eq!(json["object"], 4);
        let line = report.problems[0].kind.to_string();
        assert!(line.starts_with("size 4 bytes does not match the manifest's ") && !line.contains('\n'), "{line}");
        assert_eq!(serde_json::to_value(RepairAction::Listed).unwrap(), "listed");
    }

    #[tokio::test]
    async fn an_empty_store_verifies_and_no_date_is_covered() {
        let repo = ParquetOhlcvRepository::new(Arc::new(InMemoryObjectStore::new()), "p");
        assert!(repo.verify(&VerifyOptions::default()).await.unwrap().is_ok());
        let date = NaiveDate::from_ymd_opt(2025, 10, 16);
        let report = repo.verify(&VerifyOptions { date, repair: true }).await.unwrap();
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].key, "p/manifest.json");
        assert!(matches!(report.problems[0].kind, ProblemKind::DateNotCovered { .. }));
        assert!(report.repaired.is_empty());
    }
}
