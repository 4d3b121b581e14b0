use std::path::PathBuf;

use axia_domain::Symbol;
use chrono::TimeZone;
use rstest::rstest;

use super::*;

fn key(sym: &str, tf: Timeframe) -> SeriesKey {
    SeriesKey::new(Symbol::new(sym).unwrap(), tf)
}

fn parse_as(text: &str, sym: &str, tf: Timeframe, options: ImportOptions) -> Result<OhlcvSeries, ImportError> {
    parse_bars(text.as_bytes(), "t.csv", &key(sym, tf), &options)
}

fn parse(text: &str, tf: Timeframe, options: ImportOptions) -> Result<OhlcvSeries, ImportError> {
    parse_as(text, "EURUSD", tf, options)
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn tz(text: &str) -> ImportOptions {
    ImportOptions { tz: text.parse().unwrap(), ..ImportOptions::default() }
}

const MT5_HEADER: &str = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n";

#[rstest]
#[case::plain("timestamp,open,high,low,close,volume\n2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10\n")]
#[case::plain_upper_case("TIMESTAMP,OPEN,HIGH,LOW,CLOSE,VOLUME\n2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10\n")]
#[case::pandas(",Open,High,Low,Close,Volume\n2025-01-06 09:00:00,1.1,1.2,1.0,1.15,10.0\n")]
#[case::time_column("time,open,high,low,close,volume\n2025-01-06 09:00,1.1,1.2,1.0,1.15,10\n")]
#[case::date_column("date,open,high,low,close,volume\n2025-01-06 09:00,1.1,1.2,1.0,1.15,10\n")]
#[case::datetime_column("Datetime,Open,High,Low,Close,Volume\n2025-01-06 09:00:00,1.1,1.2,1.0,1.15,10\n")]
#[case::open_time_column("open_time,open,high,low,close,volume\n2025-01-06 09:00:00,1.1,1.2,1.0,1.15,10\n")]
#[case::open_time_utc_column("open_time_utc,open,high,low,close,volume\n2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10\n")]
#[case::extra_columns_anywhere(
    "volume,close,foo,low,high,open,timestamp\n10,1.15,x,1.0,1.2,1.1,2025-01-06T09:00:00Z\n"
)]
#[case::mt5(format!("{MT5_HEADER}2025.01.06\t09:00:00\t1.1\t1.2\t1.0\t1.15\t10\t0\t7\n"))]
#[case::mt5_python_export(
    "time,open,high,low,close,tick_volume,spread,real_volume\n1736154000,1.1,1.2,1.0,1.15,10,7,0\n"
)]
#[case::semicolons("timestamp;open;high;low;close;volume\n2025-01-06T09:00:00Z;1.1;1.2;1.0;1.15;10\n")]
#[case::quoted(
    "\"timestamp\",\"open\",\"high\",\"low\",\"close\",\"volume\"\n\"2025-01-06 09:00\",\"1.1\",\"1.2\",\"1.0\",\"1.15\",\"10\"\n"
)]
#[case::crlf_and_spaces(
    "timestamp, open, high, low, close, volume\r\n2025-01-06T09:00:00Z, 1.1, 1.2, 1.0, 1.15, 10\r\n"
)]
#[case::byte_order_mark("\u{feff},Open,High,Low,Close,Volume\n2025-01-06 09:00:00,1.1,1.2,1.0,1.15,10\n")]
#[case::blank_lines("\ntimestamp,open,high,low,close,volume\n\n2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10\n\n")]
fn every_format_reads_one_bar(#[case] text: String) {
    let s = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap();
    assert_eq!(s.len(), 1);
    let b = s.bars()[0];
    assert_eq!(b.open_time(), utc(2025, 1, 6, 9));
    assert_eq!((b.open(), b.high(), b.low(), b.close(), b.volume()), (1.1, 1.2, 1.0, 1.15, 10));
}

