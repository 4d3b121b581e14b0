//! Bars ⇄ Parquet bytes.
//!
//! Schema (the same bars for polars, pyarrow and DuckDB): `open_time` timestamp in
//! milliseconds with time zone `UTC`, `open` `high` `low` `close` Float64, `volume` UInt64,
//! `spread` UInt32 (nullable), `real_volume` UInt64 (nullable); one row per bar, ascending by
//! `open_time`. Symbol and timeframe are not stored: they are Hive partition columns of the
//! object key. Pages are compressed with zstd (polars' default level).
//!
//! Encoding is deterministic (one row group, single-threaded, no timestamps in the metadata):
//! the same bars always give the same bytes, so an unchanged partition keeps its md5.
//!
//! Every file carries a self-checksum in its key-value metadata, [`CHECKSUM_KEY`]: the hex md5
//! of the whole file with that 32-character value replaced by 32 `0`s. [`decode`] verifies it
//! before handing the bytes to the Parquet reader, because the reader aborts the process on
//! some damaged inputs (a corrupt page header makes it try to allocate exabytes). Files
//! without the key (written by other tools) are decoded without that check.
//!
//! These functions are CPU-bound; call them from `tokio::task::spawn_blocking`.

use std::io::Cursor;

use axia_domain::{Bar, OhlcvSeries, SeriesKey};
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use polars::prelude::{
    DataFrame, Int64Chunked, IntoColumn, IntoSeries, KeyValueMetadata, NamedFrom, ParallelStrategy, ParquetCompression,
    ParquetReader, ParquetWriter, PolarsError, SerReader, Series, TimeUnit, TimeZone,
};
use thiserror::Error;

/// The compression codec of every object written.
pub const COMPRESSION: &str = "zstd";

/// Key of the self-checksum in the file's key-value metadata (see the module docs).
pub const CHECKSUM_KEY: &str = "axia.md5";
const PLACEHOLDER: [u8; 32] = [b'0'; 32];
const MAGIC: &[u8; 4] = b"PAR1";

/// Why bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct CodecError(String);

impl CodecError {
    fn new(detail: impl Into<String>) -> Self {
        Self(detail.into())
    }
}

impl From<PolarsError> for CodecError {
    fn from(e: PolarsError) -> Self {
        Self(e.to_string())
    }
}

/// Encodes the bars of `series` as one Parquet file.
///
/// # Errors
/// [`CodecError`] if polars refuses the frame (not expected for valid bars).
pub fn encode(series: &OhlcvSeries) -> Result<Vec<u8>, CodecError> {
    let bars = series.bars();
    let millis: Vec<i64> = bars.iter().map(|b| b.open_time().timestamp_millis()).collect();
    let open_time = Int64Chunked::from_vec("open_time".into(), millis)
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_series()
        .into_column();
    let f64_column = |name: &str, value: fn(&Bar) -> f64| {
        Series::new(name.into(), bars.iter().map(value).collect::<Vec<f64>>()).into_column()
    };
    let columns = vec![
        open_time,
        f64_column("open", Bar::open),
        f64_column("high", Bar::high),
        f64_column("low", Bar::low),
        f64_column("close", Bar::close),
        Series::new("volume".into(), bars.iter().map(Bar::volume).collect::<Vec<u64>>()).into_column(),
        Series::new("spread".into(), bars.iter().map(Bar::spread).collect::<Vec<Option<u32>>>()).into_column(),
        Series::new("real_volume".into(), bars.iter().map(Bar::real_volume).collect::<Vec<Option<u64>>>())
            .into_column(),
    ];
    let mut frame = DataFrame::new(bars.len(), columns)?;
    let mut out = Vec::new();
    let placeholder = String::from_utf8_lossy(&PLACEHOLDER).into_owned();
    ParquetWriter::new(&mut out)
        .with_compression(ParquetCompression::Zstd(None))
        .set_parallel(false)
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(CHECKSUM_KEY.into(), placeholder)])))
        .finish(&mut frame)?;
    let slot =
        checksum_slot(&out).ok_or_else(|| CodecError::new("the checksum is not where the footer should hold it"))?;
    let digest = self_md5(&out, slot);
    out[slot..slot + PLACEHOLDER.len()].copy_from_slice(digest.as_bytes());
    Ok(out)
}

