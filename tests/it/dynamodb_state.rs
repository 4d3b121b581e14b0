//! The DynamoDB state store on the local server (`AXIA_TEST_AWS_ENDPOINT`): the state contract
//! suites, the concurrency scenarios, the table set-up, the access patterns AP1–AP5 with the
//! sparse index and TTLs, pagination, the atomic add-level counter, and the errors of a missing
//! table and an unreachable endpoint. Every test has a table of its own.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, ProjectionType, TimeToLiveStatus};
use axia_adapters::dynamodb::{DynamoSettings, DynamoStateStore, TableSetup};
use axia_domain::ports::{KillSwitchRepository, OrderRepository, PositionRepository, RepositoryError};
use axia_domain::{
    KillSwitchAudit, KillSwitchState, OrderStatus, Position, PositionStatus, Side, Symbol, TradingState,
};
use axia_tests::dynamodb_support::{dynamo_settings, dynamo_store_in_new_table, new_table_name};
use axia_tests::s3_support::aws_endpoint;
use axia_tests::state_contract::{self, fill_of, market_order};
use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    s.parse().expect("decimal literal")
}

fn at(day: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, day, h, m, s).unwrap()
}

/// A client of its own on the local server, to look at what the store wrote.
fn raw_client() -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(aws_endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "axia-tests"))
        .build();
    Client::from_conf(config)
}

/// The raw item at `pk` / `sk`.
async fn raw_item(
    store: &DynamoStateStore,
    pk: &str,
    sk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    raw_client()
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("raw GetItem")
        .item
}

fn ttl_of(item: &std::collections::HashMap<String, AttributeValue>) -> i64 {
    match item.get("ttl") {
        Some(AttributeValue::N(n)) => n.parse().expect("ttl is epoch seconds"),
        other => panic!("no ttl: {other:?}"),
    }
}

/// The `gs3sk` values in GSI3 (the open positions), straight from the index.
async fn raw_gsi3(store: &DynamoStateStore) -> Vec<String> {
    let out = raw_client()
        .query()
        .table_name(store.table())
        .index_name("GSI3")
        .key_condition_expression("gs3pk = :p")
        .expression_attribute_values(":p", AttributeValue::S("OPEN_POSITIONS".into()))
        .send()
        .await
        .expect("raw Query on GSI3");
    out.items().iter().map(|i| i["gs3sk"].as_s().expect("gs3sk is a string").clone()).collect()
}

fn position(id: &str, symbol: &str, strategy: Option<&str>, opened: DateTime<Utc>) -> Position {
    let mut p =
        Position::open(id, format!("T-{id}"), Symbol::new(symbol).unwrap(), Side::Buy, d("1"), d("1.1"), opened)
            .unwrap();
    p.strategy_id = strategy.map(str::to_string);
    p
}

fn ids(ps: &[Position]) -> Vec<&str> {
    ps.iter().map(|p| p.position_id.as_str()).collect()
}

#[tokio::test]
async fn dynamodb_state_kill_switch_contract() {
    state_contract::kill_switch(&dynamo_store_in_new_table().await).await;
}

#[tokio::test]
async fn dynamodb_state_positions_contract() {
    let store = dynamo_store_in_new_table().await;
    state_contract::positions(&store).await;
    // The suite uses fresh ids, so it can run twice on one table.
    state_contract::positions(&store).await;
}

#[tokio::test]
async fn dynamodb_state_orders_contract() {
    let store = dynamo_store_in_new_table().await;
    state_contract::orders(&store).await;
    state_contract::orders(&store).await;
}

#[tokio::test]
async fn dynamodb_state_trades_contract() {
    let store = dynamo_store_in_new_table().await;
    state_contract::trades(&store, &store).await;
}