#[rstest]
#[case::rfc3339_z("2025-01-06T09:00:00Z")]
#[case::rfc3339_lower_z("2025-01-06t09:00:00z")]
#[case::rfc3339_offset("2025-01-06T11:00:00+02:00")]
#[case::rfc3339_negative_offset("2025-01-06T04:00:00-05:00")]
#[case::space_and_offset("2025-01-06 10:00:00+01:00")]
#[case::space_and_compact_offset("2025-01-06 10:00:00 +0100")]
#[case::hour_offset("2025-01-06 10:00+01")]
#[case::space_and_utc("2025-01-06 09:00:00 UTC")]
#[case::fraction("2025-01-06T09:00:00.000Z")]
#[case::fraction_no_zone("2025-01-06 09:00:00.000000")]
#[case::minutes_only("2025-01-06 09:00")]
#[case::seconds("2025-01-06 09:00:00")]
#[case::iso_without_zone("2025-01-06T09:00:00")]
#[case::iso_minutes_without_zone("2025-01-06T09:00")]
#[case::dots("2025.01.06 09:00:00")]
#[case::slashes("2025/01/06 09:00")]
#[case::single_digit_hour("2025-01-06 9:00")]
#[case::epoch_seconds("1736154000")]
#[case::epoch_millis("1736154000000")]
fn every_time_syntax(#[case] time: &str) {
    let text = format!("timestamp,open,high,low,close,volume\n{time},1.1,1.2,1.0,1.15,10\n");
    let s = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap();
    assert_eq!(s.bars()[0].open_time(), utc(2025, 1, 6, 9), "{time}");
}

#[rstest]
#[case::iso_date("2025-01-06")]
#[case::dotted_date("2025.01.06")]
#[case::compact_date("20250106")]
fn a_date_alone_opens_a_daily_bar(#[case] date: &str) {
    let text = format!("date,open,high,low,close,volume\n{date},101,102,100,101.5,1000\n");
    let s = parse_as(&text, "AAPL", Timeframe::D1, ImportOptions::default()).unwrap();
    assert_eq!(s.bars()[0].open_time(), utc(2025, 1, 6, 0));
}

#[test]
fn mt5_daily_export_without_time_on_the_new_york_close_clock() {
    let text = "<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n\
                2025.01.06\t1.1\t1.2\t1.0\t1.15\t10\t0\t7\n\
                2025.01.07\t1.15\t1.2\t1.1\t1.12\t12\t0\t6\n";
    let s = parse(text, Timeframe::D1, tz("ny-close")).unwrap();
    // 2025-01-06 00:00 on the New York close clock is Sunday 17:00 New York = 22:00 UTC (winter).
    assert_eq!(s.bars()[0].open_time(), utc(2025, 1, 5, 22));
    assert_eq!(s.bars()[1].open_time(), utc(2025, 1, 6, 22));
}

#[test]
fn mt5_tick_volume_real_volume_and_spread() {
    let text = format!(
        "{MT5_HEADER}2025.01.06\t09:00:00\t1.1\t1.2\t1.0\t1.15\t10\t500\t7\n2025.01.06\t10:00:00\t1.1\t1.2\t1.0\t1.15\t11\t0\t8\n"
    );
    let s = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap();
    let (a, b) = (s.bars()[0], s.bars()[1]);
    assert_eq!((a.volume(), a.real_volume(), a.spread()), (10, Some(500), Some(7)));
    assert_eq!((b.volume(), b.real_volume(), b.spread()), (11, None, Some(8)), "a zero <VOL> is no real volume");
}

#[test]
fn plain_optional_columns() {
    let text =
        "timestamp,open,high,low,close,volume,spread,real_volume\n2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10,3,40\n";
    let b = parse(text, Timeframe::H1, ImportOptions::default()).unwrap().bars()[0];
    assert_eq!((b.spread(), b.real_volume()), (Some(3), Some(40)));
}

