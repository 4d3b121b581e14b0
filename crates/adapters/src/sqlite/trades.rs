//! [`TradeRepository`] over SQLite: trades are written only by
//! [`OrderRepository::record_execution`](axia_domain::ports::OrderRepository::record_execution).

use async_trait::async_trait;
use axia_domain::ports::{RepositoryError, TradeRepository};
use axia_domain::{ClientOrderId, Trade};

use super::{SqliteStateStore, decode, sql_err};

/// Which column selects the trades.
#[derive(Debug, Clone, Copy)]
enum By {
    Order,
    Position,
}

impl SqliteStateStore {
    async fn trades_by(&self, by: By, key: &str) -> Result<Vec<Trade>, RepositoryError> {
        let sql = match by {
            By::Order => "SELECT trade_id, doc FROM trades WHERE client_order_id = ?1 ORDER BY executed_at_us, seq",
            By::Position => "SELECT trade_id, doc FROM trades WHERE position_id = ?1 ORDER BY executed_at_us, seq",
        };
        let key = key.to_string();
        let rows: Vec<(String, String)> = self
            .run(move |c| {
                let mut st = c.prepare(sql).map_err(sql_err)?;
                let rows = st.query_map([&key], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)
            })
            .await?;
        rows.iter()
            .map(|(id, doc)| {
                let w = format!("trade {id}");
                let t: Trade = decode(&w, doc)?;
                if t.trade_id() != id {
                    return Err(RepositoryError::corrupt(w, format!("the document is trade {:?}", t.trade_id())));
                }
                Ok(t)
            })
            .collect()
    }
}

#[async_trait]
impl TradeRepository for SqliteStateStore {
    async fn for_order(&self, id: &ClientOrderId) -> Result<Vec<Trade>, RepositoryError> {
        self.trades_by(By::Order, id.as_str()).await
    }

    /// Trades are filed under the position recorded with them, also when the trade itself
    /// names no position.
    async fn for_position(&self, position_id: &str) -> Result<Vec<Trade>, RepositoryError> {
        self.trades_by(By::Position, position_id).await
    }
}
