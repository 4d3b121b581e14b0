//! [`PositionRepository`] on DynamoDB: one item per position at `POSITION#<id>` /
//! `TRADE#<opening trade>` (AP1), open or closed, indexed by strategy (GSI1, AP4), symbol (GSI2,
//! AP2), open-only (GSI3, sparse) and opening day (GSI5, AP5). A closed position expires 365
//! days after it closed.
//!
//! The add level and the version are item attributes updated by an atomic `ADD`
//! ([`DynamoStateStore::increment_add_level`]) without rewriting the document, so they are
//! authoritative over the document's copies.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use axia_domain::ports::{PositionRepository, RepositoryError};
use axia_domain::{Position, PositionStatus, Symbol};
use chrono::{NaiveDate, Utc};

use super::DynamoStateStore;
use super::error::Op;
use super::items::{Condition, Item, decode, encode, get_s, get_u64, key, n, s};
use super::keys::{
    CLOSED_POSITION_DAYS, CREATED, DOC, GSI1, GSI2, GSI3, GSI5, ITEM_TYPE, LEVEL, MAX_LEVELS, OPEN_POSITIONS, PK,
    POSITION_ID_SK, POSITION_SK_PREFIX, SK, STATUS, TTL, UPDATED, VERSION, date_pk, expiry, open_sk, position_pk,
    position_sk, status_prefix, status_sk, strategy_pk, symbol_pk, symbol_prefix, time_sk, ts,
};
use super::writes::Write;
use crate::state_rules::next_version;

const ITEM: &str = "Position";

pub(super) fn what(position_id: &str) -> String {
    format!("position {position_id}")
}

/// The item of `p`, which already carries its new version.
fn item_of(p: &Position) -> Result<Item, RepositoryError> {
    let id = &p.position_id;
    let status = p.status.as_str();
    let mut item = key(position_pk(id), position_sk(&p.trade_id));
    item.extend([
        (ITEM_TYPE.to_string(), s(ITEM)),
        (VERSION.to_string(), n(p.version)),
        (CREATED.to_string(), s(ts(p.opened_at))),
        (UPDATED.to_string(), s(ts(p.updated_at))),
        (DOC.to_string(), encode(&what(id), p)?),
        ("position_id".to_string(), s(id)),
        ("trade_id".to_string(), s(&p.trade_id)),
        ("symbol".to_string(), s(p.symbol.as_str())),
        ("side".to_string(), s(p.side.as_str())),
        (STATUS.to_string(), s(status)),
        ("opened_utc".to_string(), s(ts(p.opened_at))),
        (LEVEL.to_string(), n(p.add_position.level)),
        (MAX_LEVELS.to_string(), n(p.add_position.max_levels)),
        (GSI2.1.to_string(), s(symbol_pk(p.symbol.as_str()))),
        (GSI2.2.to_string(), s(status_sk(status, p.opened_at, id))),
        (GSI5.1.to_string(), s(date_pk(p.opened_at.date_naive()))),
        (GSI5.2.to_string(), s(time_sk(p.opened_at, id))),
    ]);
    if let Some(strategy) = p.strategy_id.as_deref().filter(|x| !x.is_empty()) {
        item.insert("strategy_id".into(), s(strategy));
        item.insert(GSI1.1.into(), s(strategy_pk(strategy)));
        item.insert(GSI1.2.into(), s(status_sk(status, p.opened_at, id)));
    }
    if let Some(signal) = p.signal_id.as_deref().filter(|x| !x.is_empty()) {
        item.insert("signal_id".into(), s(signal));
    }
    match closed_expiry(p) {
        // Only open positions are in GSI3: a put without gs3pk/gs3sk removes a closed one.
        None => {
            item.insert(GSI3.1.into(), s(OPEN_POSITIONS));
            item.insert(GSI3.2.into(), s(open_sk(p.symbol.as_str(), p.opened_at, id)));
        }
        Some((closed_at, ttl)) => {
            item.insert("closed_utc".into(), s(closed_at));
            item.insert(TTL.into(), n(ttl));
        }
    }
    Ok(item)
}

/// When a closed position closed and when it expires; `None` while open.
fn closed_expiry(p: &Position) -> Option<(String, i64)> {
    (p.status == PositionStatus::Closed).then(|| {
        let closed = p.closed_at.unwrap_or(p.updated_at);
        (ts(closed), expiry(closed, CLOSED_POSITION_DAYS))
    })
}