/// Start of the Thrift footer, when the bytes are framed like a Parquet file.
fn footer_start(bytes: &[u8]) -> Option<usize> {
    let len = bytes.len();
    if len < 12 || &bytes[..4] != MAGIC || &bytes[len - 4..] != MAGIC {
        return None;
    }
    let footer_len = u32::from_le_bytes(bytes[len - 8..len - 4].try_into().ok()?) as usize;
    let start = (len - 8).checked_sub(footer_len)?;
    (start >= 4).then_some(start)
}

/// Offset of the 32-byte checksum value in the footer, if the file has one.
fn checksum_slot(bytes: &[u8]) -> Option<usize> {
    let start = footer_start(bytes)?;
    // Thrift compact KeyValue: the key's bytes, then field 2 (binary, header 0x18) of length 32.
    let mut marker = CHECKSUM_KEY.as_bytes().to_vec();
    marker.extend_from_slice(&[0x18, 0x20]);
    let at = bytes[start..].windows(marker.len()).position(|w| w == marker.as_slice())?;
    let slot = start + at + marker.len();
    (slot + PLACEHOLDER.len() <= bytes.len()).then_some(slot)
}

/// md5 of the file with the checksum value replaced by the placeholder.
fn self_md5(bytes: &[u8], slot: usize) -> String {
    let mut md5 = Md5::new();
    md5.update(&bytes[..slot]);
    md5.update(PLACEHOLDER);
    md5.update(&bytes[slot + PLACEHOLDER.len()..]);
    hex::encode(md5.finalize())
}

/// Checks the framing and, when present, the self-checksum.
fn check_integrity(bytes: &[u8]) -> Result<(), CodecError> {
    if footer_start(bytes).is_none() {
        return Err(CodecError::new(format!(
            "not a Parquet file or truncated ({} bytes, no valid footer)",
            bytes.len()
        )));
    }
    if let Some(slot) = checksum_slot(bytes) {
        let stored = &bytes[slot..slot + PLACEHOLDER.len()];
        let actual = self_md5(bytes, slot);
        if stored != actual.as_bytes() {
            return Err(CodecError::new(format!(
                "checksum mismatch ({CHECKSUM_KEY} {} but the content hashes to {actual}): the object is damaged",
                String::from_utf8_lossy(stored)
            )));
        }
    }
    Ok(())
}

/// Decodes a Parquet file into a series of `key`, checking every row with [`Bar::new`] and
/// the whole with [`OhlcvSeries::new`] (order, duplicates, alignment).
///
/// `open_time` may be in any time unit and either UTC or naive (read as UTC); `spread` and
/// `real_volume` may be absent (read as null). Any other deviation is an error.
///
/// The self-checksum is verified first (see the module docs). The Parquet reader panics on
/// some damaged inputs; such a panic is caught and reported as a [`CodecError`] too.
///
/// # Errors
/// [`CodecError`] naming what is wrong (not Parquet, truncated, missing column, wrong type,
/// null in a required column, invalid bar, bars out of order).
pub fn decode(bytes: &[u8], key: &SeriesKey) -> Result<OhlcvSeries, CodecError> {
    check_integrity(bytes)?;
    std::panic::catch_unwind(|| decode_checked(bytes, key)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Err(CodecError::new(format!("the Parquet reader failed on damaged data: {why}")))
    })
}

