//! In-process bar tiers: the honest fake used by tests ([`InMemoryOhlcvRepository`]) and the
//! L1 memory tier bounded by bytes and TTL ([`MemoryOhlcvRepository`], on moka), and the
//! in-process fake of the trading-state ports ([`InMemoryStateStore`]).

mod cache;
mod fake;
mod state;

pub use cache::{MemoryOhlcvRepository, MemoryTierConfig};
pub use fake::InMemoryOhlcvRepository;
pub use state::InMemoryStateStore;

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

/// Adds the bars of `incoming` that `stored` lacks, never replacing a stored bar (write-back).
pub(crate) fn fill_into(stored: &mut OhlcvSeries, incoming: &OhlcvSeries) -> Result<WriteSummary, RepositoryError> {
    let (absent, present) = axia_domain::ports::absent_bars(stored, incoming);
    let mut summary = WriteSummary { unchanged: present, ..WriteSummary::default() };
    if !absent.is_empty() {
        let absent = OhlcvSeries::with_calendar(incoming.key().clone(), incoming.calendar(), absent)
            .map_err(|e| RepositoryError::Invalid { detail: e.to_string() })?;
        summary.inserted = merge_into(stored, &absent)?.inserted;
    }
    Ok(summary)
}

/// Removes the bars in `range`; returns how many.
pub(crate) fn remove_range(stored: &mut OhlcvSeries, range: TimeRange) -> u64 {
    let bars = stored.bars();
    let from = bars.partition_point(|b| b.open_time() < range.start());
    let to = bars.partition_point(|b| b.open_time() < range.end()).max(from);
    if to == from {
        return 0;
    }
    let kept: Vec<_> = bars[..from].iter().chain(&bars[to..]).copied().collect();
    // Removing bars keeps order and alignment, so the series checks cannot fail.
    if let Ok(s) = OhlcvSeries::with_calendar(stored.key().clone(), stored.calendar(), kept) {
        *stored = s;
    }
    (to - from) as u64
}

/// First, last and count of a non-empty series.
pub(crate) fn coverage_of(series: &OhlcvSeries) -> Option<Coverage> {
    Some(Coverage { first: series.first()?.open_time(), last: series.last()?.open_time(), rows: series.len() as u64 })
}
