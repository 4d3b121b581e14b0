//! The ports: what the application needs from the outside world, as `#[async_trait]` traits
//! held behind `Arc<dyn …>` (ADR 0001). Each method documents its error contract.
//!
//! With the `mocks` feature (or under `cfg(test)`) every port has a mockall mock named
//! `Mock<Port>`.

pub mod broker;
pub mod errors;
pub mod events;
pub mod object_store;
pub mod ohlcv;
pub mod queue;
pub mod source;
pub mod state;

pub use broker::{BrokerGateway, Execution};
pub use errors::{BrokerError, ObjectStoreError, PublishError, QueueError, RepositoryError, SourceError};
pub use events::EventPublisher;
pub use object_store::{ObjectMeta, ObjectStore, PutMode};
pub use ohlcv::{Coverage, OhlcvDataRepository, OhlcvDataRepositoryExt, WriteSummary, absent_bars};
pub use queue::{OrderQueue, QueueMessage};
pub use source::MarketDataSource;
pub use state::{KillSwitchRepository, OrderRepository, PositionRepository, TradeRepository};

#[cfg(any(test, feature = "mocks"))]
pub use {
    broker::MockBrokerGateway,
    events::MockEventPublisher,
    object_store::MockObjectStore,
    ohlcv::MockOhlcvDataRepository,
    queue::MockOrderQueue,
    source::MockMarketDataSource,
    state::{MockKillSwitchRepository, MockOrderRepository, MockPositionRepository, MockTradeRepository},
};
