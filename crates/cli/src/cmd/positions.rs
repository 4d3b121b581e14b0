//! `axia positions list`: the open positions of the state store (with `--all`, also the closed
//! positions that recent orders opened or changed).

use std::collections::BTreeMap;

use axia_domain::Position;
use chrono::SecondsFormat;
use serde_json::Value;

use crate::cli::PositionsCommand;
use crate::cmd::orders::want_json;
use crate::error::{CliError, CliResult};
use crate::wiring::{App, symbol};

/// How many of the newest orders `--all` looks through for closed positions.
const ALL_ORDERS: usize = 10_000;

/// Runs the command.
///
/// # Errors
/// A usage error for an invalid symbol; [`CliError::Failed`] when the state store cannot be read.
pub async fn run(app: &App, command: PositionsCommand) -> CliResult {
    let PositionsCommand::List { symbol: wanted, all, json } = command;
    let wanted = wanted.as_deref().map(symbol).transpose()?;
    let stores = app.state().await.map_err(CliError::Failed)?;
    let failed = |e: axia_domain::ports::RepositoryError| CliError::Failed(e.into());
    let mut positions: BTreeMap<String, Position> = BTreeMap::new();
    for p in stores.positions.list_open(wanted.clone()).await.map_err(failed)? {
        positions.insert(p.position_id.clone(), p);
    }
    if all {
        let orders = stores.orders.list(None, ALL_ORDERS).await.map_err(failed)?;
        for id in orders.iter().filter_map(|o| o.position_id()) {
            if positions.contains_key(id) {
                continue;
            }
            if let Some(p) = stores.positions.get(id).await.map_err(failed)?
                && wanted.as_ref().is_none_or(|w| *w == p.symbol)
            {
                positions.insert(p.position_id.clone(), p);
            }
        }
    }
    let mut positions: Vec<Position> = positions.into_values().collect();
    positions.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| a.position_id.cmp(&b.position_id)));
    if want_json(json) {
        let rows: Vec<Value> = positions.iter().map(|p| serde_json::to_value(p).unwrap_or(Value::Null)).collect();
        outln!("{}", Value::Array(rows));
        return Ok(());
    }
    if positions.is_empty() {
        outln!("no {}positions", if all { "" } else { "open " });
        return Ok(());
    }
    outln!(
        "{:<40}  {:<8}  {:<4}  {:<6}  {:>12}  {:>12}  {:>10}  {:>10}  {:>12}  OPENED_AT",
        "POSITION_ID",
        "SYMBOL",
        "SIDE",
        "STATUS",
        "SIZE",
        "ENTRY",
        "SL",
        "TP",
        "REALIZED_PNL"
    );
    let opt = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
    for p in &positions {
        outln!(
            "{:<40}  {:<8}  {:<4}  {:<6}  {:>12}  {:>12}  {:>10}  {:>10}  {:>12}  {}",
            p.position_id,
            p.symbol.as_str(),
            p.side.as_str().to_ascii_lowercase(),
            p.status.as_str().to_ascii_lowercase(),
            p.size.to_string(),
            p.entry_price.to_string(),
            opt(p.stop_loss),
            opt(p.take_profit),
            p.realized_pnl.to_string(),
            p.opened_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
    }
    Ok(())
}