#[tokio::test]
async fn dynamodb_state_contracts_hold_with_one_item_pages() {
    // Every Query then needs as many pages as it returns items (plus one).
    let store = dynamo_store_in_new_table().await.with_page_size(1);
    state_contract::kill_switch(&store).await;
    state_contract::positions(&store).await;
    state_contract::orders(&store).await;
    state_contract::trades(&store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn dynamodb_state_fifty_concurrent_saves_lose_no_update() {
    let table = dynamo_store_in_new_table().await;
    // Two stores, two clients: optimistic locking on the server is all that orders them.
    let other = DynamoStateStore::new(dynamo_settings(table.table())).await.unwrap();
    let conflicts = state_contract::fifty_concurrent_saves([Arc::new(table), Arc::new(other)]).await;
    eprintln!("fifty saves: {conflicts} conflicts retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_state_racing_executions_of_one_order_one_wins() {
    let table = dynamo_store_in_new_table().await;
    let other = DynamoStateStore::new(dynamo_settings(table.table())).await.unwrap();
    let handles = [Arc::new(table), Arc::new(other)];
    for _ in 0..5 {
        state_contract::racing_executions(handles.clone()).await;
    }
}

#[tokio::test]
async fn dynamodb_state_ensure_table_creates_the_layout_once() {
    let store = DynamoStateStore::new(dynamo_settings(&new_table_name())).await.unwrap();
    assert_eq!(store.ensure_table().await.unwrap(), TableSetup { created: true, ttl_enabled: true });

    let client = raw_client();
    let describe = || async {
        client.describe_table().table_name(store.table()).send().await.expect("DescribeTable").table.expect("table")
    };
    let table = describe().await;
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, KeyType)> {
        schema.iter().map(|k| (k.attribute_name().to_string(), k.key_type().clone())).collect()
    };
    assert_eq!(keys(table.key_schema()), [("pk".into(), KeyType::Hash), ("sk".into(), KeyType::Range)]);
    assert!(table.attribute_definitions().iter().all(|a| a.attribute_type().as_str() == "S"));
    let mut names: Vec<&str> = table.global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["GSI1", "GSI2", "GSI3", "GSI4", "GSI5"]);
    for index in table.global_secondary_indexes() {
        let n = &index.index_name().unwrap()[3..];
        assert_eq!(
            keys(index.key_schema()),
            [(format!("gs{n}pk"), KeyType::Hash), (format!("gs{n}sk"), KeyType::Range)],
            "GSI{n}"
        );
        let projection = index.projection().expect("projection");
        assert_eq!(projection.projection_type(), Some(&ProjectionType::Include));
        for attribute in ["doc", "version", "item_type", "current_add_position_level"] {
            assert!(projection.non_key_attributes().iter().any(|a| a == attribute), "GSI{n} projects {attribute}");
        }
    }
    let billing = table.billing_mode_summary().and_then(|b| b.billing_mode()).map(|m| m.as_str());
    assert_eq!(billing, Some("PAY_PER_REQUEST"));
    let ttl = client.describe_time_to_live().table_name(store.table()).send().await.expect("DescribeTimeToLive");
    let ttl = ttl.time_to_live_description().expect("TTL description");
    assert_eq!((ttl.time_to_live_status(), ttl.attribute_name()), (Some(&TimeToLiveStatus::Enabled), Some("ttl")));

    // Again: nothing to do, nothing changed.
    assert_eq!(store.ensure_table().await.unwrap(), TableSetup { created: false, ttl_enabled: false });
    let again = describe().await;
    assert_eq!(
        (again.key_schema(), again.global_secondary_indexes().len(), again.creation_date_time()),
        (table.key_schema(), 5, table.creation_date_time())
    );
}

#[tokio::test]
async fn dynamodb_state_ensure_table_refuses_a_table_of_another_layout() {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, ScalarAttributeType};

    let name = new_table_name();
    raw_client()
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("raw CreateTable");
    let store = DynamoStateStore::new(dynamo_settings(&name)).await.unwrap();
    match store.ensure_table().await {
        Err(RepositoryError::Misconfigured { detail, .. }) => {
            assert!(detail.contains(&name) && detail.contains("expected pk HASH and sk RANGE"), "{detail}");
            assert!(detail.contains("GSI1 is missing") && detail.contains("GSI5 is missing"), "{detail}");
        }
        other => panic!("expected Misconfigured, got {other:?}"),
    }
}

