//! Market calendars: when a market trades and where bars of each timeframe open.
//!
//! FX trades from Sunday 17:00 New York to Friday 17:00 New York. Its bars of H4 and above are
//! aligned on the *New York close* clock, New York local time plus seven hours, so that a trading
//! day starts at 17:00 New York (21:00 UTC in summer, 22:00 UTC in winter). On that clock the
//! week trades Monday 00:00 to Saturday 00:00, H4 bars open at 00/04/08/12/16/20, D1 at 00:00, W1
//! on Monday 00:00 and MN1 on the 1st at 00:00. Christmas Day and New Year's Day (as New York close
//! days) are closed. Bars below H4 are aligned on UTC, which coincides with the New York close
//! clock because the shift is a whole number of hours.
//!
//! Equities use plain UTC days: Monday to Friday trade, W1 opens Monday 00:00 UTC and MN1 on the
//! 1st. Exchange sessions and holidays are not modelled, so intraday gaps across days are
//! reported without a bar count (see [`crate::series::Gap`]).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::America::New_York;
use serde::{Deserialize, Serialize};

use crate::symbol::Symbol;
use crate::timeframe::Timeframe;

/// Hours added to New York local time to obtain the New York close clock.
const NY_CLOSE_SHIFT_HOURS: i64 = 7;

/// Which trading calendar a symbol follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarketCalendar {
    /// Foreign exchange on the New York close clock (the default for currency pairs).
    #[default]
    Fx,
    /// Equities on UTC calendar days.
    Equity,
}

impl MarketCalendar {
    /// The default calendar of a symbol: FX for six-letter currency pairs, equities otherwise.
    #[must_use]
    pub fn default_for(symbol: &Symbol) -> Self {
        if symbol.is_currency_pair() { Self::Fx } else { Self::Equity }
    }

