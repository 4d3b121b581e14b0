//! `axia orders submit | run | list | dead-letters`.
//!
//! `submit` writes order requests (`docs/order-request.md`) to the queue of `[queue]`; `run` is
//! the daemon ([`crate::cmd::daemon`]); `list` reads the state store; `dead-letters` reads the
//! queue's dead-letter queue.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::anyhow;
use axia_adapters::queue::DeadLetter;
use axia_domain::{ClientOrderId, Order, OrderRequest, OrderSpec, OrderStatus, OrderType, RequestError, Side, Symbol};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::cli::{OrderTypeArg, OrdersCommand, SideArg, SubmitArgs};
use crate::error::{CliError, CliResult, UsageContext};
use crate::wiring::App;

/// Runs the command.
///
/// # Errors
/// Usage errors for bad arguments or unreadable requests; [`CliError::Failed`] for refused
/// requests and unreachable stores or queues.
pub async fn run(app: &App, command: OrdersCommand) -> CliResult {
    match command {
        OrdersCommand::Submit(args) => submit(app, *args).await,
        OrdersCommand::Run(args) => crate::cmd::daemon::run(app, args).await,
        OrdersCommand::List { status, limit, json } => list(app, status.as_deref(), limit, want_json(json)).await,
        OrdersCommand::DeadLetters { limit, json } => dead_letters(app, limit, want_json(json)).await,
    }
}

/// JSON when asked, or when stdout is not a terminal.
pub fn want_json(flag: bool) -> bool {
    flag || !std::io::stdout().is_terminal()
}

/// Why requests were not sent: unreadable (usage, exit 2) or refused by an order rule (exit 1).
#[derive(Debug, Default)]
struct Problems {
    unreadable: Vec<String>,
    refused: Vec<String>,
}

impl Problems {
    fn add(&mut self, at: &str, e: &RequestError) {
        let line = format!("{at}: {e}");
        if e.is_unparseable() { self.unreadable.push(line) } else { self.refused.push(line) }
    }

    fn into_result(self) -> CliResult {
        let total = self.unreadable.len() + self.refused.len();
        if total == 0 {
            return Ok(());
        }
        let lines: Vec<String> = self.unreadable.into_iter().chain(self.refused.iter().cloned()).collect();
        let e = anyhow!("nothing was sent: {total} request(s) cannot be submitted:\n  {}", lines.join("\n  "));
        if lines.len() > self.refused.len() { Err(CliError::Usage(e)) } else { Err(CliError::Failed(e)) }
    }
}

async fn submit(app: &App, args: SubmitArgs) -> CliResult {
    let known = app.config.orders.symbols(&app.config.collector).usage()?;
    let json_out = want_json(args.json);
    let requests = match &args.file {
        Some(path) => from_file(path, &known)?,
        None => vec![from_flags(&args, &known, app.clock.now())?],
    };
    if requests.is_empty() {
        return Err(CliError::Usage(anyhow!("the file holds no order requests")));
    }
    let queue = app.queue().await.map_err(CliError::Failed)?;
    let port = queue.port();
    let mut sent = Vec::new();
    for request in &requests {
        match port.send(&request.to_json()).await {
            Ok(message_id) => sent.push((request.client_order_id().as_str().to_owned(), message_id)),
            Err(e) => {
                print_sent(&sent, &queue.location, json_out);
                return Err(CliError::Failed(anyhow!(
                    "sent {} of {} requests; {} was not sent to {}: {e}",
                    sent.len(),
                    requests.len(),
                    request.client_order_id(),
                    queue.location
                )));
            }
        }
    }
    print_sent(&sent, &queue.location, json_out);
    Ok(())
}

fn print_sent(sent: &[(String, String)], queue: &str, json_out: bool) {
    if json_out {
        let rows: Vec<Value> =
            sent.iter().map(|(id, message)| json!({ "client_order_id": id, "message_id": message })).collect();
        outln!("{}", json!({ "queue": queue, "submitted": rows }));
    } else {
        for (id, message) in sent {
            outln!("{id}  (message {message})");
        }
        outln!("{} order request(s) sent to {queue}", sent.len());
    }
}

/// Every line of `path` (`-`: stdin), all checked before any is sent.
fn from_file(path: &Path, known: &[Symbol]) -> CliResult<Vec<OrderRequest>> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| CliError::Usage(anyhow!("cannot read stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| CliError::Usage(anyhow!("cannot read {}: {e}", path.display())))?
    };
    let mut problems = Problems::default();
    let mut requests = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{}:{}", path.display(), n + 1);
        match OrderRequest::parse(line).and_then(|r| r.validate(&|s| known.contains(s)).map(|()| r)) {
            Ok(r) => requests.push(r),
            Err(e) => problems.add(&at, &e),
        }
    }
    problems.into_result()?;
    Ok(requests)
}