fn decode_checked(bytes: &[u8], key: &SeriesKey) -> Result<OhlcvSeries, CodecError> {
    let frame = ParquetReader::new(Cursor::new(bytes)).read_parallel(ParallelStrategy::None).finish()?;
    let n = frame.height();
    let column = |name: &str| frame.column(name).map_err(|_| CodecError::new(format!("missing column `{name}`")));
    let typed = |name: &str, e: PolarsError| CodecError::new(format!("column `{name}` has the wrong type: {e}"));
    let required = |name: &str, row: usize| CodecError::new(format!("row {row}: `{name}` is null"));

    let open_time = column("open_time")?.datetime().map_err(|e| typed("open_time", e))?;
    let tz_ok = open_time.time_zone().as_ref().is_none_or(|tz| *tz == TimeZone::UTC);
    if !tz_ok {
        return Err(CodecError::new(format!("column `open_time` is not in UTC ({:?})", open_time.time_zone())));
    }
    let to_utc: fn(i64) -> Option<DateTime<Utc>> = match open_time.time_unit() {
        TimeUnit::Milliseconds => DateTime::from_timestamp_millis,
        TimeUnit::Microseconds => DateTime::from_timestamp_micros,
        TimeUnit::Nanoseconds => |v| Some(DateTime::from_timestamp_nanos(v)),
    };
    let open = column("open")?.f64().map_err(|e| typed("open", e))?;
    let high = column("high")?.f64().map_err(|e| typed("high", e))?;
    let low = column("low")?.f64().map_err(|e| typed("low", e))?;
    let close = column("close")?.f64().map_err(|e| typed("close", e))?;
    let volume = column("volume")?.u64().map_err(|e| typed("volume", e))?;
    let spread = match frame.column("spread") {
        Ok(c) => Some(c.u32().map_err(|e| typed("spread", e))?),
        Err(_) => None,
    };
    let real_volume = match frame.column("real_volume") {
        Ok(c) => Some(c.u64().map_err(|e| typed("real_volume", e))?),
        Err(_) => None,
    };

    let mut times = open_time.physical().iter();
    let (mut opens, mut highs, mut lows, mut closes) = (open.iter(), high.iter(), low.iter(), close.iter());
    let mut volumes = volume.iter();
    let mut spreads = spread.map(|c| c.iter());
    let mut real_volumes = real_volume.map(|c| c.iter());
    let mut bars = Vec::with_capacity(n);
    for row in 0..n {
        let raw_time = times.next().flatten().ok_or_else(|| required("open_time", row))?;
        let time = to_utc(raw_time).ok_or_else(|| CodecError::new(format!("row {row}: open_time out of range")))?;
        let open = opens.next().flatten().ok_or_else(|| required("open", row))?;
        let high = highs.next().flatten().ok_or_else(|| required("high", row))?;
        let low = lows.next().flatten().ok_or_else(|| required("low", row))?;
        let close = closes.next().flatten().ok_or_else(|| required("close", row))?;
        let volume = volumes.next().flatten().ok_or_else(|| required("volume", row))?;
        let spread = spreads.as_mut().and_then(|it| it.next().flatten());
        let real_volume = real_volumes.as_mut().and_then(|it| it.next().flatten());
        let bar = Bar::new(time, open, high, low, close, volume)
            .map_err(|e| CodecError::new(format!("row {row} ({time}): {e}")))?
            .with_spread(spread)
            .with_real_volume(real_volume);
        bars.push(bar);
    }
    OhlcvSeries::new(key.clone(), bars).map_err(|e| CodecError::new(format!("invalid series: {e}")))
}

#[cfg(test)]
mod tests {
    use axia_domain::{Symbol, Timeframe};
    use chrono::{TimeDelta, TimeZone as _};
    use rstest::rstest;

    use polars::prelude::DataType;

    use super::*;

    fn open_time_dtype() -> DataType {
        DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
    }

    fn key() -> SeriesKey {
        SeriesKey::new(Symbol::new("EURUSD").unwrap(), Timeframe::M1)
    }