    /// The calendar's wall clock for a UTC instant (New York close time for FX, UTC otherwise).
    #[must_use]
    pub fn to_local(self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Self::Fx => t.with_timezone(&New_York).naive_local() + TimeDelta::hours(NY_CLOSE_SHIFT_HOURS),
            Self::Equity => t.naive_utc(),
        }
    }

    /// The UTC instant of a wall-clock time of this calendar.
    ///
    /// An ambiguous New York time (the repeated hour in autumn) maps to its earlier instant; a
    /// skipped one (the missing hour in spring) maps to the same wall time on the old offset.
    #[must_use]
    pub fn from_local(self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Self::Fx => {
                let ny = local - TimeDelta::hours(NY_CLOSE_SHIFT_HOURS);
                match New_York.from_local_datetime(&ny).earliest() {
                    Some(t) => t.with_timezone(&Utc),
                    None => New_York
                        .from_local_datetime(&(ny + TimeDelta::hours(1)))
                        .earliest()
                        .map_or_else(|| Utc.from_utc_datetime(&(ny + TimeDelta::hours(5))), |t| t.with_timezone(&Utc)),
                }
            }
            Self::Equity => Utc.from_utc_datetime(&local),
        }
    }

    /// The trading day (date on the calendar's clock) an instant belongs to.
    #[must_use]
    pub fn trading_date(self, t: DateTime<Utc>) -> NaiveDate {
        self.to_local(t).date()
    }

    /// The open time of the bar of `timeframe` that contains `t`.
    #[must_use]
    pub fn align(self, t: DateTime<Utc>, timeframe: Timeframe) -> DateTime<Utc> {
        match timeframe {
            Timeframe::M1 | Timeframe::M5 | Timeframe::M15 | Timeframe::M30 | Timeframe::H1 => {
                floor_utc(t, timeframe.seconds())
            }
            Timeframe::H4 if self == Self::Equity => floor_utc(t, timeframe.seconds()),
            _ => {
                let local = self.to_local(t);
                self.from_local(floor_local(local, timeframe))
            }
        }
    }

    /// True when `t` is the open time of a bar of `timeframe`.
    #[must_use]
    pub fn is_aligned(self, t: DateTime<Utc>, timeframe: Timeframe) -> bool {
        self.align(t, timeframe) == t
    }

    /// The open time of the bar after the one opening at (or containing) `open`, whether or not
    /// the market trades then. It is also the close time of that bar.
    #[must_use]
    pub fn next_open(self, open: DateTime<Utc>, timeframe: Timeframe) -> DateTime<Utc> {
        match timeframe {
            Timeframe::M1 | Timeframe::M5 | Timeframe::M15 | Timeframe::M30 | Timeframe::H1 => {
                floor_utc(open, timeframe.seconds()) + timeframe.duration()
            }
            Timeframe::H4 if self == Self::Equity => floor_utc(open, timeframe.seconds()) + timeframe.duration(),
            _ => {
                let start = floor_local(self.to_local(open), timeframe);
                let next = match timeframe {
                    Timeframe::MN1 => {
                        let (y, m) =
                            if start.month() == 12 { (start.year() + 1, 1) } else { (start.year(), start.month() + 1) };
                        first_of_month(y, m)
                    }
                    Timeframe::W1 => start + TimeDelta::days(7),
                    Timeframe::D1 => start + TimeDelta::days(1),
                    _ => start + TimeDelta::hours(4),
                };
                self.from_local(next)
            }
        }
    }

    /// Whether the market trades during the bar of `timeframe` that opens at `open`.
    #[must_use]
    pub fn is_trading_bar(self, open: DateTime<Utc>, timeframe: Timeframe) -> bool {
        if matches!(timeframe, Timeframe::W1 | Timeframe::MN1) {
            return true;
        }
        let day = self.trading_date(open);
        match self {
            Self::Fx => is_weekday(day) && !is_fx_holiday(day),
            Self::Equity => is_weekday(day),
        }
    }

    /// True when the trading day `date` (on the calendar's clock) is a regular closure:
    /// a weekend, or for FX Christmas Day and New Year's Day.
    #[must_use]
    pub fn is_closed_day(self, date: NaiveDate) -> bool {
        match self {
            Self::Fx => !is_weekday(date) || is_fx_holiday(date),
            Self::Equity => !is_weekday(date),
        }
    }

    /// The first open time of a trading bar at or after `t`.
    #[must_use]
    pub fn next_trading_open(self, t: DateTime<Utc>, timeframe: Timeframe) -> DateTime<Utc> {
        let mut open = self.align(t, timeframe);
        if open < t {
            open = self.next_open(open, timeframe);
        }
        // At most a weekend plus a holiday lies between two trading days.
        for _ in 0..16 {
            if self.is_trading_bar(open, timeframe) {
                return open;
            }
            open = if timeframe.is_intraday() {
                let next_day = self.to_local(open).date() + TimeDelta::days(1);
                self.from_local(next_day.and_time(chrono::NaiveTime::MIN))
            } else {
                self.next_open(open, timeframe)
            };
        }
        open
    }

    /// The open times of every trading bar of `timeframe` in `[start, end)`.
    pub fn trading_opens(
        self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        timeframe: Timeframe,
    ) -> impl Iterator<Item = DateTime<Utc>> {
        let mut next = self.next_trading_open(start, timeframe);
        std::iter::from_fn(move || {
            if next >= end {
                return None;
            }
            let current = next;
            next = self.next_trading_open(self.next_open(current, timeframe), timeframe);
            Some(current)
        })
    }
}

fn floor_utc(t: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    let ts = t.timestamp();
    let floored = ts - ts.rem_euclid(seconds);
    DateTime::from_timestamp(floored, 0).unwrap_or(t)
}

