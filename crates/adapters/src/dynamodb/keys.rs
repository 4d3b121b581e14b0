//! The single-table layout (ADR 0009): key and index attribute values, attribute names, index
//! names and TTLs. Every `pk`, `sk` and `gsNpk`/`gsNsk` value is built here and nowhere else.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Partition key attribute.
pub(super) const PK: &str = "pk";
/// Sort key attribute.
pub(super) const SK: &str = "sk";
/// Entity type: `GlobalSetting` (the kill switch), `KillSwitchAudit`, `Order`, `Position`,
/// `PositionId`, `Trade`, `Fill`.
pub(super) const ITEM_TYPE: &str = "item_type";
/// Optimistic-locking version (N).
pub(super) const VERSION: &str = "version";
/// Creation time (ISO 8601).
pub(super) const CREATED: &str = "created_utc";
/// Last change (ISO 8601).
pub(super) const UPDATED: &str = "last_updated_utc";
/// The domain value as JSON.
pub(super) const DOC: &str = "doc";
/// Expiry, epoch seconds (DynamoDB TTL attribute).
pub(super) const TTL: &str = "ttl";
/// Order or position status, for conditions.
pub(super) const STATUS: &str = "status";
/// A position's add level, the atomic counter; authoritative over the document's.
pub(super) const LEVEL: &str = "current_add_position_level";
/// A position's maximum add level, for the counter's condition.
pub(super) const MAX_LEVELS: &str = "max_add_levels";

/// The non-key attributes every index projects: what the reads decode.
pub(super) const PROJECTED: [&str; 4] = [ITEM_TYPE, VERSION, DOC, LEVEL];

/// The global secondary indexes: name, partition key attribute, sort key attribute.
pub(super) const INDEXES: [(&str, &str, &str); 5] = [
    ("GSI1", "gs1pk", "gs1sk"),
    ("GSI2", "gs2pk", "gs2sk"),
    ("GSI3", "gs3pk", "gs3sk"),
    ("GSI4", "gs4pk", "gs4sk"),
    ("GSI5", "gs5pk", "gs5sk"),
];

/// Positions by strategy (AP4), overloaded with orders by status.
pub(super) const GSI1: (&str, &str, &str) = INDEXES[0];
/// Positions by symbol (AP2).
pub(super) const GSI2: (&str, &str, &str) = INDEXES[1];
/// Open positions only (sparse).
pub(super) const GSI3: (&str, &str, &str) = INDEXES[2];
/// Trades by signal.
pub(super) const GSI4: (&str, &str, &str) = INDEXES[3];
/// Positions by opening date (AP5).
pub(super) const GSI5: (&str, &str, &str) = INDEXES[4];

/// How long a closed position is kept.
pub(super) const CLOSED_POSITION_DAYS: i64 = 365;
/// How long a trade (and its fill links) is kept.
pub(super) const TRADE_DAYS: i64 = 90;

/// The partition of global settings and their audit.
pub(super) const GLOBALCONFIG: &str = "GLOBALCONFIG";
/// The kill switch state.
pub(super) const KILL_SWITCH_SK: &str = "SETTING#KILL_SWITCH";
/// Prefix of the kill switch audit records.
pub(super) const AUDIT_PREFIX: &str = "AUDIT#KILL_SWITCH#";
/// Sort key of metadata items (orders, trades).
pub(super) const METADATA: &str = "METADATA";
/// Prefix of the position item's sort key.
pub(super) const POSITION_SK_PREFIX: &str = "TRADE#";
/// Sort key of the item that makes a position id unique whatever its opening trade.
pub(super) const POSITION_ID_SK: &str = "POSITION_ID";
/// Prefix of fill links (under an order or a position).
pub(super) const FILL_PREFIX: &str = "FILL#";
/// GSI3 partition of open positions.
pub(super) const OPEN_POSITIONS: &str = "OPEN_POSITIONS";

/// A time as sort keys hold it: RFC 3339, UTC, microseconds, fixed width, so that text order
/// is time order (years 0000–9999).
pub(super) fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Epoch seconds `days` after `t`, the `ttl` value.
pub(super) fn expiry(t: DateTime<Utc>, days: i64) -> i64 {
    (t + Duration::days(days)).timestamp()
}

/// Audit record `version`, zero-padded so that text order is version order.
pub(super) fn audit_sk(version: u64) -> String {
    format!("{AUDIT_PREFIX}{version:020}")
}

pub(super) fn position_pk(position_id: &str) -> String {
    format!("POSITION#{position_id}")
}

/// The position item's sort key: its opening trade (AP1).
pub(super) fn position_sk(trade_id: &str) -> String {
    format!("{POSITION_SK_PREFIX}{trade_id}")
}

pub(super) fn order_pk(client_order_id: &str) -> String {
    format!("ORDER#{client_order_id}")
}

