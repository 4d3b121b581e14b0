//! axia use cases: the OHLCV collector and the data maintenance operations. They talk to the
//! outside world only through the ports of `axia-domain`, held as `Arc<dyn Port>`.

pub mod collect;
pub mod data;

pub use collect::{CollectConfig, CollectOhlcvData, CollectReport, CollectRequest, TaskOutcome, TaskResult};
pub use data::{DataError, DataService, SeriesSummary, TierRead};
