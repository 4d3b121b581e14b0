//! The SQLite state store against the state contract suites (a file in a temporary directory,
//! and in memory), and under concurrent writers: optimistic locking loses no update, and an
//! order executes at most once.

use std::sync::Arc;

use axia_adapters::sqlite::SqliteStateStore;
use axia_domain::ports::{OrderRepository, PositionRepository, RepositoryError, TradeRepository};
use axia_domain::{ClientOrderId, OrderStatus, Position, Side, Symbol};
use axia_tests::state_contract::{self, fill_of, market_order};
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use tempfile::TempDir;

/// Where a store lives: a file (kept alive by its directory) or memory.
#[derive(Debug, Clone, Copy)]
enum Kind {
    File,
    Memory,
}

async fn store(kind: Kind) -> (SqliteStateStore, Option<TempDir>) {
    match kind {
        Kind::File => {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = SqliteStateStore::open(dir.path().join("state.db")).await.expect("open file store");
            (store, Some(dir))
        }
        Kind::Memory => (SqliteStateStore::open_in_memory().await.expect("open in-memory store"), None),
    }
}

fn d(s: &str) -> Decimal {
    s.parse().expect("decimal literal")
}

#[tokio::test]
async fn sqlite_state_kill_switch_contract() {
    for kind in [Kind::File, Kind::Memory] {
        let (store, _dir) = store(kind).await;
        state_contract::kill_switch(&store).await;
    }
}

#[tokio::test]
async fn sqlite_state_positions_contract() {
    for kind in [Kind::File, Kind::Memory] {
        let (store, _dir) = store(kind).await;
        state_contract::positions(&store).await;
        // The suite uses fresh ids, so it can run twice on one store.
        state_contract::positions(&store).await;
    }
}

#[tokio::test]
async fn sqlite_state_orders_contract() {
    for kind in [Kind::File, Kind::Memory] {
        let (store, _dir) = store(kind).await;
        state_contract::orders(&store).await;
        state_contract::orders(&store).await;
    }
}

#[tokio::test]
async fn sqlite_state_trades_contract() {
    for kind in [Kind::File, Kind::Memory] {
        let (store, _dir) = store(kind).await;
        state_contract::trades(&store, &store).await;
    }
}

#[tokio::test]
async fn sqlite_state_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let first = SqliteStateStore::open(&path).await.unwrap();
    let at = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    let p = Position::open("P1", "T1", Symbol::new("EURUSD").unwrap(), Side::Buy, d("1"), d("1.1"), at).unwrap();
    let saved = first.save(&p).await.unwrap();
    drop(first);
    let second = SqliteStateStore::open(&path).await.unwrap();
    assert_eq!(PositionRepository::get(&second, "P1").await.unwrap(), Some(saved));
}

/// Reads, adds 1 to the size and saves until the save wins; returns the number of conflicts.
async fn increment(repo: Arc<dyn PositionRepository>, id: &str) -> usize {
    let mut conflicts = 0;
    loop {
        let mut p = repo.get(id).await.expect("get").expect("position exists");
        p.size += Decimal::ONE;
        match repo.save(&p).await {
            Ok(_) => return conflicts,
            Err(RepositoryError::Conflict { .. }) => conflicts += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
        tokio::task::yield_now().await;
    }
}

async fn fifty_increments(handles: [SqliteStateStore; 2]) {
    let at = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    let p = Position::open("P1", "T1", Symbol::new("EURUSD").unwrap(), Side::Buy, d("1"), d("1.1"), at).unwrap();
    handles[0].save(&p).await.expect("create");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let repo: Arc<dyn PositionRepository> = Arc::new(handles[i % 2].clone());
            tokio::spawn(async move { increment(repo, "P1").await })
        })
        .collect();
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.expect("task");
    }
    let last = PositionRepository::get(&handles[1], "P1").await.unwrap().unwrap();
    assert_eq!(last.size, d("51"), "every increment survives ({conflicts} conflicts retried)");
    assert_eq!(last.version, 51, "one version per successful save");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sqlite_state_fifty_concurrent_saves_lose_no_update_in_memory() {
    let store = SqliteStateStore::open_in_memory().await.unwrap();
    fifty_increments([store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sqlite_state_fifty_concurrent_saves_lose_no_update_across_two_connections() {
    // Two stores on one file: two connections, so SQLite's own locking (WAL, busy timeout,
    // BEGIN IMMEDIATE) is what keeps the read-check-write of each save atomic.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let a = SqliteStateStore::open(&path).await.unwrap();
    let b = SqliteStateStore::open(&path).await.unwrap();
    fifty_increments([a, b]).await;
}

async fn racing_executions(handles: [SqliteStateStore; 2]) {
    let created = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    let order = market_order("race-1", Side::Buy, d("1"), created);
    let mut o = handles[0].create(&order).await.unwrap();
    o.transition(OrderStatus::Accepted, created).unwrap();
    let accepted = handles[0].update(&o).await.unwrap();
    let mut filled = accepted.clone();
    filled.fill(d("1"), d("1.1"), created).unwrap();
    let position =
        Position::open("P-race", "T-a", Symbol::new("EURUSD").unwrap(), Side::Buy, d("1"), d("1.1"), created).unwrap();

    let tasks: Vec<_> = ["T-a", "T-b"]
        .into_iter()
        .zip(handles.iter().cloned())
        .map(|(trade_id, repo)| {
            let (filled, position) = (filled.clone(), position.clone());
            tokio::spawn(async move {
                let trade = fill_of(&filled, trade_id, "P-race", d("1"), d("1.1"));
                repo.record_execution(&filled, &trade, &position).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    let wins = outcomes.iter().filter(|r| r.is_ok()).count();
    let conflicts = outcomes.iter().filter(|r| matches!(r, Err(RepositoryError::Conflict { .. }))).count();
    assert_eq!((wins, conflicts), (1, 1), "exactly one execution wins: {outcomes:?}");

    let id = ClientOrderId::new("race-1").unwrap();
    let stored = OrderRepository::get(&handles[1], &id).await.unwrap().unwrap();
    assert_eq!((stored.status(), stored.version()), (OrderStatus::Filled, 3));
    assert_eq!(handles[1].for_order(&id).await.unwrap().len(), 1, "one trade");
    assert_eq!(PositionRepository::get(&handles[1], "P-race").await.unwrap().unwrap().version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_state_racing_executions_of_one_order_one_wins_in_memory() {
    let store = SqliteStateStore::open_in_memory().await.unwrap();
    racing_executions([store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_state_racing_executions_of_one_order_one_wins_across_two_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let a = SqliteStateStore::open(&path).await.unwrap();
    let b = SqliteStateStore::open(&path).await.unwrap();
    racing_executions([a, b]).await;
}