#[rstest]
#[case::utc("UTC", "2025-01-06 22:00", utc(2025, 1, 6, 22))]
#[case::ny_close_winter("ny-close", "2025-01-07 00:00", utc(2025, 1, 6, 22))]
#[case::ny_close_summer("ny-close", "2025-07-08 00:00", utc(2025, 7, 7, 21))]
#[case::fixed_colon("+02:00", "2025-01-07 00:00", utc(2025, 1, 6, 22))]
#[case::fixed_utc_plus("UTC+2", "2025-01-07 00:00", utc(2025, 1, 6, 22))]
#[case::fixed_compact_negative("-0500", "2025-01-06 17:00", utc(2025, 1, 6, 22))]
#[case::explicit_offset_wins_over_ny_close("ny-close", "2025-01-06T22:00:00Z", utc(2025, 1, 6, 22))]
#[case::explicit_offset_wins_over_fixed("+02:00", "2025-01-06T23:00:00+01:00", utc(2025, 1, 6, 22))]
#[case::epoch_is_utc("+02:00", "1736200800", utc(2025, 1, 6, 22))]
fn time_zones_convert_to_utc(#[case] zone: &str, #[case] time: &str, #[case] want: DateTime<Utc>) {
    let text = format!("timestamp,open,high,low,close,volume\n{time},1.1,1.2,1.0,1.15,10\n");
    let s = parse(&text, Timeframe::D1, tz(zone)).unwrap();
    assert_eq!(s.bars()[0].open_time(), want);
}

#[rstest]
#[case("UTC", SourceTz::Utc)]
#[case(" gmt ", SourceTz::Utc)]
#[case("ny-close", SourceTz::NyClose)]
#[case("NYClose", SourceTz::NyClose)]
#[case("+02:00", SourceTz::Fixed(FixedOffset::east_opt(7200).unwrap()))]
#[case("UTC+2", SourceTz::Fixed(FixedOffset::east_opt(7200).unwrap()))]
#[case("GMT-03:30", SourceTz::Fixed(FixedOffset::west_opt(3 * 3600 + 1800).unwrap()))]
#[case("-0500", SourceTz::Fixed(FixedOffset::west_opt(5 * 3600).unwrap()))]
fn time_zone_names(#[case] text: &str, #[case] want: SourceTz) {
    assert_eq!(text.parse::<SourceTz>().unwrap(), want);
    assert_eq!(want.to_string().parse::<SourceTz>().unwrap(), want, "Display round-trips");
}

#[rstest]
#[case("auto", ImportFormat::Auto)]
#[case("CSV", ImportFormat::Csv)]
#[case("mt5", ImportFormat::Mt5)]
fn format_names(#[case] text: &str, #[case] want: ImportFormat) {
    assert_eq!(text.parse::<ImportFormat>().unwrap(), want);
    assert_eq!(want.to_string().parse::<ImportFormat>().unwrap(), want);
}

#[rstest]
#[case::zone_name("Mars/Olympus")]
#[case::offset_too_large("+15:00")]
#[case::no_sign("0200")]
#[case::bad_minutes("+02:75")]
fn bad_time_zones_say_what_is_accepted(#[case] text: &str) {
    let e = text.parse::<SourceTz>().unwrap_err();
    assert_eq!(e.value, text);
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("unknown time zone {text:?}")) && msg.contains("ny-close"), "{msg}");
}

#[test]
fn bad_format_says_what_is_accepted() {
    assert_eq!(
        "xlsx".parse::<ImportFormat>().unwrap_err().to_string(),
        "unknown format \"xlsx\" (expected auto, csv or mt5)"
    );
}

const H: &str = "timestamp,open,high,low,close,volume\n";
const OK: &str = "2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10\n";