#[tokio::test]
async fn dynamodb_state_access_patterns_return_exactly_their_items() {
    let store = dynamo_store_in_new_table().await;
    let a = store.save(&position("A", "EURUSD", Some("S1"), at(1, 8, 0, 0))).await.unwrap();
    let b = store.save(&position("B", "EURUSD", Some("S2"), at(1, 23, 59, 59))).await.unwrap();
    let c = store.save(&position("C", "USDJPY", Some("S1"), at(2, 0, 0, 0))).await.unwrap();
    let e = store.save(&position("E", "EURUSDX", None, at(1, 9, 0, 0))).await.unwrap();
    let eurusd = Symbol::new("EURUSD").unwrap();

    // AP1: one GetItem by position and opening trade.
    assert_eq!(store.position_item("A", "T-A").await.unwrap(), Some(a.clone()));
    assert_eq!(store.position_item("A", "T-B").await.unwrap(), None, "the opening trade is part of the key");
    assert_eq!(store.position_item("Z", "T-Z").await.unwrap(), None);
    // AP2: GSI2, a symbol's open positions; EURUSDX is another symbol, not a prefix match.
    assert_eq!(store.positions_of_symbol(&eurusd, Some(PositionStatus::Open)).await.unwrap(), [a.clone(), b.clone()]);
    // GSI3: the open positions.
    assert_eq!(ids(&store.list_open(None).await.unwrap()), ["A", "E", "B", "C"]);
    assert_eq!(store.list_open(Some(eurusd.clone())).await.unwrap(), [a.clone(), b.clone()]);
    // AP4: GSI1, a strategy's positions; positions without a strategy are not indexed.
    assert_eq!(store.list_by_strategy("S1", None).await.unwrap(), [a.clone(), c.clone()]);
    assert_eq!(store.list_by_strategy("S2", Some(PositionStatus::Open)).await.unwrap(), std::slice::from_ref(&b));
    assert_eq!(store.list_by_strategy("", None).await.unwrap(), []);
    // AP5: GSI5, the UTC day of opening (23:59:59 and 00:00:00 fall on two days).
    let day = |d: u32| NaiveDate::from_ymd_opt(2025, 9, d).unwrap();
    assert_eq!(store.opened_on(day(1)).await.unwrap(), [a.clone(), e.clone(), b.clone()]);
    assert_eq!(store.opened_on(day(2)).await.unwrap(), std::slice::from_ref(&c));
    assert_eq!(store.opened_on(day(3)).await.unwrap(), []);

    // Closing A: out of GSI3 (sparse), in GSI2 as CLOSED, expiring 365 days after it closed.
    let mut closing = a.clone();
    let closed_at = at(5, 12, 30, 0);
    closing.close(d("1.2"), closed_at).unwrap();
    let closed = store.save(&closing).await.unwrap();
    assert_eq!(ids(&store.list_open(None).await.unwrap()), ["E", "B", "C"]);
    assert!(raw_gsi3(&store).await.iter().all(|sk| !sk.ends_with("#A")), "the closed position left GSI3");
    assert_eq!(raw_gsi3(&store).await.len(), 3);
    assert_eq!(store.positions_of_symbol(&eurusd, Some(PositionStatus::Open)).await.unwrap(), std::slice::from_ref(&b));
    assert_eq!(
        store.positions_of_symbol(&eurusd, Some(PositionStatus::Closed)).await.unwrap(),
        std::slice::from_ref(&closed)
    );
    assert_eq!(store.positions_of_symbol(&eurusd, None).await.unwrap(), [closed.clone(), b.clone()]);
    assert_eq!(
        store.list_by_strategy("S1", Some(PositionStatus::Closed)).await.unwrap(),
        std::slice::from_ref(&closed)
    );
    assert_eq!(store.opened_on(day(1)).await.unwrap(), [closed.clone(), e, b.clone()], "AP5 keeps closed ones");
    let item = raw_item(&store, "POSITION#A", "TRADE#T-A").await.expect("the closed position is kept");
    assert_eq!(ttl_of(&item), (closed_at + Days::days(365)).timestamp());
    assert_eq!(item["status"], AttributeValue::S("CLOSED".into()));
    let open = raw_item(&store, "POSITION#B", "TRADE#T-B").await.unwrap();
    assert!(!open.contains_key("ttl") && open.contains_key("gs3pk"), "open positions do not expire");
}