pub(super) fn trade_pk(trade_id: &str) -> String {
    format!("TRADE#{trade_id}")
}

/// A fill link under an order or a position: ascending sort key order is execution order.
pub(super) fn fill_sk(executed_at: DateTime<Utc>, trade_id: &str) -> String {
    format!("{FILL_PREFIX}{}#{trade_id}", ts(executed_at))
}

/// GSI1 partition of a strategy's positions.
pub(super) fn strategy_pk(strategy_id: &str) -> String {
    format!("STRATEGY#{strategy_id}")
}

/// GSI1 and GSI2 sort key of a position.
pub(super) fn status_sk(status: &str, opened_at: DateTime<Utc>, position_id: &str) -> String {
    format!("{}{}#{position_id}", status_prefix(status), ts(opened_at))
}

/// The `begins_with` operand selecting one status in GSI1 or GSI2.
pub(super) fn status_prefix(status: &str) -> String {
    format!("STATUS#{status}#")
}

/// GSI2 partition of a symbol's positions.
pub(super) fn symbol_pk(symbol: &str) -> String {
    format!("SYMBOL#{symbol}")
}

/// GSI3 sort key of an open position.
pub(super) fn open_sk(symbol: &str, opened_at: DateTime<Utc>, position_id: &str) -> String {
    format!("{}{}#{position_id}", symbol_prefix(symbol), ts(opened_at))
}

/// The `begins_with` operand selecting one symbol in GSI3.
pub(super) fn symbol_prefix(symbol: &str) -> String {
    format!("SYMBOL#{symbol}#")
}

/// GSI4 partition of a signal's trades.
pub(super) fn signal_pk(signal_id: &str) -> String {
    format!("SIGNAL#{signal_id}")
}

/// GSI4 sort key of a trade.
pub(super) fn signal_sk(executed_at: DateTime<Utc>) -> String {
    format!("TIMESTAMP#{}", ts(executed_at))
}

/// GSI5 partition of the positions opened on a UTC day.
pub(super) fn date_pk(date: NaiveDate) -> String {
    format!("DATE#{}", date.format("%Y-%m-%d"))
}

/// GSI5 sort key of a position.
pub(super) fn time_sk(opened_at: DateTime<Utc>, position_id: &str) -> String {
    format!("TIME#{}#{position_id}", opened_at.format("%H:%M:%S"))
}

/// GSI1 partition of the orders of one status (the overload of ADR 0009).
pub(super) fn orders_pk(status: &str) -> String {
    format!("ORDERS#STATUS#{status}")
}

/// GSI1 sort key of an order.
pub(super) fn created_sk(created_at: DateTime<Utc>, client_order_id: &str) -> String {
    format!("CREATED#{}#{client_order_id}", ts(created_at))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap(), "2025-09-01T08:00:00.000000Z")]
    #[case(Utc.timestamp_opt(1_756_713_600, 123_456_789).unwrap(), "2025-09-01T08:00:00.123456Z")]
    fn times_are_fixed_width_micros(#[case] t: DateTime<Utc>, #[case] text: &str) {
        assert_eq!(ts(t), text);
    }

    #[test]
    fn text_order_is_time_and_version_order() {
        let t0 = Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap();
        let times = [t0, t0 + Duration::microseconds(1), t0 + Duration::seconds(9), t0 + Duration::days(400)];
        let keys: Vec<String> = times.iter().map(|t| status_sk("OPEN", *t, "P")).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert!(audit_sk(9) < audit_sk(10) && audit_sk(99) < audit_sk(u64::MAX), "{}", audit_sk(u64::MAX));
        assert_eq!(audit_sk(7), "AUDIT#KILL_SWITCH#00000000000000000007");
    }

    #[test]
    fn keys_follow_the_seed() {
        let t = Utc.with_ymd_and_hms(2025, 9, 1, 8, 5, 7).unwrap();
        assert_eq!(position_pk("P1"), "POSITION#P1");
        assert_eq!(position_sk("T1"), "TRADE#T1");
        assert_eq!(status_sk("OPEN", t, "P1"), "STATUS#OPEN#2025-09-01T08:05:07.000000Z#P1");
        assert_eq!(open_sk("EURUSD", t, "P1"), "SYMBOL#EURUSD#2025-09-01T08:05:07.000000Z#P1");
        assert_eq!(date_pk(t.date_naive()), "DATE#2025-09-01");
        assert_eq!(time_sk(t, "P1"), "TIME#08:05:07#P1");
        assert_eq!(fill_sk(t, "T1"), "FILL#2025-09-01T08:05:07.000000Z#T1");
        assert_eq!(orders_pk("filled"), "ORDERS#STATUS#filled");
        assert_eq!(expiry(t, 1) - t.timestamp(), 86_400);
    }
}