#[rstest]
#[case::malformed_number("2025-01-06T10:00:00Z,1.1,x,1.0,1.15,10\n", "high \"x\": not a number")]
#[case::high_below_low("2025-01-06T10:00:00Z,1.1,1.07,1.08,1.1,10\n", "t.csv:3: high 1.07 is below low 1.08")]
#[case::open_above_high("2025-01-06T10:00:00Z,1.3,1.2,1.0,1.1,10\n", "open 1.3 is outside [low 1, high 1.2]")]
#[case::nan("2025-01-06T10:00:00Z,NaN,1.2,1.0,1.1,10\n", "open is not a finite number (NaN)")]
#[case::infinite("2025-01-06T10:00:00Z,1.1,inf,1.0,1.1,10\n", "high is not a finite number (inf)")]
#[case::zero_low("2025-01-06T10:00:00Z,0,1.2,0,1.1,10\n", "low 0 is not positive")]
#[case::negative_volume("2025-01-06T10:00:00Z,1.1,1.2,1.0,1.1,-3\n", "volume \"-3\": must not be negative")]
#[case::fractional_volume("2025-01-06T10:00:00Z,1.1,1.2,1.0,1.1,3.5\n", "volume \"3.5\": not a whole number")]
#[case::misaligned("2025-01-06T10:30:00Z,1.1,1.2,1.0,1.1,3\n", "2025-01-06 10:30:00 UTC is not the open of a H1 bar")]
#[case::duplicate(
    "2025-01-06T09:00:00Z,1.1,1.2,1.0,1.1,3\n",
    "t.csv:3: duplicate bar at 2025-01-06 09:00:00 UTC (also on line 2)"
)]
#[case::out_of_order(
    "2025-01-06T08:00:00Z,1.1,1.2,1.0,1.1,3\n",
    "comes after the bar at 2025-01-06 09:00:00 UTC on line 2"
)]
#[case::bad_time("06/01/2025 10h,1.1,1.2,1.0,1.1,3\n", "time \"06/01/2025 10h\": expected ISO 8601")]
#[case::impossible_date("2025-02-30 10:00,1.1,1.2,1.0,1.1,3\n", "expected ISO 8601")]
#[case::date_only_for_intraday("2025-01-07,1.1,1.2,1.0,1.1,3\n", "accepted for D1, W1 and MN1 bars, not H1")]
#[case::missing_field("2025-01-06T10:00:00Z,1.1,1.2\n", "no value for low (field 4 is missing or empty)")]
#[case::empty_field("2025-01-06T10:00:00Z,1.1,,1.0,1.1,3\n", "no value for high")]
fn a_bad_row_names_file_line_and_cause(#[case] row: &str, #[case] detail: &str) {
    let text = format!("{H}{OK}{row}");
    let e = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with("t.csv:3: "), "{msg}");
    assert!(msg.contains(detail), "{msg}");
}

#[test]
fn the_error_kind_is_typed() {
    let text = format!("{H}{OK}2025-01-06T10:00:00Z,1.1,1.07,1.08,1.1,10\n");
    let e = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap_err();
    assert!(matches!(e.kind, ImportErrorKind::InvalidBar(BarError::Inconsistent { .. })), "{e:?}");
    let text = format!("{H}{OK}{OK}");
    let e = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap_err();
    assert_eq!(e.kind, ImportErrorKind::Duplicate { time: utc(2025, 1, 6, 9), first_line: 2 });
}

#[test]
fn line_numbers_are_physical_lines() {
    let text = format!("{H}\r\n{OK}\r\n\r\n2025-01-06T10:00:00Z,1.1,x,1.0,1.1,3\r\n");
    let e = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap_err();
    assert_eq!(e.line, Some(6), "{e}");
}

#[test]
fn invalid_utf8_is_a_malformed_row() {
    let mut bytes = format!("{H}{OK}").into_bytes();
    bytes.extend_from_slice(b"2025-01-06T10:00:00Z,1.1,1.2,1.0,\xff,3\n");
    let e =
        parse_bars(bytes.as_slice(), "t.csv", &key("EURUSD", Timeframe::H1), &ImportOptions::default()).unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(matches!(e.kind, ImportErrorKind::Malformed(_)), "{e}");
}

