//! The bar contract against the in-process tiers.

use axia_adapters::memory::{InMemoryOhlcvRepository, MemoryOhlcvRepository, MemoryTierConfig};

#[tokio::test]
async fn in_memory_fake_passes_the_contract() {
    axia_tests::ohlcv_contract::run(&InMemoryOhlcvRepository::new()).await;
}

#[tokio::test]
async fn memory_tier_passes_the_contract() {
    axia_tests::ohlcv_contract::run(&MemoryOhlcvRepository::new(MemoryTierConfig::default())).await;
}