/// The item that makes the id unique: the position item's key holds its opening trade, and a
/// condition can test one key only.
fn id_item(p: &Position) -> Item {
    let mut item = key(position_pk(&p.position_id), POSITION_ID_SK);
    item.extend([
        (ITEM_TYPE.to_string(), s("PositionId")),
        ("trade_id".to_string(), s(&p.trade_id)),
        (CREATED.to_string(), s(ts(p.opened_at))),
        (UPDATED.to_string(), s(ts(p.updated_at))),
    ]);
    if let Some((_, ttl)) = closed_expiry(p) {
        item.insert(TTL.into(), n(ttl));
    }
    item
}

/// The writes that store `next` (carrying its new version) over `expected_version` (0: create):
/// the position item, plus its id item when created (conditional) or closed (to expire with it).
pub(super) fn position_writes(next: &Position, expected_version: u64) -> Result<Vec<Write>, RepositoryError> {
    let w = what(&next.position_id);
    let mut writes = Vec::with_capacity(2);
    if expected_version == 0 {
        writes.push(Write::put(&w, item_of(next)?, Condition::Absent));
        writes.push(Write::put(format!("{w} (its id)"), id_item(next), Condition::Absent));
    } else {
        writes.push(Write::put(&w, item_of(next)?, Condition::Version(expected_version)));
        if !next.is_open() {
            writes.push(Write::put(format!("{w} (its id)"), id_item(next), Condition::Always));
        }
    }
    Ok(writes)
}

/// Decodes a position item (from the table or an index), overlaying the authoritative version
/// and add level and checking that the document belongs to the item.
fn decode_position(item: &Item) -> Result<Position, RepositoryError> {
    let pk = get_s(item, PK, "position item")?;
    let w = format!("position item {pk}");
    let item_type = get_s(item, ITEM_TYPE, &w)?;
    if item_type != ITEM {
        return Err(RepositoryError::corrupt(w, format!("item type {item_type:?}, expected {ITEM}")));
    }
    let mut p: Position = decode(item, &w)?;
    let sk = get_s(item, SK, &w)?;
    if pk != position_pk(&p.position_id) || sk != position_sk(&p.trade_id) {
        return Err(RepositoryError::corrupt(
            w,
            format!("the document is position {:?} of trade {:?}, the item {sk}", p.position_id, p.trade_id),
        ));
    }
    p.version = get_u64(item, VERSION, &w)?;
    let level = get_u64(item, LEVEL, &w)?;
    p.add_position.level =
        u32::try_from(level).map_err(|_| RepositoryError::corrupt(&w, format!("add level {level} is too large")))?;
    Ok(p)
}

/// Oldest opened first, as the SQLite store lists.
fn sorted(mut positions: Vec<Position>) -> Vec<Position> {
    positions.sort_by(|a, b| (a.opened_at, &a.position_id).cmp(&(b.opened_at, &b.position_id)));
    positions
}

