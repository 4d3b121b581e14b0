use axia_domain::Symbol;
use chrono::TimeZone;
use rstest::rstest;

use super::*;

fn key(sym: &str, tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(sym).unwrap(), tf)
}

fn parse(text: &str, tf: Timeframe, options: ImportOptions) -> Result<OhlcvSeries, ImportError> {
    parse_bars(text.as_bytes(), "t.csv", &key("EURUSD", tf), &options)
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

#[rstest]
#[case::plain("timestamp,open,high,low,close,volume\n2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10\n")]
#[case::pandas(",Open,High,Low,Close,Volume\n2025-01-06 09:00:00,1.1,1.2,1.0,1.15,10.0\n")]
#[case::time_named_column("time,open,high,low,close,volume\n2025-01-06 09:00,1.1,1.2,1.0,1.15,10\n")]
#[case::offset("Datetime,Open,High,Low,Close,Volume\n2025-01-06 10:00:00+01:00,1.1,1.2,1.0,1.15,10\n")]
#[case::epoch_seconds("timestamp,open,high,low,close,volume\n1736154000,1.1,1.2,1.0,1.15,10\n")]
#[case::epoch_millis("timestamp,open,high,low,close,volume\n1736154000000,1.1,1.2,1.0,1.15,10\n")]
#[case::mt5(
    "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n2025.01.06\t09:00:00\t1.1\t1.2\t1.0\t1.15\t10\t0\t7\n"
)]
#[case::semicolons("timestamp;open;high;low;close;volume\n2025-01-06T09:00:00Z;1.1;1.2;1.0;1.15;10\n")]
fn formats_and_time_syntaxes(#[case] text: &str) {
    let s = parse(text, Timeframe::H1, ImportOptions::default()).unwrap();
    assert_eq!(s.len(), 1);
    let b = s.bars()[0];
    assert_eq!(b.open_time(), utc(2025, 1, 6, 9));
    assert_eq!((b.open(), b.high(), b.low(), b.close(), b.volume()), (1.1, 1.2, 1.0, 1.15, 10));
}

#[test]
fn mt5_spread_and_real_volume() {
    let text = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n2025.01.06\t09:00:00\t1.1\t1.2\t1.0\t1.15\t10\t500\t7\n";
    let b = parse(text, Timeframe::H1, ImportOptions::default()).unwrap().bars()[0];
    assert_eq!((b.spread(), b.real_volume()), (Some(7), Some(500)));
}

#[rstest]
#[case::ny_close_winter(SourceTz::NyClose, "2025-01-07 00:00", utc(2025, 1, 6, 22))]
#[case::ny_close_summer(SourceTz::NyClose, "2025-07-08 00:00", utc(2025, 7, 7, 21))]
#[case::fixed_plus_two("+02:00".parse().unwrap(), "2025-01-07 00:00", utc(2025, 1, 6, 22))]
#[case::explicit_offset_wins(SourceTz::NyClose, "2025-01-06T22:00:00Z", utc(2025, 1, 6, 22))]
fn time_zones_convert_to_utc(#[case] tz: SourceTz, #[case] time: &str, #[case] want: DateTime<Utc>) {
    let text = format!("timestamp,open,high,low,close,volume\n{time},1.1,1.2,1.0,1.15,10\n");
    let s = parse(&text, Timeframe::D1, ImportOptions { tz, ..ImportOptions::default() }).unwrap();
    assert_eq!(s.bars()[0].open_time(), want);
}

#[rstest]
#[case("UTC", SourceTz::Utc)]
#[case("ny-close", SourceTz::NyClose)]
#[case("UTC+2", SourceTz::Fixed(FixedOffset::east_opt(7200).unwrap()))]
#[case("-0500", SourceTz::Fixed(FixedOffset::west_opt(5 * 3600).unwrap()))]
fn time_zone_names(#[case] text: &str, #[case] want: SourceTz) {
    assert_eq!(text.parse::<SourceTz>().unwrap(), want);
}

#[test]
fn bad_option_values_say_what_is_accepted() {
    assert!("Mars/Olympus".parse::<SourceTz>().unwrap_err().contains("ny-close"));
    assert!("xlsx".parse::<ImportFormat>().unwrap_err().contains("mt5"));
}

const H: &str = "timestamp,open,high,low,close,volume\n";
const OK: &str = "2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10\n";

#[rstest]
#[case::malformed_number("2025-01-06T10:00:00Z,1.1,x,1.0,1.15,10\n", "high \"x\": not a number")]
#[case::high_below_low("2025-01-06T10:00:00Z,1.1,1.0,1.2,1.1,10\n", "below low")]
#[case::nan("2025-01-06T10:00:00Z,NaN,1.2,1.0,1.1,10\n", "not a finite number")]
#[case::negative_volume("2025-01-06T10:00:00Z,1.1,1.2,1.0,1.1,-3\n", "negative")]
#[case::fractional_volume("2025-01-06T10:00:00Z,1.1,1.2,1.0,1.1,3.5\n", "whole number")]
#[case::misaligned("2025-01-06T10:30:00Z,1.1,1.2,1.0,1.1,3\n", "not the open of a H1 bar")]
#[case::duplicate(
    "2025-01-06T09:00:00Z,1.1,1.2,1.0,1.1,3\n",
    "duplicate bar at 2025-01-06 09:00:00 UTC (first on line 2)"
)]
#[case::out_of_order("2025-01-06T08:00:00Z,1.1,1.2,1.0,1.1,3\n", "ascending")]
#[case::bad_time("06/01/2025 10h,1.1,1.2,1.0,1.1,3\n", "not a time")]
#[case::missing_field("2025-01-06T10:00:00Z,1.1,1.2\n", "no value for low")]
fn bad_rows_name_file_and_line(#[case] row: &str, #[case] detail: &str) {
    let text = format!("{H}{OK}{row}");
    let e = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with("t.csv:3: "), "{msg}");
    assert!(msg.contains(detail), "{msg}");
}

#[rstest]
#[case::empty("", "empty")]
#[case::header_only(H, "empty")]
#[case::no_close("timestamp,open,high,low,volume\n", "no close column")]
#[case::no_time("open,high,low,close,volume\n", "no time column")]
fn file_level_errors(#[case] text: &str, #[case] detail: &str) {
    let e = parse(text, Timeframe::H1, ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains(detail), "{e}");
}

#[test]
fn unreadable_file_names_it() {
    let e = read_bars(Path::new("/nonexistent/x.csv"), &key("EURUSD", Timeframe::H1), &ImportOptions::default())
        .unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/x.csv: cannot read"), "{e}");
}

#[test]
fn fx_daily_bars_in_utc_dates_hint_at_ny_close() {
    let text = format!("{H}2025-01-06,1.1,1.2,1.0,1.15,10\n");
    let e = parse(&text, Timeframe::D1, ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("--tz ny-close"), "{e}");
}

#[test]
fn the_shipped_sample_reads_completely() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/EURUSD_H1_2017-2018.csv");
    let s = read_bars(&path, &key("EURUSD", Timeframe::H1), &ImportOptions::default()).unwrap();
    assert_eq!(s.len(), 5000);
    assert_eq!(s.first().unwrap().open_time(), utc(2017, 4, 19, 9));
    assert_eq!(s.last().unwrap().open_time(), utc(2018, 2, 7, 15));
}
