//! The SQLite state store against the state contract suites (a file in a temporary directory,
//! and in memory), and under concurrent writers: optimistic locking loses no update, and an
//! order executes at most once.

use std::sync::Arc;

use axia_adapters::sqlite::SqliteStateStore;
use axia_domain::ports::PositionRepository;
use axia_domain::{Position, Side, Symbol};
use axia_tests::state_contract;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sqlite_state_fifty_concurrent_saves_lose_no_update_in_memory() {
    let store = SqliteStateStore::open_in_memory().await.unwrap();
    let store = Arc::new(store);
    state_contract::fifty_concurrent_saves([Arc::clone(&store), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sqlite_state_fifty_concurrent_saves_lose_no_update_across_two_connections() {
    // Two stores on one file: two connections, so SQLite's own locking (WAL, busy timeout,
    // BEGIN IMMEDIATE) is what keeps the read-check-write of each save atomic.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let a = SqliteStateStore::open(&path).await.unwrap();
    let b = SqliteStateStore::open(&path).await.unwrap();
    state_contract::fifty_concurrent_saves([Arc::new(a), Arc::new(b)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_state_racing_executions_of_one_order_one_wins_in_memory() {
    let store = SqliteStateStore::open_in_memory().await.unwrap();
    let store = Arc::new(store);
    state_contract::racing_executions([Arc::clone(&store), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_state_racing_executions_of_one_order_one_wins_across_two_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let a = SqliteStateStore::open(&path).await.unwrap();
    let b = SqliteStateStore::open(&path).await.unwrap();
    state_contract::racing_executions([Arc::new(a), Arc::new(b)]).await;
}
