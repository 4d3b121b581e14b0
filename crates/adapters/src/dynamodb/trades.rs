//! [`TradeRepository`] on DynamoDB: each fill is the item `TRADE#<id>` / `METADATA` (indexed by
//! signal in GSI4) plus two link items carrying the same document, `FILL#<time>#<id>` under its
//! order's and its position's partitions, so that both lists are one Query. All three expire 90
//! days after the execution. They are written only by
//! [`OrderRepository::record_execution`](axia_domain::ports::OrderRepository::record_execution).

use async_trait::async_trait;
use axia_domain::ports::{RepositoryError, TradeRepository};
use axia_domain::{ClientOrderId, Trade};

use super::DynamoStateStore;
use super::items::{Condition, Item, decode, encode, get_s, key, n, s};
use super::keys::{
    CREATED, DOC, FILL_PREFIX, GSI4, ITEM_TYPE, METADATA, PK, SK, TRADE_DAYS, TTL, UPDATED, VERSION, expiry, fill_sk,
    order_pk, position_pk, signal_pk, signal_sk, trade_pk, ts,
};
use super::writes::Write;

fn what(trade_id: &str) -> String {
    format!("trade {trade_id}")
}

/// The attributes the trade item and its links share.
fn common(
    trade: &Trade,
    item_type: &str,
    position_id: &str,
) -> Result<Vec<(String, aws_sdk_dynamodb::types::AttributeValue)>, RepositoryError> {
    let at = ts(trade.executed_at());
    Ok(vec![
        (ITEM_TYPE.to_string(), s(item_type)),
        (VERSION.to_string(), n(1)),
        (CREATED.to_string(), s(&at)),
        (UPDATED.to_string(), s(&at)),
        (DOC.to_string(), encode(&what(trade.trade_id()), trade)?),
        ("trade_id".to_string(), s(trade.trade_id())),
        ("client_order_id".to_string(), s(trade.client_order_id().as_str())),
        ("position_id".to_string(), s(position_id)),
        ("executed_utc".to_string(), s(at)),
        (TTL.to_string(), n(expiry(trade.executed_at(), TRADE_DAYS))),
    ])
}

/// The writes that record `trade` of an order with `signal_id`, filed under `position_id`:
/// the trade item and its two links, each created only when absent.
pub(super) fn trade_writes(
    trade: &Trade,
    signal_id: Option<&str>,
    position_id: &str,
) -> Result<Vec<Write>, RepositoryError> {
    let id = trade.trade_id();
    let w = what(id);
    let mut item = key(trade_pk(id), METADATA);
    item.extend(common(trade, "Trade", position_id)?);
    if let Some(signal) = signal_id.filter(|x| !x.is_empty()) {
        item.insert("signal_id".into(), s(signal));
        item.insert(GSI4.1.into(), s(signal_pk(signal)));
        item.insert(GSI4.2.into(), s(signal_sk(trade.executed_at())));
    }
    let link = |pk: String| -> Result<Item, RepositoryError> {
        let mut link = key(pk, fill_sk(trade.executed_at(), id));
        link.extend(common(trade, "Fill", position_id)?);
        Ok(link)
    };
    Ok(vec![
        Write::put(&w, item, Condition::Absent),
        Write::put(
            format!("{w} (under order {})", trade.client_order_id()),
            link(order_pk(trade.client_order_id().as_str()))?,
            Condition::Absent,
        ),
        Write::put(format!("{w} (under position {position_id})"), link(position_pk(position_id))?, Condition::Absent),
    ])
}

/// Decodes a trade item or fill link (from the table or GSI4), checking by its key that the
/// document belongs to it (indexes project the keys, not `trade_id`).
fn decode_trade(item: &Item) -> Result<Trade, RepositoryError> {
    let (pk, sk) = (get_s(item, PK, "trade item")?, get_s(item, SK, "trade item")?);
    let w = format!("trade item {pk} / {sk}");
    let t: Trade = decode(item, &w)?;
    let id = t.trade_id();
    let belongs = if sk == METADATA {
        pk == trade_pk(id)
    } else {
        sk.starts_with(FILL_PREFIX) && sk.strip_suffix(id).is_some_and(|rest| rest.ends_with('#'))
    };
    if !belongs {
        return Err(RepositoryError::corrupt(w, format!("the document is trade {id:?}")));
    }
    Ok(t)
}

impl DynamoStateStore {
    /// The fills filed in partition `pk`, oldest first.
    async fn fills(&self, pk: String, what: &str) -> Result<Vec<Trade>, RepositoryError> {
        let query = self
            .query(None)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(FILL_PREFIX));
        self.query_all(query, None, what).await?.iter().map(decode_trade).collect()
    }

    /// The trades of the orders of one signal (GSI4), oldest first.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`], [`RepositoryError::Corrupt`].
    pub async fn trades_of_signal(&self, signal_id: &str) -> Result<Vec<Trade>, RepositoryError> {
        if signal_id.is_empty() {
            return Ok(Vec::new());
        }
        let query = self
            .query(Some(GSI4.0))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI4.1)
            .expression_attribute_values(":pk", s(signal_pk(signal_id)));
        self.query_all(query, None, &format!("trades of signal {signal_id}")).await?.iter().map(decode_trade).collect()
    }
}

#[async_trait]
impl TradeRepository for DynamoStateStore {
    async fn for_order(&self, id: &ClientOrderId) -> Result<Vec<Trade>, RepositoryError> {
        self.fills(order_pk(id.as_str()), &format!("trades of order {id}")).await
    }

    /// Trades are filed under the position recorded with them, also when the trade itself
    /// names no position.
    async fn for_position(&self, position_id: &str) -> Result<Vec<Trade>, RepositoryError> {
        self.fills(position_pk(position_id), &format!("trades of position {position_id}")).await
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{Side, Symbol};
    use chrono::{Duration, TimeZone, Utc};
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn a_trade_and_its_links_expire_after_90_days_and_decode_exactly() {
        let at = Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap();
        let cid = ClientOrderId::new("c-1").unwrap();
        let price: Decimal = "1.100000000000000000001".parse().unwrap();
        let trade =
            Trade::new("T1", cid, None, Symbol::new("EURUSD").unwrap(), Side::Buy, Decimal::ONE, price, at).unwrap();
        let writes = trade_writes(&trade, Some("SIG-1"), "P1").unwrap();
        let ttl = n((at + Duration::days(90)).timestamp());
        let items: Vec<&Item> = writes
            .iter()
            .map(|w| match &w.change {
                super::super::writes::Change::Put(i) => i,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(items[0][GSI4.1], s("SIGNAL#SIG-1"));
        assert_eq!(items[1][PK], s("ORDER#c-1"));
        assert_eq!(items[2][PK], s("POSITION#P1"));
        for item in items {
            assert_eq!(item[TTL], ttl);
            assert_eq!(decode_trade(item).unwrap(), trade);
        }
        assert!(trade_writes(&trade, None, "P1").unwrap()[0].what == "trade T1");
        let mut foreign = match &writes[2].change {
            super::super::writes::Change::Put(i) => i.clone(),
            other => panic!("{other:?}"),
        };
        foreign.insert(SK.into(), s(fill_sk(at, "T11")));
        assert!(matches!(decode_trade(&foreign), Err(RepositoryError::Corrupt { .. })), "a link of another trade");
    }
}
