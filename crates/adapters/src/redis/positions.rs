//! [`RedisPositionRepository`]: the hot mirror of open positions, one Redis hash per symbol.

use std::sync::Arc;

use async_trait::async_trait;
use axia_domain::ports::{PositionRepository, RepositoryError};
use axia_domain::{Position, PositionStatus, Symbol};
use chrono::NaiveDate;
use deadpool_redis::redis::{self, Script};
use futures::{StreamExt, TryStreamExt};

use super::client::RedisClient;

/// Most per-symbol hashes `list_open(None)` reads at once.
const LIST_CONCURRENCY: usize = 4;

/// KEYS[1] the symbol's hash; ARGV[1] the position id; ARGV[2] the version the caller read (0:
/// create); ARGV[3] the new JSON document, or '' to remove the field (the position closed).
/// Returns {code, stored version, stored}: code 0 written, 1 version conflict, 2 the stored
/// document has no readable version.
/// KEYS[1] the symbol's hash; ARGV[1] the position id, ARGV[2] its version, ARGV[3] the document
/// (empty: closed, remove). Applies only over an absent, unreadable or older stored version.
/// Returns 1 when applied, 0 when the stored copy is as new or newer.
const MIRROR_LUA: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, doc = pcall(cjson.decode, old)
  if ok and type(doc) == 'table' and type(doc.version) == 'number' and doc.version >= tonumber(ARGV[2]) then
    return 0
  end
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
";

const SAVE_LUA: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
local expected = tonumber(ARGV[2])
local stored = 0
if old then
  local ok, doc = pcall(cjson.decode, old)
  if not ok or type(doc) ~= 'table' or type(doc.version) ~= 'number' then
    return {2, 0, 1}
  end
  stored = doc.version
end
local present = old and 1 or 0
if (old and expected == 0) or stored ~= expected then
  return {1, stored, present}
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return {0, stored, present}
";

/// The Redis mirror of open positions (see the [module documentation](super)).
///
/// It implements [`PositionRepository`] with the port's version contract, but holds only open
/// positions: saving a closed position removes it, so `get` of a closed position is `None`.
#[derive(Debug)]
pub struct RedisPositionRepository {
    client: Arc<RedisClient>,
    save_script: Script,
    mirror_script: Script,
}

impl RedisPositionRepository {
    /// The repository over a shared client.
    #[must_use]
    pub fn with_client(client: Arc<RedisClient>) -> Self {
        Self { client, save_script: Script::new(SAVE_LUA), mirror_script: Script::new(MIRROR_LUA) }
    }

    /// Copies `position` as the system of record (the state store) holds it after a change, with
    /// its version as is: applied only when the mirror holds no newer version of it, so copies
    /// that arrive out of order never go back in time. A closed position is removed. Returns
    /// whether the mirror changed.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when Redis cannot answer.
    pub async fn mirror(&self, position: &Position) -> Result<bool, RepositoryError> {
        let key = self.redis_key(&position.symbol);
        let doc = if position.is_open() { encode_position(position)? } else { String::new() };
        let mut invocation = self.mirror_script.prepare_invoke();
        invocation.key(&key).arg(&position.position_id).arg(position.version).arg(doc);
        let applied: i64 = self.client.invoke_prepared("mirror", &key, &invocation).await?;
        if applied == 1 {
            self.update_index(position).await?;
        }
        Ok(applied == 1)
    }

    async fn update_index(&self, position: &Position) -> Result<(), RepositoryError> {
        let index = self.index_key();
        let mut cmd = if position.is_open() { redis::cmd("HSET") } else { redis::cmd("HDEL") };
        cmd.arg(&index).arg(&position.position_id);
        if position.is_open() {
            cmd.arg(position.symbol.as_str());
        }
        self.client.query::<()>("save", &index, &cmd).await
    }

    /// The hash holding the open positions of `symbol`: `{prefix}positions:{SYMBOL}`.
    #[must_use]
    pub fn redis_key(&self, symbol: &Symbol) -> String {
        positions_key(&self.client.config().key_prefix, symbol)
    }

    /// The hash mapping a position id to its symbol: `{prefix}positions:index`.
    #[must_use]
    pub fn index_key(&self) -> String {
        index_key(&self.client.config().key_prefix)
    }