#[tokio::test]
async fn dynamodb_state_trades_expire_after_90_days_and_are_found_by_signal() {
    let store = dynamo_store_in_new_table().await;
    let mut order = market_order("sig-1", Side::Buy, d("1"), at(1, 8, 0, 0));
    let mut spec = order.spec().clone();
    spec.signal_id = Some("SIG-7".into());
    order = axia_domain::Order::received(spec, order.created_at());
    let mut o = store.create(&order).await.unwrap();
    o.transition(OrderStatus::Accepted, at(1, 8, 0, 1)).unwrap();
    let mut filled = store.update(&o).await.unwrap();
    filled.fill(d("1"), d("1.1"), at(1, 8, 0, 2)).unwrap();
    let trade = fill_of(&filled, "TR-1", "P-sig", d("1"), d("1.1"));
    let position =
        Position::open("P-sig", "TR-1", Symbol::new("EURUSD").unwrap(), Side::Buy, d("1"), d("1.1"), at(1, 8, 0, 2))
            .unwrap();
    store.record_execution(&filled, &trade, &position).await.unwrap();

    let expiry = (trade.executed_at() + Days::days(90)).timestamp();
    let item = raw_item(&store, "TRADE#TR-1", "METADATA").await.expect("the trade item");
    assert_eq!(ttl_of(&item), expiry);
    assert_eq!(item["gs4pk"], AttributeValue::S("SIGNAL#SIG-7".into()));
    let sk = format!("FILL#{}#TR-1", trade.executed_at().format("%Y-%m-%dT%H:%M:%S%.6fZ"));
    for pk in ["ORDER#sig-1", "POSITION#P-sig"] {
        assert_eq!(ttl_of(&raw_item(&store, pk, &sk).await.expect("fill link")), expiry, "{pk}");
    }
    assert_eq!(store.trades_of_signal("SIG-7").await.unwrap(), [trade]);
    assert_eq!(store.trades_of_signal("SIG-8").await.unwrap(), []);
}

