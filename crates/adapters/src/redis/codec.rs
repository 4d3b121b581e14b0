//! The compact binary encoding of one bar as a sorted-set member.
//!
//! Layout (big-endian throughout):
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..8 | open time, epoch seconds (`i64`) |
//! | 8..40 | open, high, low, close (`f64` each) |
//! | 40..48 | volume (`u64`) |
//! | 48 | flags: bit 0 spread present, bit 1 real volume present |
//! | 49.. | spread (`u32`) when flagged, then real volume (`u64`) when flagged |
//!
//! The open time comes first so that the member of one open time is also found by its bytes,
//! and the bytes of two equal bars are equal (an upsert compares them to count `unchanged`).

use axia_domain::Bar;
use chrono::DateTime;

/// Length of a member without the optional fields.
pub const BASE_LEN: usize = 49;
/// Longest member (both optional fields present).
pub const MAX_LEN: usize = BASE_LEN + 4 + 8;

const HAS_SPREAD: u8 = 0b01;
const HAS_REAL_VOLUME: u8 = 0b10;

/// Encodes `bar` (its open time truncated to whole seconds: bars are aligned on their timeframe).
#[must_use]
pub fn encode(bar: &Bar) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_LEN);
    out.extend_from_slice(&bar.open_time().timestamp().to_be_bytes());
    for price in [bar.open(), bar.high(), bar.low(), bar.close()] {
        out.extend_from_slice(&price.to_be_bytes());
    }
    out.extend_from_slice(&bar.volume().to_be_bytes());
    let mut flags = 0;
    if bar.spread().is_some() {
        flags |= HAS_SPREAD;
    }
    if bar.real_volume().is_some() {
        flags |= HAS_REAL_VOLUME;
    }
    out.push(flags);
    if let Some(spread) = bar.spread() {
        out.extend_from_slice(&spread.to_be_bytes());
    }
    if let Some(real_volume) = bar.real_volume() {
        out.extend_from_slice(&real_volume.to_be_bytes());
    }
    out
}

/// The open time (epoch seconds) of an encoded member, read from its first eight bytes.
///
/// # Errors
/// A description of the problem when the member is shorter than eight bytes.
pub fn open_time_secs(bytes: &[u8]) -> Result<i64, String> {
    let head: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("member of {} bytes is too short for an open time", bytes.len()))?;
    Ok(i64::from_be_bytes(head))
}

/// Decodes a member written by [`encode`].
///
/// # Errors
/// A description of the problem when the member is truncated, too long, has unknown flags, an
/// impossible time or prices that do not make a valid bar.
pub fn decode(bytes: &[u8]) -> Result<Bar, String> {
    if bytes.len() < BASE_LEN {
        return Err(format!("member of {} bytes is shorter than {BASE_LEN}", bytes.len()));
    }
    let mut reader = Reader { bytes, at: 0 };
    let secs = i64::from_be_bytes(reader.take()?);
    let open = f64::from_be_bytes(reader.take()?);
    let high = f64::from_be_bytes(reader.take()?);
    let low = f64::from_be_bytes(reader.take()?);
    let close = f64::from_be_bytes(reader.take()?);
    let volume = u64::from_be_bytes(reader.take()?);
    let [flags] = reader.take::<1>()?;
    if flags & !(HAS_SPREAD | HAS_REAL_VOLUME) != 0 {
        return Err(format!("unknown flags {flags:#04x}"));
    }
    let spread = if flags & HAS_SPREAD == 0 { None } else { Some(u32::from_be_bytes(reader.take()?)) };
    let real_volume = if flags & HAS_REAL_VOLUME == 0 { None } else { Some(u64::from_be_bytes(reader.take()?)) };
    if reader.at != bytes.len() {
        return Err(format!("{} trailing bytes after the bar", bytes.len() - reader.at));
    }
    let open_time = DateTime::from_timestamp(secs, 0).ok_or_else(|| format!("open time {secs} is out of range"))?;
    let bar = Bar::new(open_time, open, high, low, close, volume).map_err(|e| format!("bar at {open_time}: {e}"))?;
    Ok(bar.with_spread(spread).with_real_volume(real_volume))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let chunk: [u8; N] = self
            .bytes
            .get(self.at..self.at + N)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("member truncated at byte {} of {}", self.at, self.bytes.len()))?;
        self.at += N;
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bar_strategy() -> impl Strategy<Value = Bar> {
        (
            -2_000_000_000i64..4_000_000_000i64,
            1e-6f64..1e6,
            0.0f64..1.0,
            0.0f64..1.0,
            0.0f64..1.0,
            any::<u64>(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|(secs, low, span, o, c, volume, spread, real_volume)| {
                let high = low * (1.0 + span);
                let open = (low + (high - low) * o).clamp(low, high);
                let close = (low + (high - low) * c).clamp(low, high);
                let t = DateTime::from_timestamp(secs, 0).expect("in range");
                Bar::new(t, open, high, low, close, volume)
                    .expect("valid bar")
                    .with_spread(spread)
                    .with_real_volume(real_volume)
            })
    }

    proptest! {
        #[test]
        fn redis_codec_round_trips(bar in bar_strategy()) {
            let bytes = encode(&bar);
            prop_assert!(bytes.len() >= BASE_LEN && bytes.len() <= MAX_LEN);
            prop_assert_eq!(open_time_secs(&bytes).expect("time"), bar.open_time().timestamp());
            let back = decode(&bytes).expect("decodes");
            prop_assert_eq!(back, bar);
            prop_assert_eq!(encode(&back), bytes);
        }

        #[test]
        fn redis_codec_rejects_every_truncation(bar in bar_strategy(), cut in 0usize..MAX_LEN) {
            let bytes = encode(&bar);
            if cut < bytes.len() {
                prop_assert!(decode(&bytes[..cut]).is_err());
            }
        }
    }

    #[test]
    fn redis_codec_rejects_bad_members() {
        let t = DateTime::from_timestamp(1_756_684_800, 0).expect("time");
        let bar = Bar::new(t, 1.1, 1.2, 1.0, 1.15, 7).expect("bar");
        let good = encode(&bar);
        assert_eq!(good.len(), BASE_LEN);
        assert_eq!(&good[..8], &1_756_684_800i64.to_be_bytes());
        let mut flags = good.clone();
        flags[48] = 0x80;
        assert!(decode(&flags).unwrap_err().contains("flags"));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(&trailing).unwrap_err().contains("trailing"));
        let mut nan = good.clone();
        nan[8..16].copy_from_slice(&f64::NAN.to_be_bytes());
        assert!(decode(&nan).is_err());
        assert!(open_time_secs(&good[..7]).is_err());
    }
}
