//! The JSON of `/v8/finance/chart`, and its conversion into checked bars on our calendar.
//!
//! ```json
//! {"chart":{"result":[{"meta":{"gmtoffset":0,"exchangeTimezoneName":"Europe/London",
//!   "dataGranularity":"1m",...},"timestamp":[...],
//!   "indicators":{"quote":[{"open":[...],"high":[...],"low":[...],"close":[...],"volume":[...]}]}}],
//!  "error":null}}
//! ```
//! Timestamps are UTC unix seconds. A minute without trades has `null` prices; FX has volume 0
//! or no volume array. A result without `timestamp` holds no bars.

use axia_domain::{Bar, MarketCalendar};
use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde::Deserialize;

use super::symbols::Interval;

/// The whole answer.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    pub(crate) chart: Chart,
}

/// `chart`: results or an error.
#[derive(Debug, Deserialize)]
pub(crate) struct Chart {
    #[serde(default)]
    pub(crate) result: Option<Vec<ChartResult>>,
    #[serde(default)]
    pub(crate) error: Option<ChartError>,
}

/// `chart.error`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChartError {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) description: String,
}

/// One element of `chart.result`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChartResult {
    #[serde(default)]
    pub(crate) meta: Meta,
    #[serde(default)]
    pub(crate) timestamp: Option<Vec<i64>>,
    #[serde(default)]
    pub(crate) indicators: Option<Indicators>,
}

/// The fields of `meta` that matter here.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meta {
    #[serde(default)]
    pub(crate) gmtoffset: Option<i64>,
    #[serde(default)]
    pub(crate) exchange_timezone_name: Option<String>,
    #[serde(default)]
    pub(crate) data_granularity: Option<String>,
}

/// `indicators`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Indicators {
    #[serde(default)]
    pub(crate) quote: Vec<Quote>,
}

/// `indicators.quote[0]`: one array per field, parallel to `timestamp`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Quote {
    #[serde(default)]
    open: Option<Vec<Option<f64>>>,
    #[serde(default)]
    high: Option<Vec<Option<f64>>>,
    #[serde(default)]
    low: Option<Vec<Option<f64>>>,
    #[serde(default)]
    close: Option<Vec<Option<f64>>>,
    #[serde(default)]
    volume: Option<Vec<Option<f64>>>,
}

/// The bars of one answer, and what was left out.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Checked bars in answer order (duplicates possible).
    pub(crate) bars: Vec<Bar>,
    /// Entries with a `null` price (no trades then).
    pub(crate) null_entries: usize,
    /// Entries whose prices break the bar rules: `(time, why)`.
    pub(crate) invalid: Vec<(DateTime<Utc>, String)>,
}

/// Turns one result into bars stamped on `calendar`.
///
/// Intraday bars keep their UTC open, floored to the interval (Yahoo stamps the live bar with the
/// last trade time; flooring makes it collide with, and replace, its own bar). Daily and coarser
/// bars are stamped by Yahoo at the session start in exchange time; their exchange-local date
/// (timestamp + `gmtoffset`) names the trading day, week or month, which opens where our calendar
/// says (an FX day at 17:00 New York).
///
/// # Errors
/// A message for `InvalidResponse` when the arrays do not line up or a timestamp is impossible.
pub(crate) fn to_bars(result: &ChartResult, interval: Interval, calendar: MarketCalendar) -> Result<Parsed, String> {
    let Some(timestamps) = &result.timestamp else { return Ok(Parsed::default()) };
    let quote = result
        .indicators
        .as_ref()
        .and_then(|i| i.quote.first())
        .ok_or_else(|| format!("{} timestamps but no indicators.quote", timestamps.len()))?;
    let n = timestamps.len();
    let column = |name: &str, values: &Option<Vec<Option<f64>>>| -> Result<Vec<Option<f64>>, String> {
        match values {
            Some(v) if v.len() == n => Ok(v.clone()),
            Some(v) => Err(format!("{name} has {} entries for {n} timestamps", v.len())),
            None if n == 0 => Ok(Vec::new()),
            None => Err(format!("indicators.quote has no {name} array")),
        }
    };
    let (open, high, low, close) = (
        column("open", &quote.open)?,
        column("high", &quote.high)?,
        column("low", &quote.low)?,
        column("close", &quote.close)?,
    );
    let volume = match &quote.volume {
        Some(v) => column("volume", &Some(v.clone()))?,
        None => vec![None; n],
    };
    let offset = TimeDelta::seconds(result.meta.gmtoffset.unwrap_or(0));
    let tf = interval.timeframe();
    let mut parsed = Parsed::default();
    for (i, &ts) in timestamps.iter().enumerate() {
        let at = DateTime::from_timestamp(ts, 0).ok_or_else(|| format!("timestamp {ts} is out of range"))?;
        let (Some(o), Some(h), Some(l), Some(c)) = (open[i], high[i], low[i], close[i]) else {
            parsed.null_entries += 1;
            continue;
        };
        let open_time = if interval.is_dated() {
            let local_date = (at + offset).date_naive();
            calendar.align(calendar.from_local(local_date.and_time(NaiveTime::MIN)), tf)
        } else {
            calendar.align(at, tf)
        };
        let vol = volume[i].filter(|v| v.is_finite() && *v > 0.0).map_or(0, |v| v.round() as u64);
        match Bar::new(open_time, o, h, l, c, vol) {
            Ok(bar) => parsed.bars.push(bar),
            Err(e) => parsed.invalid.push((at, e.to_string())),
        }
    }
    Ok(parsed)
}

/// Sorts bars by open time and keeps, per open time, the one that came last (Yahoo repeats the
/// live bar; a later window repeats a boundary bar).
pub(crate) fn dedup_last_wins(mut bars: Vec<Bar>) -> Vec<Bar> {
    // A stable sort keeps the answer order among equal open times.
    bars.sort_by_key(Bar::open_time);
    let mut out: Vec<Bar> = Vec::with_capacity(bars.len());
    for bar in bars {
        match out.last_mut() {
            Some(last) if last.open_time() == bar.open_time() => *last = bar,
            _ => out.push(bar),
        }
    }
    out
}

/// At most `max` characters of a body, for error messages.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