    /// The open positions stored in `key`, in no particular order.
    async fn read_hash(&self, key: &str, symbol: &Symbol) -> Result<Vec<Position>, RepositoryError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(key);
        let fields: Vec<(Vec<u8>, Vec<u8>)> = self.client.query("list_open", key, &cmd).await?;
        fields
            .iter()
            .map(|(field, doc)| {
                let field = std::str::from_utf8(field)
                    .map_err(|_| RepositoryError::corrupt(key, format!("field {field:?} is not UTF-8")))?;
                decode_position(key, field, symbol, doc)
            })
            .collect()
    }

    /// Refuses to create `position` when its id is open under another symbol (the index says
    /// where; the script only sees the position's own hash).
    async fn ensure_not_elsewhere(&self, position: &Position) -> Result<(), RepositoryError> {
        let index = self.index_key();
        let mut cmd = redis::cmd("HGET");
        cmd.arg(&index).arg(&position.position_id);
        let Some(other): Option<String> = self.client.query("save", &index, &cmd).await? else {
            return Ok(());
        };
        if other == position.symbol.as_str() {
            return Ok(());
        }
        let Ok(other_symbol) = Symbol::new(&other) else {
            // A stale, unreadable index entry: the save rewrites it.
            return Ok(());
        };
        let other_key = self.redis_key(&other_symbol);
        let mut cmd = redis::cmd("HEXISTS");
        cmd.arg(&other_key).arg(&position.position_id);
        let exists: bool = self.client.query("save", &other_key, &cmd).await?;
        if exists {
            return Err(RepositoryError::Conflict {
                what: format!("position {}", position.position_id),
                detail: format!("it is open under {other}, not {}", position.symbol),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl PositionRepository for RedisPositionRepository {
    /// Writes the hash first and the index second: a failure in between leaves an open position
    /// that `get` does not find yet (the next save repairs the index), or, on close, an index
    /// entry without a field, which `get` reads as `None`.
    async fn save(&self, position: &Position) -> Result<Position, RepositoryError> {
        let key = self.redis_key(&position.symbol);
        let mut next = position.clone();
        next.version = position.version.checked_add(1).ok_or_else(|| RepositoryError::Invalid {
            detail: format!("position {}: version {} cannot grow", position.position_id, position.version),
        })?;
        if position.version == 0 {
            self.ensure_not_elsewhere(position).await?;
        }
        let doc = if next.is_open() { encode_position(&next)? } else { String::new() };
        let mut invocation = self.save_script.prepare_invoke();
        invocation.key(&key).arg(&position.position_id).arg(position.version).arg(doc);
        let (code, stored, present): (i64, i64, i64) = self.client.invoke_prepared("save", &key, &invocation).await?;
        match code {
            0 => {}
            1 => {
                let what = format!("position {} in {key}", position.position_id);
                let detail = match (present, position.version) {
                    (0, v) => format!("expected version {v}, but the mirror does not hold it"),
                    (_, 0) => format!("it exists (version {stored})"),
                    (_, v) => format!("expected version {v}, stored version {stored}"),
                };
                return Err(RepositoryError::Conflict { what, detail });
            }
            _ => return Err(field_corrupt(&key, &position.position_id, "the stored document has no version")),
        }
        self.update_index(&next).await?;
        Ok(next)
    }

    async fn get(&self, position_id: &str) -> Result<Option<Position>, RepositoryError> {
        let index = self.index_key();
        let mut cmd = redis::cmd("HGET");
        cmd.arg(&index).arg(position_id);
        let Some(symbol): Option<String> = self.client.query("get", &index, &cmd).await? else {
            return Ok(None);
        };
        let symbol = Symbol::new(&symbol)
            .ok()
            .filter(|s| s.as_str() == symbol)
            .ok_or_else(|| field_corrupt(&index, position_id, format!("{symbol:?} is not a symbol")))?;
        let key = self.redis_key(&symbol);
        let mut cmd = redis::cmd("HGET");
        cmd.arg(&key).arg(position_id);
        let doc: Option<Vec<u8>> = self.client.query("get", &key, &cmd).await?;
        doc.map(|d| decode_position(&key, position_id, &symbol, &d)).transpose()
    }

    async fn list_open(&self, symbol: Option<Symbol>) -> Result<Vec<Position>, RepositoryError> {
        let mut out = if let Some(symbol) = symbol {
            self.read_hash(&self.redis_key(&symbol), &symbol).await?
        } else {
            let prefix = &self.client.config().key_prefix;
            let keys = self.client.scan_keys("list_open", &scan_pattern(prefix)).await?;
            let hashes = keys.iter().filter_map(|k| parse_positions_key(prefix, k).map(|s| (k, s)));
            // A few reads at a time, so a long symbol list does not drain the shared pool.
            // Collected first: a lazy iterator of closures inside this future trips the `Send`
            // check of `async_trait` (a higher-ranked lifetime error).
            let reads: Vec<_> = hashes.map(|(key, symbol)| async move { self.read_hash(key, &symbol).await }).collect();
            let per_symbol: Vec<Vec<Position>> =
                futures::stream::iter(reads).buffer_unordered(LIST_CONCURRENCY).try_collect().await?;
            per_symbol.into_iter().flatten().collect()
        };
        sort_positions(&mut out);
        Ok(out)
    }

    /// The mirror holds open positions only: this filters them, so a `Closed` filter finds none.
    async fn list_by_strategy(
        &self,
        strategy_id: &str,
        status: Option<PositionStatus>,
    ) -> Result<Vec<Position>, RepositoryError> {
        if status == Some(PositionStatus::Closed) {
            return Ok(Vec::new());
        }
        let mut open = self.list_open(None).await?;
        open.retain(|p| p.strategy_id.as_deref() == Some(strategy_id));
        Ok(open)
    }

    /// The open positions opened on `date` (the mirror holds no closed ones).
    async fn opened_on(&self, date: NaiveDate) -> Result<Vec<Position>, RepositoryError> {
        let mut open = self.list_open(None).await?;
        open.retain(|p| p.opened_at.date_naive() == date);
        Ok(open)
    }
}

/// `{prefix}positions:{SYMBOL}`; the braces are the Redis Cluster hash tag.
fn positions_key(prefix: &str, symbol: &Symbol) -> String {
    format!("{prefix}positions:{{{}}}", symbol.as_str())
}

/// `{prefix}positions:index`.
fn index_key(prefix: &str) -> String {
    format!("{prefix}positions:index")
}

/// The `SCAN MATCH` pattern of every per-symbol hash under `prefix` (not the index).
fn scan_pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 12);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("positions:{*");
    out
}

/// The symbol of a key written by [`positions_key`]; `None` for any other key.
fn parse_positions_key(prefix: &str, key: &str) -> Option<Symbol> {
    let inner = key.strip_prefix(prefix)?.strip_prefix("positions:{")?.strip_suffix('}')?;
    Symbol::new(inner).ok().filter(|s| s.as_str() == inner)
}

fn field_corrupt(key: &str, field: &str, detail: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::corrupt(format!("{key} field {field:?}"), detail)
}

/// The stored JSON document: every field, decimals as strings (exact, scale kept).
fn encode_position(position: &Position) -> Result<String, RepositoryError> {
    serde_json::to_string(position).map_err(|e| RepositoryError::Invalid {
        detail: format!("position {} cannot be encoded: {e}", position.position_id),
    })
}

/// Decodes field `field` of `key` (the hash of `symbol`), checking that the document belongs
/// there: its id is the field, its symbol the key's, and it is open.
fn decode_position(key: &str, field: &str, symbol: &Symbol, doc: &[u8]) -> Result<Position, RepositoryError> {
    let position: Position = serde_json::from_slice(doc).map_err(|e| field_corrupt(key, field, e))?;
    if position.position_id != field {
        return Err(field_corrupt(key, field, format!("the document is position {:?}", position.position_id)));
    }
    if &position.symbol != symbol {
        return Err(field_corrupt(key, field, format!("the document is of symbol {}", position.symbol)));
    }
    if !position.is_open() {
        return Err(field_corrupt(key, field, "a closed position in the open-positions hash"));
    }
    Ok(position)
}

/// Oldest opened first, then by id: a stable order whatever order Redis answers in.
fn sort_positions(positions: &mut [Position]) {
    positions.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then_with(|| a.position_id.cmp(&b.position_id)));
}

#[cfg(test)]
mod tests {
    use axia_domain::Side;
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;
    use rstest::rstest;
    use rust_decimal::Decimal;

    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal literal")
    }

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 1, h, 0, 0).unwrap()
    }

    fn eurusd() -> Symbol {
        Symbol::new("EURUSD").unwrap()
    }

    fn position(id: &str, opened: DateTime<Utc>) -> Position {
        Position::open(id, "T1", eurusd(), Side::Buy, d("1.50"), d("1.10000"), opened).unwrap()
    }

    fn rich() -> Position {
        let mut p = position("P1", t(1));
        p.signal_id = Some("S1".into());
        p.strategy_id = Some("trend".into());
        p.current_price = d("1.10250");
        p.stop_loss = Some(d("1.09500"));
        p.take_profit = Some(d("1.12000"));
        p.trailing_stop_distance = Some(d("0.00300"));
        p.add_position.max_levels = 3;
        p.add_position.level = 1;
        p.breakeven.trigger = Some(d("0.0020"));
        p.breakeven.applied = true;
        p.unrealized_pnl = d("0.003750");
        p.realized_pnl = d("-12.345678901234567890");
        p.version = 7;
        p.updated_at = Utc.timestamp_opt(1_756_700_000, 123_456_789).unwrap();
        p
    }

    #[test]
    fn redis_position_keys_share_the_symbol_hash_tag() {
        assert_eq!(positions_key("axia:", &eurusd()), "axia:positions:{EURUSD}");
        assert_eq!(index_key("axia:"), "axia:positions:index");
        assert_eq!(parse_positions_key("axia:", "axia:positions:{EURUSD}"), Some(eurusd()));
        assert_eq!(parse_positions_key("axia:", "axia:positions:index"), None);
        assert_eq!(parse_positions_key("axia:", "axia:positions:{eurusd}"), None);
        assert_eq!(parse_positions_key("other:", "axia:positions:{EURUSD}"), None);
        assert_eq!(parse_positions_key("axia:", "axia:ohlcv:{EURUSD:M1}"), None);
        assert_eq!(scan_pattern("t*[1]:"), "t\\*\\[1\\]:positions:{*");
    }

    #[test]
    fn redis_position_json_round_trips_every_field_exactly() {
        let p = rich();
        let doc = encode_position(&p).unwrap();
        // Decimals are strings: no binary float on the way, and the scale survives.
        assert!(doc.contains(r#""entry_price":"1.10000""#), "{doc}");
        assert!(doc.contains(r#""realized_pnl":"-12.345678901234567890""#), "{doc}");
        let back = decode_position("k", "P1", &eurusd(), doc.as_bytes()).unwrap();
        assert_eq!(back, p);
        assert_eq!(encode_position(&back).unwrap(), doc);
    }

    #[rstest]
    #[case::not_json(b"garbage".to_vec(), "expected value")]
    #[case::other_id(encode_position(&position("P2", t(1))).unwrap().into_bytes(), "position \"P2\"")]
    #[case::bad_decimal(
        encode_position(&position("P1", t(1))).unwrap().replace("\"1.50\"", "\"x\"").into_bytes(),
        "expected a Decimal"
    )]
    fn redis_undecodable_positions_are_corrupt_naming_key_and_field(#[case] doc: Vec<u8>, #[case] says: &str) {
        match decode_position("axia:positions:{EURUSD}", "P1", &eurusd(), &doc) {
            Err(RepositoryError::Corrupt { what, detail }) => {
                assert_eq!(what, "axia:positions:{EURUSD} field \"P1\"");
                assert!(detail.contains(says), "{detail}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn redis_positions_of_another_symbol_or_closed_are_corrupt() {
        let doc = encode_position(&position("P1", t(1))).unwrap();
        let usdjpy = Symbol::new("USDJPY").unwrap();
        assert!(matches!(decode_position("k", "P1", &usdjpy, doc.as_bytes()), Err(RepositoryError::Corrupt { .. })));
        let mut closed = position("P1", t(1));
        closed.close(d("1.2"), t(2)).unwrap();
        let doc = encode_position(&closed).unwrap();
        assert!(matches!(decode_position("k", "P1", &eurusd(), doc.as_bytes()), Err(RepositoryError::Corrupt { .. })));
    }

    #[test]
    fn redis_positions_sort_by_open_time_then_id() {
        let mut ps = vec![position("B", t(2)), position("C", t(1)), position("A", t(2))];
        sort_positions(&mut ps);
        let ids: Vec<&str> = ps.iter().map(|p| p.position_id.as_str()).collect();
        assert_eq!(ids, ["C", "A", "B"]);
    }

    proptest! {
        #[test]
        fn redis_position_json_round_trips_any_decimal(
            mantissa in any::<i64>(),
            scale in 0u32..=28,
            version in 0u64..(1 << 53),
            nanos in 0u32..1_000_000_000,
        ) {
            let x = Decimal::new(mantissa, scale);
            let mut p = position("P", t(0));
            p.current_price = x;
            p.unrealized_pnl = x;
            p.stop_loss = Some(x);
            p.version = version;
            p.updated_at = Utc.timestamp_opt(1_756_700_000, nanos).unwrap();
            let doc = encode_position(&p).unwrap();
            let back = decode_position("k", "P", &eurusd(), doc.as_bytes()).unwrap();
            prop_assert_eq!(back.current_price.scale(), x.scale());
            prop_assert_eq!(back, p);
        }
    }
}