fn from_flags(args: &SubmitArgs, known: &[Symbol], now: DateTime<Utc>) -> CliResult<OrderRequest> {
    let (Some(symbol), Some(side), Some(quantity)) = (&args.symbol, args.side, args.qty) else {
        return Err(CliError::Usage(anyhow!("give --symbol, --side and --qty, or --file")));
    };
    let client_order_id = match &args.client_order_id {
        Some(id) => ClientOrderId::new(id.trim()).usage()?,
        None => ClientOrderId::new(&format!("cli-{}", uuid::Uuid::new_v4().simple())).usage()?,
    };
    let spec = OrderSpec {
        client_order_id,
        symbol: Symbol::new(symbol).usage()?,
        side: match side {
            SideArg::Buy => Side::Buy,
            SideArg::Sell => Side::Sell,
        },
        order_type: match args.order_type {
            OrderTypeArg::Market => OrderType::Market,
            OrderTypeArg::Limit => OrderType::Limit,
            OrderTypeArg::Stop => OrderType::Stop,
        },
        quantity,
        limit_price: args.limit_price,
        stop_price: args.stop_price,
        stop_loss: args.sl,
        take_profit: args.tp,
        trailing_stop_distance: args.trailing,
        strategy_id: args.strategy.clone(),
        signal_id: args.signal.clone(),
    };
    let request = OrderRequest::new(spec, Some(now));
    let mut problems = Problems::default();
    if let Err(e) = request.validate(&|s| known.contains(s)) {
        problems.add("the request", &e);
    }
    problems.into_result()?;
    Ok(request)
}

async fn list(app: &App, status: Option<&str>, limit: u32, json_out: bool) -> CliResult {
    let statuses: Vec<Option<OrderStatus>> = match status.map(str::trim) {
        None | Some("" | "all") => vec![None],
        Some("open") => {
            vec![Some(OrderStatus::Received), Some(OrderStatus::Accepted), Some(OrderStatus::PartiallyFilled)]
        }
        Some(s) => vec![Some(s.parse::<OrderStatus>().usage()?)],
    };
    let stores = app.state().await.map_err(CliError::Failed)?;
    let mut orders = Vec::new();
    for st in statuses {
        let page = stores.orders.list(st, limit as usize).await.map_err(|e| CliError::Failed(e.into()))?;
        orders.extend(page);
    }
    orders
        .sort_by(|a, b| b.created_at().cmp(&a.created_at()).then_with(|| a.client_order_id().cmp(b.client_order_id())));
    orders.truncate(limit as usize);
    if json_out {
        outln!("{}", Value::Array(orders.iter().map(order_json).collect()));
        return Ok(());
    }
    if orders.is_empty() {
        outln!("no orders");
        return Ok(());
    }
    outln!(
        "{:<36}  {:<8}  {:<4}  {:<6}  {:>12}  {:<16}  {:>12}  {:<20}  REASON",
        "CLIENT_ORDER_ID",
        "SYMBOL",
        "SIDE",
        "TYPE",
        "QTY",
        "STATUS",
        "AVG_PRICE",
        "UPDATED_AT"
    );
    for o in &orders {
        let spec = o.spec();
        outln!(
            "{:<36}  {:<8}  {:<4}  {:<6}  {:>12}  {:<16}  {:>12}  {:<20}  {}",
            o.client_order_id().as_str(),
            spec.symbol.as_str(),
            side(spec.side),
            order_type(spec.order_type),
            spec.quantity.to_string(),
            o.status().as_str(),
            o.average_fill_price().map(|p| p.to_string()).unwrap_or_default(),
            time(o.updated_at()),
            o.reason().unwrap_or_default()
        );
    }
    Ok(())
}