#[tokio::test]
async fn dynamodb_state_queries_follow_every_page() {
    let store = dynamo_store_in_new_table().await.with_page_size(2);
    // 25 positions of one strategy and day; 11 orders in two statuses; 7 kill switch changes.
    let t0 = at(3, 10, 0, 0);
    for i in 0..25 {
        store.save(&position(&format!("P{i:02}"), "EURUSD", Some("S"), t0 + Days::seconds(i))).await.unwrap();
    }
    let want: Vec<String> = (0..25).map(|i| format!("P{i:02}")).collect();
    assert_eq!(ids(&store.list_by_strategy("S", None).await.unwrap()), want);
    assert_eq!(ids(&store.opened_on(t0.date_naive()).await.unwrap()), want);
    assert_eq!(store.list_open(None).await.unwrap().len(), 25);
    assert_eq!(store.positions_of_symbol(&Symbol::new("EURUSD").unwrap(), None).await.unwrap().len(), 25);

    for i in 0..11 {
        let created = store.create(&market_order(&format!("o-{i:02}"), Side::Buy, d("1"), t0 + Days::seconds(i))).await;
        if i % 2 == 0 {
            let mut o = created.unwrap();
            o.transition(OrderStatus::Accepted, t0 + Days::minutes(1)).unwrap();
            store.update(&o).await.unwrap();
        }
    }
    let listed: Vec<String> =
        store.list(None, 7).await.unwrap().iter().map(|o| o.client_order_id().to_string()).collect();
    assert_eq!(listed, ["o-10", "o-09", "o-08", "o-07", "o-06", "o-05", "o-04"], "newest first across statuses");
    assert_eq!(store.list(Some(OrderStatus::Accepted), 100).await.unwrap().len(), 6);
    assert_eq!(store.list(Some(OrderStatus::Received), 3).await.unwrap().len(), 3);

    let mut state = KillSwitchState::initial("ops", t0);
    let first = KillSwitchAudit {
        previous: TradingState::Halted,
        state: TradingState::Active,
        reason: state.reason.clone(),
        changed_by: "ops".into(),
        changed_at: t0,
        version: 1,
    };
    store.set(&state, &first, 0).await.unwrap();
    for i in 0..6 {
        let to = if i % 2 == 0 { TradingState::Halted } else { TradingState::Active };
        let (next, audit) = state.change(to, format!("change {i}"), "ops", t0 + Days::minutes(i)).unwrap();
        store.set(&next, &audit, state.version).await.unwrap();
        state = next;
    }
    let versions = |h: Vec<KillSwitchAudit>| h.iter().map(|a| a.version).collect::<Vec<_>>();
    assert_eq!(versions(store.history(5).await.unwrap()), [7, 6, 5, 4, 3]);
    assert_eq!(versions(store.history(100).await.unwrap()), [7, 6, 5, 4, 3, 2, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn dynamodb_state_concurrent_add_level_increments_stop_at_max_and_lose_none() {
    let store = dynamo_store_in_new_table().await;
    let mut p = position("P-add", "EURUSD", None, at(1, 8, 0, 0));
    p.add_position.max_levels = 5;
    store.save(&p).await.unwrap();

    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.increment_add_level("P-add").await })
        })
        .collect();
    let mut levels = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(p) => levels.push(p.add_position.level),
            Err(RepositoryError::Conflict { detail, .. }) => {
                assert!(detail.contains("at most 5"), "{detail}");
                refused += 1;
            }
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    levels.sort_unstable();
    assert_eq!((levels, refused), (vec![1, 2, 3, 4, 5], 7), "each increment applied once, none beyond the maximum");
    let stored = PositionRepository::get(&store, "P-add").await.unwrap().unwrap();
    assert_eq!((stored.add_position.level, stored.version), (5, 6), "level and version counted by ADD");

    // The counter's version takes part in optimistic locking: a save of the old copy loses.
    let stale = store.save(&Position { version: 1, ..p.clone() }).await;
    assert!(matches!(stale, Err(RepositoryError::Conflict { .. })), "{stale:?}");
    let mut closing = stored.clone();
    closing.close(d("1.2"), at(2, 0, 0, 0)).unwrap();
    store.save(&closing).await.unwrap();
    let closed = store.increment_add_level("P-add").await;
    assert!(
        matches!(&closed, Err(RepositoryError::Conflict { detail, .. }) if detail.contains("CLOSED")),
        "{closed:?}"
    );
    let missing = store.increment_add_level("nope").await;
    assert!(matches!(missing, Err(RepositoryError::NotFound { .. })), "{missing:?}");
}

