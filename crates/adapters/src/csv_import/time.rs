//! Time stamps and counts of bar files.
//!
//! A hand-written scanner rather than a list of `chrono` format strings tried in turn: one pass
//! per value whatever the syntax (files hold millions of rows), and one place that decides what
//! is accepted.

use axia_domain::MarketCalendar;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use super::SourceTz;

/// What the time syntaxes accepted look like, for error messages.
pub(super) const TIME_SYNTAXES: &str = "expected ISO 8601 such as 2025-01-06T09:00:00Z, 2025-01-06 09:00:00+02:00, \
     2025-01-06 09:00, 2025.01.06 09:00:00, a date such as 2025-01-06 (daily and longer bars), \
     or unix epoch seconds or milliseconds";

/// A parsed time stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    /// The instant (UTC).
    pub(super) at: DateTime<Utc>,
    /// True when the text held a date without a time of day.
    pub(super) date_only: bool,
}

/// Parses a time stamp. An explicit offset (`Z`, `+02:00`) wins over `tz`; epoch values are UTC.
pub(super) fn parse_time(text: &str, tz: SourceTz) -> Result<Stamp, String> {
    let s = text.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return parse_digits(s);
    }
    let mut cur = Cursor { s: s.as_bytes(), pos: 0 };
    let date = cur.date().ok_or_else(|| TIME_SYNTAXES.to_owned())?;
    if cur.at_end() {
        let naive = date.and_time(NaiveTime::MIN);
        return Ok(Stamp { at: to_utc(naive, None, tz), date_only: true });
    }
    if !cur.eat(b'T') && !cur.eat(b't') && !cur.eat(b' ') {
        return Err(TIME_SYNTAXES.to_owned());
    }
    let time = cur.time().ok_or_else(|| TIME_SYNTAXES.to_owned())?;
    let offset = cur.offset().ok_or_else(|| TIME_SYNTAXES.to_owned())?;
    if !cur.at_end() {
        return Err(TIME_SYNTAXES.to_owned());
    }
    Ok(Stamp { at: to_utc(date.and_time(time), offset, tz), date_only: false })
}

/// Epoch seconds (up to 11 digits), epoch milliseconds (12 to 16 digits), or `YYYYMMDD`.
fn parse_digits(s: &str) -> Result<Stamp, String> {
    if s.len() == 8 {
        // Eight digits as epoch seconds would be 1970–1973: no bar file means that.
        let date = NaiveDate::parse_from_str(s, "%Y%m%d").map_err(|_| TIME_SYNTAXES.to_owned())?;
        return Ok(Stamp { at: date.and_time(NaiveTime::MIN).and_utc(), date_only: true });
    }
    let n: i64 = s.parse().map_err(|_| format!("epoch value out of range ({TIME_SYNTAXES})"))?;
    let at = match s.len() {
        0..=11 => DateTime::from_timestamp(n, 0),
        12..=16 => DateTime::from_timestamp_millis(n),
        _ => None,
    };
    at.map(|at| Stamp { at, date_only: false }).ok_or_else(|| format!("epoch value out of range ({TIME_SYNTAXES})"))
}

fn to_utc(naive: NaiveDateTime, explicit: Option<FixedOffset>, tz: SourceTz) -> DateTime<Utc> {
    match explicit {
        Some(offset) => wall_to_utc(naive, SourceTz::Fixed(offset)),
        None => wall_to_utc(naive, tz),
    }
}

/// A wall time on the clock `tz` as UTC (see [`SourceTz::to_utc`]).
pub(super) fn wall_to_utc(naive: NaiveDateTime, tz: SourceTz) -> DateTime<Utc> {
    match tz {
        SourceTz::Fixed(offset) => (naive - TimeDelta::seconds(i64::from(offset.local_minus_utc()))).and_utc(),
        SourceTz::Utc => naive.and_utc(),
        SourceTz::NyClose => MarketCalendar::Fx.from_local(naive),
    }
}

/// Parses `+02:00`, `+0200`, `+2`, `-05:30` (sign required). Offsets beyond ±14 h are refused.
pub(super) fn parse_offset(s: &str) -> Option<FixedOffset> {
    let mut cur = Cursor { s: s.as_bytes(), pos: 0 };
    let offset = cur.signed_offset()?;
    cur.at_end().then_some(offset)
}

/// A non-negative whole count; `1413.0` is accepted, `-3` and `3.5` are not.
pub(super) fn parse_count(s: &str) -> Result<u64, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let f: f64 = s.parse().map_err(|_| "not a number".to_owned())?;
    if !f.is_finite() {
        return Err("not a finite number".into());
    }
    if f < 0.0 {
        return Err("must not be negative".into());
    }
    if f.fract() != 0.0 {
        return Err("not a whole number".into());
    }
    if f >= 1e18 {
        return Err("too large".into());
    }
    // Finite, non-negative, integral and below 1e18 (checked above): the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(f as u64)
}

/// A byte cursor over an ASCII time stamp.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Between `min` and `max` ASCII digits as a number.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.pos;
        let mut n: u32 = 0;
        while self.pos - start < max {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    n = n * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        (self.pos - start >= min).then_some(n)
    }

    /// `YYYY-MM-DD`, `YYYY.MM.DD` or `YYYY/MM/DD`.
    fn date(&mut self) -> Option<NaiveDate> {
        let year = self.number(4, 4)?;
        let sep = self.peek().filter(|b| matches!(b, b'-' | b'.' | b'/'))?;
        self.pos += 1;
        let month = self.number(1, 2)?;
        if !self.eat(sep) {
            return None;
        }
        let day = self.number(1, 2)?;
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
    }

    /// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff…`.
    fn time(&mut self) -> Option<NaiveTime> {
        let hour = self.number(1, 2)?;
        if !self.eat(b':') {
            return None;
        }
        let minute = self.number(2, 2)?;
        let (mut second, mut nanos) = (0, 0);
        if self.eat(b':') {
            second = self.number(2, 2)?;
            if self.eat(b'.') || self.eat(b',') {
                let start = self.pos;
                let frac = self.number(1, 9)?;
                let digits = u32::try_from(self.pos - start).ok()?;
                nanos = frac * 10u32.pow(9 - digits);
                // Digits beyond nanoseconds carry nothing a bar open time can use.
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    }

    /// What follows the time: nothing, `Z`, ` UTC`, or a signed offset (possibly after a space).
    /// `None` when something unreadable follows; `Some(None)` when there is no offset.
    #[allow(clippy::option_option)]
    fn offset(&mut self) -> Option<Option<FixedOffset>> {
        while self.eat(b' ') {}
        if self.at_end() {
            return Some(None);
        }
        let rest = &self.s[self.pos..];
        if rest.eq_ignore_ascii_case(b"z") || rest.eq_ignore_ascii_case(b"utc") || rest.eq_ignore_ascii_case(b"gmt") {
            self.pos = self.s.len();
            return Some(FixedOffset::east_opt(0));
        }
        self.signed_offset().map(Some)
    }

    fn signed_offset(&mut self) -> Option<FixedOffset> {
        let sign = match self.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.pos += 1;
        let start = self.pos;
        let hours = self.number(1, 2)?;
        // `+02:00`, or `+0200` (two hour digits then two minute digits), or `+2` / `+02`.
        let minutes_follow =
            self.eat(b':') || (self.pos - start == 2 && self.peek().is_some_and(|b| b.is_ascii_digit()));
        let minutes = if minutes_follow { self.number(2, 2)? } else { 0 };
        if hours > 14 || minutes > 59 {
            return None;
        }
        let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
        FixedOffset::east_opt(sign * seconds)
    }
}
