//! Parsing of time arguments (`--from`, `--to`): UTC dates and date-times.

use anyhow::bail;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Parses `2025-01-06`, `2025-01-06T09:00`, `2025-01-06 09:00:00`, or RFC 3339 with an offset.
/// Times without an offset are UTC.
///
/// # Errors
/// Any other text, with the accepted forms in the message.
pub fn parse_utc(text: &str) -> anyhow::Result<DateTime<Utc>> {
    let s = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    bail!("cannot read time {text:?}: use 2025-01-06, 2025-01-06T09:00:00 (UTC) or RFC 3339 with an offset")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("2025-01-06", Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).unwrap())]
    #[case("2025-01-06T09:30", Utc.with_ymd_and_hms(2025, 1, 6, 9, 30, 0).unwrap())]
    #[case("2025-01-06 09:30:15", Utc.with_ymd_and_hms(2025, 1, 6, 9, 30, 15).unwrap())]
    #[case("2025-01-06T09:00:00+02:00", Utc.with_ymd_and_hms(2025, 1, 6, 7, 0, 0).unwrap())]
    #[case("2025-01-06T09:00:00Z", Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap())]
    fn accepts(#[case] text: &str, #[case] want: DateTime<Utc>) {
        assert_eq!(parse_utc(text).unwrap(), want);
    }

    #[rstest]
    #[case("yesterday")]
    #[case("2025-13-01")]
    #[case("")]
    fn refuses(#[case] text: &str) {
        assert!(parse_utc(text).unwrap_err().to_string().contains("cannot read time"));
    }
}