async fn dead_letters(app: &App, limit: u32, json_out: bool) -> CliResult {
    let queue = app.queue().await.map_err(CliError::Failed)?;
    let dead = queue.admin.dead_letters(limit as usize).await.map_err(|e| CliError::Failed(e.into()))?;
    if json_out {
        outln!("{}", Value::Array(dead.iter().map(dead_json).collect()));
        return Ok(());
    }
    if dead.is_empty() {
        outln!("no dead letters in {}", queue.dlq_location());
        return Ok(());
    }
    for d in &dead {
        outln!(
            "{}  received {}x  dead-lettered {}",
            d.original_id.as_deref().unwrap_or("(unknown id)"),
            d.receive_count.map_or_else(|| "?".into(), |n| n.to_string()),
            d.dead_lettered_at.map_or_else(|| "(unknown time)".into(), time)
        );
        outln!("  reason: {}", d.reason.as_deref().unwrap_or("(none given: moved by the redrive policy)"));
        let body: String = d.body.chars().take(200).collect();
        outln!("  body:   {body}");
    }
    Ok(())
}

const fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

const fn order_type(t: OrderType) -> &'static str {
    match t {
        OrderType::Market => "market",
        OrderType::Limit => "limit",
        OrderType::Stop => "stop",
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn exact(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An order for programs: decimals as strings (exact), absent fields as `null`.
fn order_json(o: &Order) -> Value {
    let spec = o.spec();
    let dec = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string());
    json!({
        "client_order_id": o.client_order_id().as_str(),
        "symbol": spec.symbol.as_str(),
        "side": side(spec.side),
        "type": order_type(spec.order_type),
        "quantity": spec.quantity.to_string(),
        "limit_price": dec(spec.limit_price),
        "stop_price": dec(spec.stop_price),
        "stop_loss": dec(spec.stop_loss),
        "take_profit": dec(spec.take_profit),
        "trailing_stop_distance": dec(spec.trailing_stop_distance),
        "strategy_id": spec.strategy_id,
        "signal_id": spec.signal_id,
        "status": o.status().as_str(),
        "filled_quantity": o.filled_quantity().to_string(),
        "average_fill_price": dec(o.average_fill_price()),
        "reason": o.reason(),
        "position_id": o.position_id(),
        "version": o.version(),
        "created_at": exact(o.created_at()),
        "updated_at": exact(o.updated_at()),
    })
}

fn dead_json(d: &DeadLetter) -> Value {
    json!({
        "original_id": d.original_id,
        "reason": d.reason,
        "receive_count": d.receive_count,
        "dead_lettered_at": d.dead_lettered_at.map(exact),
        "body": d.body,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rust_decimal::dec;

    use super::*;

    fn known() -> Vec<Symbol> {
        vec![Symbol::new("EURUSD").unwrap()]
    }

    #[test]
    fn orders_file_problems_name_file_and_line_and_pick_the_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.jsonl");
        let good = r#"{"schema_version": 1, "client_order_id": "a-1", "symbol": "EURUSD", "side": "buy", "type": "market", "quantity": "1"}"#;
        let invalid = r#"{"schema_version": 1, "client_order_id": "a-2", "symbol": "EURUSD", "side": "buy", "type": "market", "quantity": "0"}"#;
        std::fs::write(&path, format!("# header\n{good}\n\n{invalid}\n")).unwrap();
        let err = from_file(&path, &known()).unwrap_err();
        assert_eq!(err.exit_code(), 1, "a refused request");
        assert!(err.to_string().contains("orders.jsonl:4: invalid order request"), "{err}");
        std::fs::write(&path, format!("{good}\nnot json\n{invalid}\n")).unwrap();
        let err = from_file(&path, &known()).unwrap_err();
        assert_eq!(err.exit_code(), 2, "an unreadable line is a usage error");
        let text = err.to_string();
        assert!(text.contains("orders.jsonl:2: unparseable") && text.contains("orders.jsonl:3: invalid"), "{text}");
        std::fs::write(&path, format!("{good}\n{good}\n")).unwrap();
        assert_eq!(from_file(&path, &known()).unwrap().len(), 2, "duplicates are the daemon's business");
    }

    #[test]
    fn orders_json_keeps_decimals_exact() {
        let (id, symbol) = (ClientOrderId::new("c-1").unwrap(), Symbol::new("EURUSD").unwrap());
        let spec = OrderSpec {
            strategy_id: Some("s".into()),
            ..OrderSpec::new(id, symbol, Side::Buy, OrderType::Limit, dec!(1.50), Some(dec!(1.0850)))
        };
        let at = Utc.with_ymd_and_hms(2025, 9, 1, 12, 0, 0).unwrap();
        let doc = order_json(&Order::received(spec, at));
        assert_eq!((doc["quantity"].as_str(), doc["limit_price"].as_str()), (Some("1.50"), Some("1.0850")));
        assert_eq!((doc["status"].as_str(), doc["type"].as_str()), (Some("received"), Some("limit")));
        assert!(doc["stop_price"].is_null());
    }
}
