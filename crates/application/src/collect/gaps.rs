//! The second request for the holes of a source's answer: each gap between two returned bars
//! (on the market calendar, so weekends are not gaps) is asked of the chain once more, in one
//! extra round. What stays missing is reported, not an error: markets have holidays.

use axia_domain::{OhlcvSeries, SeriesKey, TimeRange};

use super::{CollectOhlcvData, GapRefill};

impl CollectOhlcvData {
    /// `series` with whatever the second request filled, and what happened.
    pub(super) async fn refill_gaps(&self, key: &SeriesKey, series: OhlcvSeries) -> (OhlcvSeries, GapRefill) {
        let gaps = series.gaps();
        if gaps.is_empty() {
            return (series, GapRefill::default());
        }
        let mut report = GapRefill { found: gaps.len(), bars_requested: 0, bars_filled: 0, remaining: Vec::new() };
        let mut merged = series.clone();
        for gap in gaps.iter().take(self.config.max_gap_requests) {
            let Ok(range) = TimeRange::new(gap.start, gap.end) else { continue };
            report.bars_requested += gap.missing_bars.unwrap_or(0);
            match self.source.fetch_filling(key, range, self.retry()).await {
                Ok(Some(served)) => match merged.merge(&served.series) {
                    Ok(stats) => {
                        tracing::debug!(series = %key, source = served.source, inserted = stats.inserted, "gap refilled");
                    }
                    Err(e) => tracing::warn!(series = %key, source = served.source, error = %e, "gap answer refused"),
                },
                Ok(None) => tracing::debug!(series = %key, from = %gap.start, to = %gap.end, "gap still empty"),
                Err(e) => {
                    tracing::debug!(series = %key, from = %gap.start, to = %gap.end, error = %e, "gap request failed");
                }
            }
        }
        report.bars_filled = (merged.len() - series.len()) as u64;
        report.remaining = merged.gaps();
        (merged, report)
    }
}
