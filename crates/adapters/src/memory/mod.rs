//! In-process bar tiers: the honest fake used by tests ([`InMemoryOhlcvRepository`]) and the
//! L1 memory tier bounded by bytes and TTL ([`MemoryOhlcvRepository`], on moka).

mod cache;
mod fake;

pub use cache::{MemoryOhlcvRepository, MemoryTierConfig};
pub use fake::InMemoryOhlcvRepository;

use axia_domain::ports::{Coverage, RepositoryError, WriteSummary};
use axia_domain::{OhlcvSeries, TimeRange};

/// Merges `incoming` into `stored` (newer wins) and returns the summary.
pub(crate) fn merge_into(stored: &mut OhlcvSeries, incoming: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
    let stats = stored.merge(incoming).map_err(|e| RepositoryError::Invalid { detail: e.to_string() })?;
    Ok(WriteSummary {
        inserted: stats.inserted as u64,
        updated: stats.updated as u64,
        unchanged: stats.unchanged as u64,
        trimmed: 0,
    })
}

/// Removes the bars in `range`; returns how many.
pub(crate) fn remove_range(stored: &mut OhlcvSeries, range: TimeRange) -> u64 {
    let before = stored.len();
    let kept: Vec<_> = stored.bars().iter().filter(|b| !range.contains(b.open_time())).copied().collect();
    let removed = before - kept.len();
    if removed > 0 {
        // Removing bars keeps order and alignment, so the checks cannot fail.
        if let Ok(s) = OhlcvSeries::with_calendar(stored.key().clone(), stored.calendar(), kept) {
            *stored = s;
        }
    }
    removed as u64
}

/// First, last and count of a non-empty series.
pub(crate) fn coverage_of(series: &OhlcvSeries) -> Option<Coverage> {
    Some(Coverage { first: series.first()?.open_time(), last: series.last()?.open_time(), rows: series.len() as u64 })
}