impl DynamoStateStore {
    /// The position item with the position's id (it holds one: its opening trade is in the key).
    async fn find_position(&self, position_id: &str) -> Result<Option<Item>, RepositoryError> {
        let query = self
            .query(None)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(position_pk(position_id)))
            .expression_attribute_values(":prefix", s(POSITION_SK_PREFIX));
        let mut items = self.query_all(query, None, &what(position_id)).await?;
        match items.len() {
            0 | 1 => Ok(items.pop()),
            k => Err(RepositoryError::corrupt(what(position_id), format!("{k} position items share the id"))),
        }
    }

    /// Positions from index `gsi` whose partition is `pk` and, when given, whose sort key begins
    /// with `prefix`, oldest opened first.
    async fn positions_by(
        &self,
        gsi: (&str, &str, &str),
        pk: String,
        prefix: Option<String>,
        what: &str,
    ) -> Result<Vec<Position>, RepositoryError> {
        let (index, pk_name, sk_name) = gsi;
        let mut query = self
            .query(Some(index))
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(pk));
        query = match prefix {
            Some(prefix) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":prefix", s(prefix)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let items = self.query_all(query, None, what).await?;
        Ok(sorted(items.iter().map(decode_position).collect::<Result<_, _>>()?))
    }

    /// AP1: the position item at `POSITION#<position_id>` / `TRADE#<trade_id>`, where
    /// `trade_id` is the position's opening trade; one GetItem.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    pub async fn position_item(&self, position_id: &str, trade_id: &str) -> Result<Option<Position>, RepositoryError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(position_pk(position_id), position_sk(trade_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.map_err(&e, Op::GetItem, &what(position_id)))?;
        out.item.as_ref().map(decode_position).transpose()
    }

    /// Adds one to the add level of an open position below its `max_levels`, atomically (an
    /// `ADD` of the level and the version, so concurrent callers lose no increment); returns
    /// the position after it.
    ///
    /// # Errors
    /// [`RepositoryError::NotFound`] when there is no such position,
    /// [`RepositoryError::Conflict`] when it is closed or at its maximum level.
    pub async fn increment_add_level(&self, position_id: &str) -> Result<Position, RepositoryError> {
        let w = what(position_id);
        let Some(found) = self.find_position(position_id).await? else {
            return Err(RepositoryError::NotFound { what: w });
        };
        let item_key: Item = [PK, SK]
            .into_iter()
            .map(|k| Ok((k.to_string(), s(get_s(&found, k, &w)?))))
            .collect::<Result<_, RepositoryError>>()?;
        let names: HashMap<String, String> = [
            ("#pk", PK),
            ("#level", LEVEL),
            ("#max", MAX_LEVELS),
            ("#version", VERSION),
            ("#status", STATUS),
            ("#updated", UPDATED),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .update_expression("ADD #level :one, #version :one SET #updated = :now")
            .condition_expression("attribute_exists(#pk) AND #status = :open AND #level < #max")
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":open", s(PositionStatus::Open.as_str()))
            .expression_attribute_values(":now", s(ts(Utc::now())))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match sent {
            Ok(out) => match out.attributes {
                Some(item) => decode_position(&item),
                None => Err(RepositoryError::corrupt(w, "the update returned no item")),
            },
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => Err(level_refused(w, c.item())),
                _ => Err(self.map_err(&e, Op::UpdateItem, &w)),
            },
        }
    }
}

/// Why an increment was refused, from the stored item.
fn level_refused(w: String, old: Option<&Item>) -> RepositoryError {
    let Some(old) = old else {
        return RepositoryError::NotFound { what: w };
    };
    let number = |name: &str| match old.get(name) {
        Some(AttributeValue::N(v)) => v.clone(),
        _ => "?".into(),
    };
    let detail = match old.get(STATUS) {
        Some(AttributeValue::S(status)) if status != PositionStatus::Open.as_str() => format!("it is {status}"),
        _ => format!("it is at add level {} of at most {}", number(LEVEL), number(MAX_LEVELS)),
    };
    RepositoryError::Conflict { what: w, detail }
}

#[async_trait]
impl PositionRepository for DynamoStateStore {
    async fn save(&self, position: &Position) -> Result<Position, RepositoryError> {
        let mut next = position.clone();
        next.version = next_version(&what(&position.position_id), position.version)?;
        self.write(&position_writes(&next, position.version)?).await?;
        Ok(next)
    }

    async fn get(&self, position_id: &str) -> Result<Option<Position>, RepositoryError> {
        let Some(item) = self.find_position(position_id).await? else {
            return Ok(None);
        };
        let p = decode_position(&item)?;
        if p.position_id != position_id {
            return Err(RepositoryError::corrupt(what(position_id), format!("the item is of {:?}", p.position_id)));
        }
        Ok(Some(p))
    }

    async fn list_open(&self, symbol: Option<Symbol>) -> Result<Vec<Position>, RepositoryError> {
        let prefix = symbol.as_ref().map(|sym| symbol_prefix(sym.as_str()));
        self.positions_by(GSI3, OPEN_POSITIONS.into(), prefix, "open positions").await
    }

    async fn list_by_strategy(
        &self,
        strategy_id: &str,
        status: Option<PositionStatus>,
    ) -> Result<Vec<Position>, RepositoryError> {
        if strategy_id.is_empty() {
            // Positions without a strategy are not in GSI1, and a key cannot be empty.
            return Ok(Vec::new());
        }
        let prefix = status.map(|st| status_prefix(st.as_str()));
        self.positions_by(GSI1, strategy_pk(strategy_id), prefix, &format!("positions of strategy {strategy_id}")).await
    }