#[tokio::test]
async fn dynamodb_state_corrupt_items_read_as_corrupt_and_halt_trading() {
    let store = dynamo_store_in_new_table().await;
    let put = |pk: &str, sk: &str, doc: &str| {
        raw_client()
            .put_item()
            .table_name(store.table())
            .item("pk", AttributeValue::S(pk.into()))
            .item("sk", AttributeValue::S(sk.into()))
            .item("item_type", AttributeValue::S("Order".into()))
            .item("version", AttributeValue::N("1".into()))
            .item("doc", AttributeValue::S(doc.into()))
            .send()
    };
    put("GLOBALCONFIG", "SETTING#KILL_SWITCH", "{garbage").await.unwrap();
    let err = KillSwitchRepository::get(&store).await.unwrap_err();
    assert!(matches!(err, RepositoryError::Corrupt { .. }), "{err:?}");
    assert_eq!(state_contract::effective_state(&store).await.state, TradingState::Halted);
    put("ORDER#bad", "METADATA", r#"{"not":"an order"}"#).await.unwrap();
    let err = OrderRepository::get(&store, &axia_domain::ClientOrderId::new("bad").unwrap()).await.unwrap_err();
    assert!(matches!(err, RepositoryError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn dynamodb_state_missing_table_is_misconfigured_and_names_axia_init() {
    let name = new_table_name();
    let store = DynamoStateStore::new(dynamo_settings(&name)).await.unwrap();
    let errors = [
        KillSwitchRepository::get(&store).await.unwrap_err(),
        store.history(3).await.unwrap_err(),
        PositionRepository::get(&store, "P1").await.unwrap_err(),
        store.save(&position("P1", "EURUSD", None, at(1, 0, 0, 0))).await.unwrap_err(),
        store.list(None, 3).await.unwrap_err(),
    ];
    for err in errors {
        match &err {
            RepositoryError::Misconfigured { detail, .. } => {
                assert!(detail.contains(&name) && detail.contains("axia init"), "{detail}");
            }
            other => panic!("expected Misconfigured, got {other:?}"),
        }
        assert!(!err.is_retryable());
    }
    assert_eq!(state_contract::effective_state(&store).await.state, TradingState::Halted);
}

#[tokio::test]
async fn dynamodb_state_unreachable_endpoint_is_unavailable() {
    let settings = DynamoSettings {
        endpoint_url: Some("http://127.0.0.1:1".into()),
        connect_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_secs(5),
        max_attempts: 1,
        ..dynamo_settings("axia-unreachable")
    };
    let store = DynamoStateStore::new(settings).await.unwrap();
    let err = KillSwitchRepository::get(&store).await.unwrap_err();
    match &err {
        RepositoryError::Unavailable { detail, .. } => assert!(detail.contains("127.0.0.1:1"), "{detail}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(err.is_retryable());
    let err = store.ensure_table().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn dynamodb_state_a_refused_execution_writes_no_item_and_names_what_failed() {
    let store = dynamo_store_in_new_table().await;
    let mut o = store.create(&market_order("ex-1", Side::Buy, d("1"), at(1, 8, 0, 0))).await.unwrap();
    o.transition(OrderStatus::Accepted, at(1, 8, 0, 1)).unwrap();
    let accepted = store.update(&o).await.unwrap();
    let mut filled = accepted.clone();
    filled.fill(d("1"), d("1.1"), at(1, 8, 0, 2)).unwrap();
    let trade = fill_of(&filled, "TR-x", "P-x", d("1"), d("1.1"));
    // The position is the last item of the transaction: a stale version of a missing position.
    let ghost = Position {
        version: 4,
        ..Position::open("P-x", "TR-x", Symbol::new("EURUSD").unwrap(), Side::Buy, d("1"), d("1.1"), at(1, 8, 0, 2))
            .unwrap()
    };
    match store.record_execution(&filled, &trade, &ghost).await {
        Err(RepositoryError::Conflict { what, detail }) => {
            assert_eq!(what, "position P-x");
            assert!(detail.contains("expected version 4"), "{detail}");
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    let sk = format!("FILL#{}#TR-x", trade.executed_at().format("%Y-%m-%dT%H:%M:%S%.6fZ"));
    assert!(raw_item(&store, "TRADE#TR-x", "METADATA").await.is_none(), "no trade");
    assert!(raw_item(&store, "ORDER#ex-1", &sk).await.is_none(), "no link under the order");
    assert!(raw_item(&store, "POSITION#P-x", &sk).await.is_none(), "no link under the position");
    assert_eq!(OrderRepository::get(&store, accepted.client_order_id()).await.unwrap(), Some(accepted.clone()));

    // A second execution of the executed order names the order.
    let position = Position { version: 0, ..ghost };
    store.record_execution(&filled, &trade, &position).await.unwrap();
    let again = fill_of(&filled, "TR-y", "P-x", d("1"), d("1.1"));
    match store.record_execution(&filled, &again, &Position { version: 1, ..position }).await {
        Err(RepositoryError::Conflict { what, detail }) => {
            assert_eq!(what, "order ex-1");
            assert!(detail.contains("expected version 2, stored version 3"), "{detail}");
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(raw_item(&store, "TRADE#TR-y", "METADATA").await.is_none(), "no second trade");
}