#[test]
fn one_bad_row_refuses_the_whole_file() {
    let mut text = H.to_owned();
    for h in 0..20 {
        text.push_str(&format!("2025-01-06T{h:02}:00:00Z,1.1,1.2,1.0,1.15,10\n"));
    }
    assert_eq!(parse(&text, Timeframe::H1, ImportOptions::default()).unwrap().len(), 20);
    text.push_str("2025-01-06T20:00:00Z,1.1,1.2,1.0,1.15,-1\n");
    let e = parse(&text, Timeframe::H1, ImportOptions::default()).unwrap_err();
    assert_eq!(e.line, Some(22));
}

#[rstest]
#[case::empty("", "t.csv: the file is empty")]
#[case::blank("\n \n", "t.csv: the file is empty")]
#[case::header_only(H, "t.csv: the file is empty")]
#[case::no_close(
    "timestamp,open,high,low,volume\n",
    "t.csv: no close column in the header \"timestamp,open,high,low,volume\" (expected a header timestamp,open,high,low,close,volume"
)]
#[case::no_time("open,high,low,close,volume\n", "no time column")]
#[case::no_volume("timestamp,open,high,low,close\n", "no volume column")]
#[case::mt5_no_tickvol("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\n", "no <TICKVOL> column")]
#[case::headerless_data(
    OK,
    "t.csv: unknown format: the first line \"2025-01-06T09:00:00Z,1.1,1.2,1.0,1.15,10\" is not a known header"
)]
#[case::other_file("name,age\nbob,3\n", "unknown format")]
fn file_level_errors_have_no_line(#[case] text: &str, #[case] detail: &str) {
    let e = parse(text, Timeframe::H1, ImportOptions::default()).unwrap_err();
    assert_eq!(e.line, None, "{e}");
    assert!(e.to_string().contains(detail), "{e}");
}

#[test]
fn a_forced_format_must_match_the_header() {
    let csv = format!("{H}{OK}");
    let e = parse(&csv, Timeframe::H1, ImportOptions { format: ImportFormat::Mt5, ..Default::default() }).unwrap_err();
    assert!(matches!(e.kind, ImportErrorKind::UnknownFormat { .. }) && e.to_string().contains("<DATE>"), "{e}");
    let mt5 = format!("{MT5_HEADER}2025.01.06\t09:00:00\t1.1\t1.2\t1.0\t1.15\t10\t0\t7\n");
    let e = parse(&mt5, Timeframe::H1, ImportOptions { format: ImportFormat::Csv, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("MetaTrader 5 export"), "{e}");
    assert!(parse(&mt5, Timeframe::H1, ImportOptions { format: ImportFormat::Mt5, ..Default::default() }).is_ok());
}

#[test]
fn an_unreadable_file_is_named() {
    let e = read_bars(Path::new("/nonexistent/x.csv"), &key("EURUSD", Timeframe::H1), &ImportOptions::default())
        .unwrap_err();
    assert_eq!(e.line, None);
    assert!(e.to_string().starts_with("/nonexistent/x.csv: cannot read the file: "), "{e}");
}

#[test]
fn fx_daily_bars_on_utc_dates_hint_at_the_new_york_close_clock() {
    let text = format!("{H}2025-01-06,1.1,1.2,1.0,1.15,10\n");
    let e = parse(&text, Timeframe::D1, ImportOptions::default()).unwrap_err();
    assert!(matches!(e.kind, ImportErrorKind::Misaligned { .. }), "{e}");
    assert!(e.to_string().contains("--tz ny-close"), "{e}");
}

#[test]
fn reads_from_a_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bars.csv");
    std::fs::write(&path, format!("{H}{OK}")).unwrap();
    let s = read_bars(&path, &key("EURUSD", Timeframe::H1), &ImportOptions::default()).unwrap();
    assert_eq!(s.len(), 1);
    std::fs::write(&path, format!("{H}{OK}{OK}")).unwrap();
    let e = read_bars(&path, &key("EURUSD", Timeframe::H1), &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with(&format!("{}:3: duplicate", path.display())), "{e}");
}