fn floor_local(local: NaiveDateTime, timeframe: Timeframe) -> NaiveDateTime {
    let date = local.date();
    match timeframe {
        Timeframe::MN1 => first_of_month(date.year(), date.month()),
        Timeframe::W1 => {
            let monday = date - TimeDelta::days(i64::from(date.weekday().num_days_from_monday()));
            monday.and_time(chrono::NaiveTime::MIN)
        }
        Timeframe::D1 => date.and_time(chrono::NaiveTime::MIN),
        Timeframe::H4 => {
            let hour = local.hour() - local.hour() % 4;
            date.and_hms_opt(hour, 0, 0).unwrap_or(local)
        }
        _ => {
            let secs = i64::from(local.num_seconds_from_midnight());
            let floored = secs - secs.rem_euclid(timeframe.seconds());
            date.and_time(chrono::NaiveTime::MIN) + TimeDelta::seconds(floored)
        }
    }
}

fn first_of_month(year: i32, month: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN).and_time(chrono::NaiveTime::MIN)
}

fn is_weekday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn is_fx_holiday(date: NaiveDate) -> bool {
    matches!((date.month(), date.day()), (12, 25) | (1, 1))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[rstest]
    // Summer: New York close is 21:00 UTC.
    #[case(utc(2025, 7, 16, 20, 59), Timeframe::D1, utc(2025, 7, 15, 21, 0))]
    #[case(utc(2025, 7, 16, 21, 0), Timeframe::D1, utc(2025, 7, 16, 21, 0))]
    // Winter: 22:00 UTC.
    #[case(utc(2025, 1, 15, 21, 30), Timeframe::D1, utc(2025, 1, 14, 22, 0))]
    #[case(utc(2025, 1, 15, 22, 0), Timeframe::D1, utc(2025, 1, 15, 22, 0))]
    // H4 on the NY close clock: 21, 01, 05, 09, 13, 17 UTC in summer.
    #[case(utc(2025, 7, 16, 0, 30), Timeframe::H4, utc(2025, 7, 15, 21, 0))]
    #[case(utc(2025, 7, 16, 1, 0), Timeframe::H4, utc(2025, 7, 16, 1, 0))]
    #[case(utc(2025, 7, 16, 16, 59), Timeframe::H4, utc(2025, 7, 16, 13, 0))]
    #[case(utc(2025, 1, 16, 2, 0), Timeframe::H4, utc(2025, 1, 16, 2, 0))]
    #[case(utc(2025, 1, 16, 1, 59), Timeframe::H4, utc(2025, 1, 15, 22, 0))]
    // W1 opens Sunday 17:00 New York.
    #[case(utc(2025, 7, 16, 12, 0), Timeframe::W1, utc(2025, 7, 13, 21, 0))]
    #[case(utc(2025, 1, 17, 12, 0), Timeframe::W1, utc(2025, 1, 12, 22, 0))]
    // MN1 opens on the 1st 00:00 NY close, i.e. the evening before in UTC.
    #[case(utc(2025, 7, 16, 12, 0), Timeframe::MN1, utc(2025, 6, 30, 21, 0))]
    #[case(utc(2025, 6, 30, 21, 0), Timeframe::MN1, utc(2025, 6, 30, 21, 0))]
    #[case(utc(2025, 6, 30, 20, 59), Timeframe::MN1, utc(2025, 5, 31, 21, 0))]
    #[case(utc(2025, 1, 10, 0, 0), Timeframe::MN1, utc(2024, 12, 31, 22, 0))]
    // Intraday frames align on UTC.
    #[case(utc(2025, 7, 16, 13, 47), Timeframe::M15, utc(2025, 7, 16, 13, 45))]
    #[case(utc(2025, 7, 16, 13, 47), Timeframe::H1, utc(2025, 7, 16, 13, 0))]
    fn fx_alignment(#[case] t: DateTime<Utc>, #[case] tf: Timeframe, #[case] open: DateTime<Utc>) {
        assert_eq!(MarketCalendar::Fx.align(t, tf), open);
        assert!(MarketCalendar::Fx.is_aligned(open, tf));
    }

    #[rstest]
    #[case(utc(2025, 7, 16, 20, 59), Timeframe::D1, utc(2025, 7, 16, 0, 0))]
    #[case(utc(2025, 7, 16, 5, 0), Timeframe::H4, utc(2025, 7, 16, 4, 0))]
    #[case(utc(2025, 7, 16, 5, 0), Timeframe::W1, utc(2025, 7, 14, 0, 0))]
    #[case(utc(2025, 7, 16, 5, 0), Timeframe::MN1, utc(2025, 7, 1, 0, 0))]
    fn equity_alignment(#[case] t: DateTime<Utc>, #[case] tf: Timeframe, #[case] open: DateTime<Utc>) {
        assert_eq!(MarketCalendar::Equity.align(t, tf), open);
    }

    #[test]
    fn d1_across_dst_change_keeps_new_york_close() {
        // US DST started 2025-03-09 (Sunday): Friday's day opens 22:00 UTC, Monday's 21:00 UTC.
        let fri = utc(2025, 3, 6, 22, 0);
        let cal = MarketCalendar::Fx;
        assert_eq!(cal.next_open(fri, Timeframe::D1), utc(2025, 3, 7, 22, 0));
        let sat = cal.next_open(utc(2025, 3, 7, 22, 0), Timeframe::D1);
        assert!(!cal.is_trading_bar(sat, Timeframe::D1));
        assert_eq!(cal.next_trading_open(sat, Timeframe::D1), utc(2025, 3, 9, 21, 0));
    }

    #[test]
    fn fx_week_opens_sunday_and_closes_friday_new_york() {
        let cal = MarketCalendar::Fx;
        // Summer: last M1 bar Friday 20:59 UTC, first Sunday 21:00 UTC.
        assert!(cal.is_trading_bar(utc(2025, 7, 18, 20, 59), Timeframe::M1));
        assert!(!cal.is_trading_bar(utc(2025, 7, 18, 21, 0), Timeframe::M1));
        assert!(!cal.is_trading_bar(utc(2025, 7, 20, 20, 59), Timeframe::M1));
        assert!(cal.is_trading_bar(utc(2025, 7, 20, 21, 0), Timeframe::M1));
        assert_eq!(cal.next_trading_open(utc(2025, 7, 18, 21, 0), Timeframe::H1), utc(2025, 7, 20, 21, 0));
    }

    #[test]
    fn christmas_and_new_year_are_closed_for_fx() {
        let cal = MarketCalendar::Fx;
        // 2017-12-25 as a New York close day runs from Sunday 24th 22:00 UTC to Monday 25th 22:00.
        assert!(!cal.is_trading_bar(utc(2017, 12, 25, 10, 0), Timeframe::H1));
        assert_eq!(cal.next_trading_open(utc(2017, 12, 22, 22, 0), Timeframe::H1), utc(2017, 12, 25, 22, 0));
        assert!(cal.is_closed_day(NaiveDate::from_ymd_opt(2018, 1, 1).unwrap()));
        assert!(!MarketCalendar::Equity.is_closed_day(NaiveDate::from_ymd_opt(2018, 1, 1).unwrap()));
    }

    #[test]
    fn trading_opens_skip_weekends() {
        let cal = MarketCalendar::Fx;
        let opens: Vec<_> =
            cal.trading_opens(utc(2025, 7, 18, 19, 0), utc(2025, 7, 20, 23, 0), Timeframe::H1).collect();
        assert_eq!(
            opens,
            vec![utc(2025, 7, 18, 19, 0), utc(2025, 7, 18, 20, 0), utc(2025, 7, 20, 21, 0), utc(2025, 7, 20, 22, 0)]
        );
    }

    #[test]
    fn next_open_walks_every_timeframe_forward() {
        for cal in [MarketCalendar::Fx, MarketCalendar::Equity] {
            for tf in Timeframe::ALL {
                let mut t = cal.align(utc(2024, 10, 1, 3, 17), tf);
                for _ in 0..400 {
                    let n = cal.next_open(t, tf);
                    assert!(n > t, "{cal:?} {tf} {t}");
                    assert!(cal.is_aligned(n, tf), "{cal:?} {tf} {n} not aligned");
                    assert_eq!(cal.align(n - TimeDelta::seconds(1), tf), t, "{cal:?} {tf} {t}");
                    t = n;
                }
            }
        }
    }
}