    async fn opened_on(&self, date: NaiveDate) -> Result<Vec<Position>, RepositoryError> {
        self.positions_by(GSI5, date_pk(date), None, &format!("positions opened on {date}")).await
    }
}

impl DynamoStateStore {
    /// AP2: the positions of `symbol` (GSI2), optionally of one status, oldest opened first.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    pub async fn positions_of_symbol(
        &self,
        symbol: &Symbol,
        status: Option<PositionStatus>,
    ) -> Result<Vec<Position>, RepositoryError> {
        let prefix = status.map(|st| status_prefix(st.as_str()));
        self.positions_by(GSI2, symbol_pk(symbol.as_str()), prefix, &format!("positions of {symbol}")).await
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::Side;
    use chrono::{DateTime, TimeZone};

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap()
    }

    fn open(id: &str) -> Position {
        let mut p = Position::open(
            id,
            "T1",
            Symbol::new("EURUSD").unwrap(),
            Side::Buy,
            "1.50".parse().unwrap(),
            "1.10000".parse().unwrap(),
            t0(),
        )
        .unwrap();
        p.version = 1;
        p.strategy_id = Some("S1".into());
        p.realized_pnl = "-12.345678901234567890".parse().unwrap();
        p
    }

    #[test]
    fn an_open_position_is_in_gsi3_and_a_closed_one_expires() {
        let p = open("P1");
        let item = item_of(&p).unwrap();
        assert_eq!(item[GSI3.1], s(OPEN_POSITIONS));
        assert_eq!(item[GSI1.1], s("STRATEGY#S1"));
        assert_eq!(item[GSI2.2], s("STATUS#OPEN#2025-09-01T08:00:00.000000Z#P1"));
        assert!(!item.contains_key(TTL));
        assert_eq!(decode_position(&item).unwrap(), p, "decimals and times exact");

        let mut closed = p.clone();
        closed.close("1.2".parse().unwrap(), t0() + chrono::Duration::days(2)).unwrap();
        let item = item_of(&closed).unwrap();
        assert!(!item.contains_key(GSI3.1) && !item.contains_key(GSI3.2));
        assert_eq!(item[GSI2.2], s("STATUS#CLOSED#2025-09-01T08:00:00.000000Z#P1"), "sorted by opening");
        let ttl = (t0() + chrono::Duration::days(2 + 365)).timestamp();
        assert_eq!(item[TTL], n(ttl));
        assert_eq!(id_item(&closed)[TTL], n(ttl), "the id item expires with the position");
    }

    #[test]
    fn item_attributes_win_over_the_document_and_foreign_documents_are_corrupt() {
        let p = open("P1");
        let mut item = item_of(&p).unwrap();
        item.insert(LEVEL.into(), n(2));
        item.insert(VERSION.into(), n(4));
        let got = decode_position(&item).unwrap();
        assert_eq!((got.add_position.level, got.version), (2, 4));
        item.insert(PK.into(), s("POSITION#P9"));
        assert!(matches!(decode_position(&item), Err(RepositoryError::Corrupt { .. })));
    }

    #[test]
    fn creates_are_guarded_by_the_id_item() {
        let p = open("P1");
        let create = position_writes(&p, 0).unwrap();
        assert_eq!(create.len(), 2);
        assert!(create.iter().all(|w| w.condition == Condition::Absent));
        let update = position_writes(&p, 1).unwrap();
        assert_eq!(update.len(), 1);
        assert_eq!(update[0].condition, Condition::Version(1));
    }

    #[test]
    fn refused_increments_say_why() {
        let mut old = item_of(&open("P1")).unwrap();
        old.insert(MAX_LEVELS.into(), n(3));
        old.insert(LEVEL.into(), n(3));
        let e = level_refused("position P1".into(), Some(&old));
        assert!(matches!(&e, RepositoryError::Conflict { detail, .. } if detail.contains("at most 3")), "{e:?}");
        old.insert(STATUS.into(), s("CLOSED"));
        let e = level_refused("position P1".into(), Some(&old));
        assert!(matches!(&e, RepositoryError::Conflict { detail, .. } if detail.contains("CLOSED")), "{e:?}");
        assert!(matches!(level_refused("p".into(), None), RepositoryError::NotFound { .. }));
    }
}