fn sample_path() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/EURUSD_H1_2017-2018.csv");
    if !path.exists() {
        // The shared copy, for a checkout without the data directory.
        return PathBuf::from("/work/shared/data/EURUSD_H1_2017-2018.csv");
    }
    path
}

#[test]
fn the_real_sample_file_reads_completely() {
    let s = read_bars(&sample_path(), &key("EURUSD", Timeframe::H1), &ImportOptions::default()).unwrap();
    assert_eq!(s.len(), 5000);
    assert_eq!(s.first().unwrap().open_time(), utc(2017, 4, 19, 9));
    assert_eq!(s.last().unwrap().open_time(), utc(2018, 2, 7, 15));
    let first = s.bars()[0];
    assert_eq!(
        (first.open(), first.high(), first.low(), first.close(), first.volume()),
        (1.0716, 1.0722, 1.07083, 1.07219, 1413)
    );
    // Real data: two Friday 17:00 New York bars lie in the closed period; they are kept as sent.
    let off_hours = s.bars().iter().filter(|b| !MarketCalendar::Fx.is_trading_bar(b.open_time(), Timeframe::H1));
    assert_eq!(off_hours.count(), 2);
}

fn wall(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").unwrap()
}

#[rstest]
#[case::utc("UTC", "2025-09-01T10:00", "2025-09-01T10:00:00Z")]
#[case::fixed_east("+03:00", "2025-09-01T10:00", "2025-09-01T07:00:00Z")]
#[case::fixed_west("-05:30", "2025-09-01T10:00", "2025-09-01T15:30:00Z")]
// New York close = New York + 7 h: UTC+3 in New York summer time, UTC+2 in winter.
#[case::ny_close_summer("ny-close", "2025-09-01T10:00", "2025-09-01T07:00:00Z")]
#[case::ny_close_winter("ny-close", "2025-03-07T10:00", "2025-03-07T08:00:00Z")]
#[case::ny_close_after_spring_change("ny-close", "2025-03-10T10:00", "2025-03-10T07:00:00Z")]
// 2025-11-02 01:30 New York happens twice: the earlier instant (still summer time) wins.
#[case::ny_close_ambiguous("ny-close", "2025-11-02T08:30", "2025-11-02T05:30:00Z")]
// 2025-03-09 02:30 New York never happens: read on the old (winter) offset.
#[case::ny_close_skipped("ny-close", "2025-03-09T09:30", "2025-03-09T07:30:00Z")]
fn source_tz_converts_wall_times_to_utc(#[case] zone: &str, #[case] local: &str, #[case] want: &str) {
    let zone: SourceTz = zone.parse().unwrap();
    let want: DateTime<Utc> = want.parse().unwrap();
    assert_eq!(zone.to_utc(wall(local)), want);
}

#[rstest]
#[case::utc("UTC", "2025-09-01T10:00:00Z", "2025-09-01T10:00", 0)]
#[case::fixed("+03:00", "2025-09-01T07:00:00Z", "2025-09-01T10:00", 10_800)]
#[case::ny_close_summer("ny-close", "2025-09-01T07:00:00Z", "2025-09-01T10:00", 10_800)]
#[case::ny_close_winter("ny-close", "2025-03-07T08:00:00Z", "2025-03-07T10:00", 7_200)]
fn source_tz_converts_utc_to_wall_times(
    #[case] zone: &str,
    #[case] at: &str,
    #[case] local: &str,
    #[case] offset: i64,
) {
    let zone: SourceTz = zone.parse().unwrap();
    let at: DateTime<Utc> = at.parse().unwrap();
    assert_eq!(zone.from_utc(at), wall(local));
    assert_eq!(zone.offset_seconds_at(at), offset);
    assert_eq!(zone.to_utc(zone.from_utc(at)), at, "round trip");
}
