//! The in-memory fake of the trading-state ports against the same contract suites and
//! concurrency scenarios as the SQLite and DynamoDB stores.

use std::sync::Arc;

use axia_adapters::memory::InMemoryStateStore;
use axia_tests::state_contract;

#[tokio::test]
async fn memory_state_kill_switch_contract() {
    state_contract::kill_switch(&InMemoryStateStore::new()).await;
}

#[tokio::test]
async fn memory_state_positions_contract() {
    let store = InMemoryStateStore::new();
    state_contract::positions(&store).await;
    state_contract::positions(&store).await;
}

#[tokio::test]
async fn memory_state_orders_and_trades_contract() {
    let store = InMemoryStateStore::new();
    state_contract::orders(&store).await;
    state_contract::orders(&store).await;
    state_contract::trades(&store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn memory_state_fifty_concurrent_saves_lose_no_update() {
    let store = Arc::new(InMemoryStateStore::new());
    state_contract::fifty_concurrent_saves([Arc::clone(&store), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_state_racing_executions_of_one_order_one_wins() {
    let store = Arc::new(InMemoryStateStore::new());
    state_contract::racing_executions([Arc::clone(&store), store]).await;
}