    fn series(n: usize) -> OhlcvSeries {
        let t0 = Utc.with_ymd_and_hms(2025, 10, 16, 0, 0, 0).unwrap();
        let bars = (0..n)
            .map(|i| {
                let p = 1.1 + i as f64 * 1e-4;
                let bar = Bar::new(t0 + TimeDelta::minutes(i as i64), p, p + 2e-4, p - 1e-4, p + 1e-4, i as u64);
                let bar = bar.unwrap();
                if i % 2 == 0 { bar.with_spread(Some(i as u32)).with_real_volume(Some(7)) } else { bar }
            })
            .collect();
        OhlcvSeries::new(key(), bars).unwrap()
    }

    #[rstest]
    #[case(0)]
    #[case(1)]
    #[case(1440)]
    fn round_trips(#[case] n: usize) {
        let s = series(n);
        let bytes = encode(&s).unwrap();
        assert_eq!(decode(&bytes, &key()).unwrap(), s);
    }

    #[test]
    fn encoding_is_deterministic() {
        let s = series(500);
        assert_eq!(encode(&s).unwrap(), encode(&s.clone()).unwrap());
    }

    #[test]
    fn writes_the_documented_schema() {
        let bytes = encode(&series(3)).unwrap();
        let frame = ParquetReader::new(Cursor::new(&bytes)).finish().unwrap();
        let types: Vec<(String, DataType)> =
            frame.columns().iter().map(|c| (c.name().to_string(), c.dtype().clone())).collect();
        assert_eq!(
            types,
            [
                ("open_time".to_string(), open_time_dtype()),
                ("open".to_string(), DataType::Float64),
                ("high".to_string(), DataType::Float64),
                ("low".to_string(), DataType::Float64),
                ("close".to_string(), DataType::Float64),
                ("volume".to_string(), DataType::UInt64),
                ("spread".to_string(), DataType::UInt32),
                ("real_volume".to_string(), DataType::UInt64),
            ]
        );
    }

    #[rstest]
    #[case::garbage(b"not a parquet file".to_vec())]
    #[case::empty(Vec::new())]
    #[case::truncated(encode(&series(100)).unwrap()[..200].to_vec())]
    fn refuses_corrupt_bytes(#[case] bytes: Vec<u8>) {
        assert!(decode(&bytes, &key()).is_err());
    }

    #[test]
    fn damaged_bytes_are_refused_before_the_reader_sees_them() {
        let good = encode(&series(300)).unwrap();
        let slot = checksum_slot(&good).expect("a checksum");
        assert_eq!(&good[slot..slot + 32], self_md5(&good, slot).as_bytes());
        let mut state: u64 = 0x5eed;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let mut checked = 0;
        for _ in 0..500 {
            let mut bytes = good.clone();
            for _ in 0..3 {
                let i = next() as usize % bytes.len();
                bytes[i] ^= (next() as u8) | 1;
            }
            // A flip inside the checksum's marker leaves the file unchecked; skip those, since
            // the reader may abort on the other flips.
            if checksum_slot(&bytes) == Some(slot) {
                assert!(decode(&bytes, &key()).is_err(), "damage went unnoticed");
                checked += 1;
            }
        }
        assert!(checked > 450, "{checked}");
    }

    #[test]
    fn refuses_an_invalid_row() {
        // high below low, written around the checks.
        let t = Utc.with_ymd_and_hms(2025, 10, 16, 0, 0, 0).unwrap();
        let columns = vec![
            Int64Chunked::from_vec("open_time".into(), vec![t.timestamp_millis()])
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_series()
                .into_column(),
            Series::new("open".into(), [1.0]).into_column(),
            Series::new("high".into(), [0.5]).into_column(),
            Series::new("low".into(), [1.0]).into_column(),
            Series::new("close".into(), [1.0]).into_column(),
            Series::new("volume".into(), [1u64]).into_column(),
        ];
        let mut frame = DataFrame::new(1, columns).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
        let err = decode(&bytes, &key()).unwrap_err();
        assert!(err.to_string().contains("row 0"), "{err}");
    }
}
